import Foundation

/// The only files the server hands out: regular files whose real path (symlinks resolved)
/// lies under one of the indexed roots. A catalog path replaced since by a symlink to
/// elsewhere, or a root's symlink pointing outside it, is refused. Clients never send paths;
/// they name images by id.
struct ServedFiles: Sendable {
    /// The roots' real paths, each ending with "/".
    let roots: [String]

    init(roots: [String]) {
        self.roots = roots.compactMap(Self.realPath).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    }

    /// The first of `paths` that is a regular file under a root, as its real path.
    func readablePath(among paths: [String]) throws -> String {
        for path in paths {
            guard let real = Self.realPath(path), roots.contains(where: { real.hasPrefix($0) }) else { continue }
            var info = stat()
            if stat(real, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG { return real }
        }
        throw LibraryError(.forbidden, "no file of this image is a regular file under an indexed folder")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
