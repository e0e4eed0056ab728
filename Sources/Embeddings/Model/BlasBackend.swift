import Foundation

/// The BLAS library libtorch resolved at run time. On Debian, `libblas.so.3` is an
/// alternative: with `libopenblas0-openmp` installed it is OpenBLAS, otherwise the
/// reference BLAS, which makes a ViT-g forward about 20 times slower (230 s instead of 10 s
/// on 2 cores). It cannot be read from libtorch, so it is read from the process's mappings.
public enum BlasBackend: Equatable, Sendable {
    case optimized(path: String)
    case reference(path: String)
    case unknown

    /// Inspects `/proc/self/maps` for the BLAS shared objects mapped into this process.
    public static func current(mapsPath: String = "/proc/self/maps") -> BlasBackend {
        // procfs files report size 0, so read them to the end rather than by their size.
        guard let handle = FileHandle(forReadingAtPath: mapsPath) else { return .unknown }
        defer { try? handle.close() }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var fastLibrary: String?
        for line in maps.split(separator: "\n") {
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last,
                  path.hasPrefix("/")
            else { continue }
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            // libblas.so.3 is what libtorch calls; its resolved directory names the provider.
            if name.hasPrefix("libblas.so") {
                return path.contains("/blas/") ? .reference(path: String(path)) : .optimized(path: String(path))
            }
            let lowered = name.lowercased()
            if lowered.contains("openblas") || lowered.contains("mkl") || lowered.contains("blis") {
                fastLibrary = String(path)
            }
        }
        return fastLibrary.map { .optimized(path: $0) } ?? .unknown
    }

    /// A warning for the user when the slow reference BLAS is in use, else nil.
    public var warning: String? {
        guard case .reference(let path) = self else { return nil }
        return "libtorch is using the reference BLAS (\(path)): CPU embedding will be about 20x slower. "
            + "Install libopenblas0-openmp (scripts/bootstrap does) or select it with update-alternatives."
    }
}
