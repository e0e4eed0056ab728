import Embeddings
import Foundation
import GRDB
import Store
import TestSupport
import Testing
@testable import Indexer

/// An index pass reads each new content's metadata once, and fills it in for a catalog that
/// has none (made before metadata existed) without embedding anything again.
@Suite struct MetadataIndexTests {
    @Test func aPassReadsMetadataOnceAndFillsOlderCatalogsWithoutReembedding() throws {
        let (directory, photos) = try Fixtures.photoFolder(copying: ["metadata/exif.jpg", "metadata/exif.heic", "metadata/bad-exif.jpg"])
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("metadata/exif.jpg"),
                                         to: photos.appendingPathComponent("copy.jpg"))  // same content: one row
        let model = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu", parts: .image))
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        let run = IndexRun(catalog: catalog, model: model,
                           modelRecord: ModelRecord(id: identity.id, description: "tiny-a", queryCount: model.config.queryTokenCount,
                                                    dimension: model.config.embeddingDimension),
                           batchSize: 4)
        let crawler = Crawler(roots: [photos.path])

        let first = try run.run(crawler)
        #expect(first.embedded + first.reused == 4 && first.described == 3)
        let hashes = try catalog.files(inRoots: [photos.path]).compactMap(\.contentHash)
        let stored = try catalog.metadata(ofContents: hashes)
        #expect(stored.count == 3)
        let jpeg = try #require(try catalog.metadata(ofPaths: [photos.appendingPathComponent("copy.jpg").path]).values.first)
        #expect(jpeg.takenAt == "2023-07-14 18:30:05" && jpeg.takenAtSource == .exif && jpeg.camera == "Canon EOS R6")
        #expect(jpeg.format == "JPEG" && jpeg.width == 451 && jpeg.height == 300 && jpeg.utcOffset == "+02:00")
        let malformed = try #require(try catalog.metadata(ofPaths: [photos.appendingPathComponent("bad-exif.jpg").path]).values.first)
        #expect(malformed.takenAtSource == .mtime && malformed.camera == nil)

        #expect(try run.run(crawler).described == 0)  // read once
        #expect(stored.values.allSatisfy { $0.perceptualSignature != nil })

        // A catalog from before signatures: the next pass reads them, and only them.
        let older = try DatabaseQueue(path: catalog.path)
        try older.write { db in try db.execute(sql: "UPDATE metadata SET signature = NULL") }
        try older.close()
        #expect(try run.run(crawler).described == 3)
        #expect(try catalog.metadata(ofContents: hashes) == stored)

        // A catalog from before metadata: the next pass reads it, embedding nothing.
        let queue = try DatabaseQueue(path: catalog.path)
        try queue.write { db in try db.execute(sql: "DELETE FROM metadata") }
        try queue.close()
        let again = try run.run(crawler)
        #expect(again.embedded == 0 && again.unchanged == 4 && again.described == 3)
        #expect(try catalog.metadata(ofContents: hashes) == stored)
        #expect(try catalog.metadataSummary().cameras == ["Canon EOS R6": 1, "Apple iPhone 15": 1])  // per content

        // A file that no longer reads as an image (changed since it was indexed) is dated by
        // its file and marked "unknown", once: it is not read again on every pass.
        let heic = photos.appendingPathComponent("exif.heic").path
        let heicHash = try #require(try catalog.file(path: heic)?.contentHash)
        try Data().write(to: URL(fileURLWithPath: heic))
        let emptied = try DatabaseQueue(path: catalog.path)
        try emptied.write { db in try db.execute(sql: "DELETE FROM metadata WHERE contentHash = ?", arguments: [heicHash]) }
        try emptied.close()
        #expect(try MetadataFill.run(on: catalog, batchSize: 1, shouldStop: { false }) == 1)
        let unknown = try #require(try catalog.metadata(ofContents: [heicHash])[heicHash])
        #expect(unknown.format == "unknown" && unknown.takenAtSource == .mtime && unknown.camera == nil)
        #expect(unknown.signature == Data() && unknown.perceptualSignature == nil)  // none, and not read again
        #expect(try MetadataFill.run(on: catalog, shouldStop: { false }) == 0)
    }
}
