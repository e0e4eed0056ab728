import Foundation
import GRDB
import TestSupport
import Testing
@testable import Store

@Suite struct CatalogTests {
    let model = ModelRecord(id: "model-a", description: "test", queryCount: 2, dimension: 3)

    func withCatalog(_ body: (Catalog, URL) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite")
        try body(try Catalog(path: path.path), path)
    }

    func file(_ path: String, hash: String?, inode: Int64 = 1, state: FileState = .indexed) -> CatalogFile {
        CatalogFile(root: "/photos", path: path, device: 1, inode: inode, size: 10, modifiedNanoseconds: 5,
                    contentHash: hash, state: state)
    }

    @Test func emptyDatabaseIsMigratedToTheCurrentSchema() throws {
        try withCatalog { (catalog, _) throws in
            #expect(try catalog.appliedMigrations() == CatalogSchema.knownVersions)
            #expect(try catalog.integrityCheck() == ["ok"])
            #expect(try catalog.status().filesByState.isEmpty)
        }
    }

    @Test func reopeningKeepsEverything() throws {
        try withCatalog { (catalog, path) throws in
            _ = try catalog.write { tx in
                try tx.register(model)
                try tx.storeImage(StoredImage(contentHash: "h1", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                try tx.upsert(file("/photos/a.jpg", hash: "h1"))
            }
            let reopened = try Catalog(path: path.path)
            #expect(try reopened.appliedMigrations() == CatalogSchema.knownVersions)
            #expect(try reopened.file(path: "/photos/a.jpg")?.contentHash == "h1")
            #expect(try reopened.imageCount(modelId: model.id) == 1)
        }
    }

    @Test func catalogOfANewerVersionIsRefused() throws {
        try withCatalog { (_, path) throws in
            let queue = try DatabaseQueue(path: path.path)
            try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99: from the future')") }
            try queue.close()
            #expect {
                _ = try Catalog(path: path.path)
            } throws: { error in
                "\(error)".contains("written by a newer imgsearch")
            }
        }
    }

    @Test func identicalContentIsEmbeddedOnceAndServesEveryCopy() throws {
        try withCatalog { (catalog, _) throws in
            let ids = try catalog.write { tx -> [Int64?] in
                try tx.register(model)
                let first = try tx.storeImage(StoredImage(contentHash: "same", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                let second = try tx.storeImage(StoredImage(contentHash: "same", modelId: model.id, vectors: [9, 9, 9, 9, 9, 9]))
                try tx.upsert(file("/photos/a.jpg", hash: "same", inode: 1))
                try tx.upsert(file("/photos/copy/a.jpg", hash: "same", inode: 2))
                return [first.id, second.id]
            }
            #expect(ids[0] != nil && ids[0] == ids[1])
            #expect(try catalog.imageCount(modelId: model.id) == 1)
            #expect(try catalog.image(id: ids[0]!)?.floats == [1, 0, 0, 0, 1, 0])
            #expect(try catalog.paths(ofImages: [ids[0]!]) == [ids[0]!: ["/photos/a.jpg", "/photos/copy/a.jpg"]])
        }
    }

    @Test func embeddingsOfDifferentModelsNeverMix() throws {
        try withCatalog { (catalog, _) throws in
            let other = ModelRecord(id: "model-b", description: "other", queryCount: 2, dimension: 3)
            _ = try catalog.write { tx in
                try tx.register(model)
                try tx.register(other)
                try tx.storeImage(StoredImage(contentHash: "h", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                try tx.storeImage(StoredImage(contentHash: "h", modelId: other.id, vectors: [0, 0, 1, 0, 0, 1]))
            }
            var seen: [Data] = []
            try catalog.forEachImage(modelId: other.id) { _, vectors in seen.append(vectors) }
            #expect(seen.count == 1)
            #expect(StoredImage(contentHash: "h", modelId: other.id, vectors: [0, 0, 1, 0, 0, 1]).vectors == seen[0])
        }
    }

    @Test func removedFilesLeaveOrphanImagesToDrop() throws {
        try withCatalog { (catalog, _) throws in
            _ = try catalog.write { tx in
                try tx.register(model)
                try tx.storeImage(StoredImage(contentHash: "keep", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                try tx.storeImage(StoredImage(contentHash: "gone", modelId: model.id, vectors: [0, 1, 0, 0, 1, 0]))
                try tx.upsert(file("/photos/keep.jpg", hash: "keep", inode: 1))
                try tx.upsert(file("/photos/gone.jpg", hash: "gone", inode: 2))
            }
            let gone = try catalog.write { tx -> [Int64] in
                #expect(try tx.removeFiles(paths: ["/photos/gone.jpg"]) == 1)
                return try tx.removeOrphanImages()
            }
            #expect(gone.count == 1)
            #expect(try catalog.imageCount(modelId: model.id) == 1)
        }
    }

    @Test func failedFilesAreCountedWithTheirReason() throws {
        try withCatalog { (catalog, _) throws in
            _ = try catalog.write { tx in
                var broken = file("/photos/broken.jpg", hash: nil, state: .failed)
                broken.lastError = "truncated JPEG (premature end of file)"
                try tx.upsert(broken)
                try tx.upsert(file("/photos/new.jpg", hash: nil, inode: 2, state: .pending))
            }
            let status = try catalog.status()
            #expect(status.filesByState == [.failed: 1, .pending: 1])
            #expect(status.recentFailures.map(\.lastError) == ["truncated JPEG (premature end of file)"])
        }
    }

    @Test func readersSeeCommittedStateWhileAWriterWrites() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let writer = try Catalog(path: path)
        let reader = try Catalog(path: path)
        let model = self.model
        try writer.write { tx in try tx.register(model) }
        async let writes: Void = {
            for n in 0..<200 {
                _ = try writer.write { tx in
                    try tx.storeImage(StoredImage(contentHash: "h\(n)", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                }
            }
        }()
        var observed: [Int] = []
        for _ in 0..<200 { observed.append(try reader.imageCount(modelId: model.id)) }
        try await writes
        #expect(observed == observed.sorted(), "a reader saw the count go backwards")
        #expect(try reader.imageCount(modelId: model.id) == 200)
    }
}
