import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// The reference-BLAS warning is decided by which `libblas.so.3` the process mapped.
@Suite struct BlasBackendTests {
    func backend(forMaps lines: [String]) throws -> BlasBackend {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let maps = directory.appendingPathComponent("maps")
        try lines.joined(separator: "\n").write(to: maps, atomically: true, encoding: .utf8)
        return BlasBackend.current(mapsPath: maps.path)
    }

    @Test func debianReferenceBlasIsFlagged() throws {
        let path = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"
        let found = try backend(forMaps: [
            "7f0000000000-7f0000001000 r-xp 00000000 fe:01 123 /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13",
            "7f0000002000-7f0000003000 r-xp 00000000 fe:01 124 \(path)",
        ])
        #expect(found == .reference(path: path))
        #expect(found.warning?.contains("libopenblas0-openmp") == true)
    }

    @Test func openBlasIsNotFlagged() throws {
        let found = try backend(forMaps: [
            "7f0000002000-7f0000003000 r-xp 00000000 fe:01 124 /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
        ])
        #expect(found == .optimized(path: "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"))
        #expect(found.warning == nil)
    }

    @Test func thisProcessHasTheBlasTheBootstrapInstalls() {
        // scripts/bootstrap installs libopenblas0-openmp, and libtorch is linked into the tests.
        if case .optimized = BlasBackend.current() { return }
        Issue.record("expected OpenBLAS, found \(BlasBackend.current())")
    }
}
