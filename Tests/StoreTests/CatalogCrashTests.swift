import Foundation
import TestSupport
import Testing
@testable import Store

/// A writer process killed with SIGKILL in the middle of its transactions leaves a catalog
/// that opens, passes `PRAGMA integrity_check`, and holds every batch it reported committed,
/// and no partial batch.
@Suite struct CatalogCrashTests {
    @Test func killNineMidBatchLosesNothingCommitted() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let batchSize = 25

        for round in 0..<3 {
            let writer = Process()
            writer.executableURL = CommandRunner.productsDirectory.appendingPathComponent("CatalogWriterFixture")
            writer.arguments = [path, String(batchSize)]
            let output = Pipe()
            writer.standardOutput = output
            try writer.run()
            // Let it commit a few batches (a different number each round), then kill it mid-write.
            var reported = ""
            let handle = output.fileHandleForReading
            while reported.components(separatedBy: "committed").count - 1 < 2 + round {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                reported += String(decoding: chunk, as: UTF8.self)
            }
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            reported += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            #expect(writer.terminationReason == .uncaughtSignal)

            let committedBatches = reported.split(separator: "\n").filter { $0.hasPrefix("committed") }.count
            let catalog = try Catalog(path: path)
            #expect(try catalog.integrityCheck() == ["ok"])
            let images = try catalog.imageCount(modelId: "crash-test-model")
            let files = try catalog.status().filesByState[.indexed] ?? 0
            #expect(images % batchSize == 0, "a partial batch survived: \(images) images")
            #expect(files == images)
            // Each round resumes numbering at batch 0 (upserts), so the total is at least the
            // largest round's committed batches.
            #expect(images >= committedBatches * batchSize, "committed \(committedBatches) batches, found \(images) images")
        }
    }
}
