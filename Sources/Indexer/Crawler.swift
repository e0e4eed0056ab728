import Foundation

/// A regular file found under an indexed root, with what change detection compares.
public struct FoundFile: Sendable, Equatable {
    public let root: String
    public let path: String
    public let device: Int64
    public let inode: Int64
    public let size: Int64
    public let modifiedNanoseconds: Int64
}

/// Walks the indexed roots: recursive, never follows a symbolic link (so no loops, and
/// nothing outside the roots), skips hidden entries unless asked and paths matching an
/// exclude glob, and reports folders it cannot read instead of stopping.
public struct Crawler: Sendable {
    public let roots: [String]
    /// fnmatch(3) patterns matched against the full path and the file name, e.g. "*/.thumbnails/*", "*.tmp".
    public var excludes: [String]
    public var includeHidden: Bool

    public init(roots: [String], excludes: [String] = [], includeHidden: Bool = false) {
        self.roots = roots.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        self.excludes = excludes
        self.includeHidden = includeHidden
    }

    /// A path the crawl could not read, and why.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// What one crawl found.
    public struct Crawl: Sendable {
        /// Every regular file under the roots (not yet checked for image content).
        public var files: [FoundFile] = []
        /// Paths that could not be read, roots among them.
        public var problems: [Problem] = []
        /// The file system (`st_dev`) of each root that could be read.
        public var rootDevices: [String: Int64] = [:]
    }

    public func scan() -> Crawl {
        var crawl = Crawl()
        for root in roots {
            var info = stat()
            guard lstat(root, &info) == 0 else {
                crawl.problems.append(Problem(path: root, reason: String(cString: strerror(errno))))
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                crawl.problems.append(Problem(path: root, reason: "not a folder"))
                continue
            }
            crawl.rootDevices[root] = Int64(info.st_dev)
            walk(root, root: root, into: &crawl.files, problems: &crawl.problems)
        }
        return crawl
    }

    private func walk(_ directory: String, root: String, into files: inout [FoundFile], problems: inout [Problem]) {
        guard let stream = opendir(directory) else {
            problems.append(Problem(path: directory, reason: String(cString: strerror(errno))))
            return
        }
        defer { closedir(stream) }
        var entries: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            guard let text = String(validating: name, as: UTF8.self) else {
                problems.append(Problem(path: directory + "/" + String(decoding: name, as: UTF8.self),
                                        reason: "the file name is not valid UTF-8; rename it to index it"))
                continue
            }
            if text == "." || text == ".." { continue }
            if !includeHidden && text.hasPrefix(".") { continue }
            entries.append(text)
        }
        for name in entries.sorted() {
            let path = directory == "/" ? "/" + name : directory + "/" + name
            if isExcluded(path: path, name: name) { continue }
            var info = stat()
            guard lstat(path, &info) == 0 else {
                problems.append(Problem(path: path, reason: String(cString: strerror(errno))))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                walk(path, root: root, into: &files, problems: &problems)
            case S_IFREG:
                files.append(FoundFile(root: root, path: path, device: Int64(info.st_dev), inode: Int64(info.st_ino),
                                       size: Int64(info.st_size),
                                       modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
            default:
                continue  // symbolic links, sockets, devices
            }
        }
    }

    private func isExcluded(path: String, name: String) -> Bool {
        excludes.contains { pattern in fnmatch(pattern, path, 0) == 0 || fnmatch(pattern, name, 0) == 0 }
    }
}
