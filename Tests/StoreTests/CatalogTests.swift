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
            let error = #expect(throws: CatalogError.self) { try Catalog(path: path.path) }
            #expect(error?.kind == .newerSchema && "\(error!)".contains("written by a newer imgsearch"))
        }
    }

    /// The database error behind a failure is kept, with its SQLite code, under a one-line
    /// message naming the file.
    @Test func aFileThatIsNoDatabaseKeepsSQLitesReason() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("notes.sqlite").path
        try Data(String(repeating: "not a database\n", count: 100).utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: CatalogError.self) { try Catalog(path: path) }
        #expect(error?.kind == .open && error?.sqliteCode == ResultCode.SQLITE_NOTADB.rawValue)
        #expect(error?.cause is DatabaseError)
        #expect("\(error!)".hasPrefix("\(path): cannot open the catalog: ") && !"\(error!)".contains("\n"))
    }

    /// Stored vectors of the wrong size are a damaged catalog, named with the image, never
    /// floats made up from what is there.
    @Test func storedVectorsOfTheWrongSizeAreRefused() throws {
        #expect(try StoredVectors.floats(StoredVectors.data([1, 2, 3]), count: 3, image: 7, catalogPath: "/c.sqlite") == [1, 2, 3])
        let error = #expect(throws: CatalogError.self) {
            try StoredVectors.floats(StoredVectors.data([1, 2, 3]), count: 4, image: 7, catalogPath: "/c.sqlite")
        }
        #expect(error?.kind == .damaged && "\(error!)" == "/c.sqlite: image 7 has 12 bytes of vectors, expected 16")
        var values: [Float] = [9]
        try StoredVectors.append(StoredVectors.data([1, 2]), count: 2, image: 1, catalogPath: "/c.sqlite", to: &values)
        #expect(values == [9, 1, 2])
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
            let stored = try #require(try catalog.image(id: ids[0]!))
            #expect(try StoredVectors.floats(stored.vectors, count: 6, image: ids[0]!, catalogPath: catalog.path) == [1, 0, 0, 0, 1, 0])
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
                try tx.upsert(file("/photos/h.jpg", hash: "h"))
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

    @Test func orphansAreKeptForTheirGracePeriodAndUnmarkedWhenUsedAgain() throws {
        try withCatalog { (catalog, _) throws in
            let start = Date(timeIntervalSince1970: 1_000_000)
            _ = try catalog.write { tx in
                try tx.register(model)
                try tx.storeImage(StoredImage(contentHash: "gone", modelId: model.id, vectors: [0, 1, 0, 0, 1, 0]))
                try tx.upsert(file("/photos/gone.jpg", hash: "gone", inode: 2))
                try tx.removeFiles(paths: ["/photos/gone.jpg"])
                #expect(try tx.removeOrphanImages(keepingFor: 100, now: start).isEmpty)
            }
            #expect(try catalog.status().keptEmbeddings == 1)
            #expect(try catalog.searchableImageCount(modelId: model.id) == 0)
            // Back before the grace period ends: unmarked, searchable, never deleted.
            _ = try catalog.write { tx in
                try tx.upsert(file("/photos/back.jpg", hash: "gone", inode: 3))
                #expect(try tx.removeOrphanImages(keepingFor: 100, now: start.addingTimeInterval(50)).isEmpty)
            }
            #expect(try catalog.status().keptEmbeddings == 0)
            #expect(try catalog.searchableImageCount(modelId: model.id) == 1)
            // Gone again, past the grace period: deleted.
            let deleted = try catalog.write { tx -> [Int64] in
                try tx.removeFiles(paths: ["/photos/back.jpg"])
                #expect(try tx.removeOrphanImages(keepingFor: 100, now: start.addingTimeInterval(200)).isEmpty)
                return try tx.removeExpiredOrphanImages(keptFor: 100, now: start.addingTimeInterval(301))
            }
            #expect(deleted.count == 1)
            #expect(try catalog.imageCount(modelId: model.id) == 0)
        }
    }

    @Test func everyCatalogHasItsOwnIdAndEveryWriterBumpsItsCounter() throws {
        try withCatalog { (catalog, path) throws in
            let first = try catalog.identity()
            let other = try Catalog(path: path.deletingLastPathComponent().appendingPathComponent("other.sqlite").path)
            #expect(try other.identity().id != first.id)
            #expect(first.id.count == 32)
            // Another connection (as another process would) changes what may be searched.
            let writer = try Catalog(path: path.path)
            _ = try writer.write { tx in
                try tx.register(model)
                try tx.storeImage(StoredImage(contentHash: "h1", modelId: model.id, vectors: [1, 0, 0, 0, 1, 0]))
                try tx.upsert(file("/photos/a.jpg", hash: "h1"))
            }
            let afterAdd = try catalog.identity()
            #expect(afterAdd.id == first.id && afterAdd.imageChanges > first.imageChanges)
            _ = try writer.write { tx in try tx.markOffline(root: "/photos") }
            let afterOffline = try catalog.identity()
            #expect(afterOffline.imageChanges > afterAdd.imageChanges)
            #expect(try catalog.imageIDs(modelId: model.id).isEmpty)
            // A write that changes nothing searchable leaves it alone.
            _ = try writer.write { tx in try tx.recordRoot(IndexedRoot(path: "/photos", device: 7)) }
            #expect(try catalog.identity() == afterOffline)
            #expect(try catalog.identity() == (try Catalog(path: path.path).identity()))
        }
    }

    @Test func pruneForgetsOfflineFilesUnderAFolderByteForByte() throws {
        try withCatalog { (catalog, _) throws in
            _ = try catalog.write { tx in
                try tx.upsert(file("/photos/a.jpg", hash: "h", inode: 1))
                try tx.upsert(file("/Photos/b.jpg", hash: "h", inode: 2))
                try tx.upsert(file("/photos_2/c.jpg", hash: "h", inode: 3))
                try tx.markOffline(paths: ["/photos/a.jpg", "/Photos/b.jpg", "/photos_2/c.jpg"])
            }
            #expect(try catalog.write { tx in try tx.removeOfflineFiles(under: "/photos") } == 1)
            #expect(try catalog.file(path: "/Photos/b.jpg") != nil && catalog.file(path: "/photos_2/c.jpg") != nil)
            #expect(try catalog.write { tx in try tx.removeOfflineFiles() } == 2)
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

/// The filters' date forms and the great-circle test behind --near.
@Suite struct PhotoFilterTests {
    @Test func aDateNamesTheStartOfItsPeriod() {
        #expect(PhotoFilter.periodStart("2024") == "2024-01-01 00:00:00")
        #expect(PhotoFilter.periodStart("2024-06") == "2024-06-01 00:00:00")
        #expect(PhotoFilter.periodStart(" 2024-06-30 ") == "2024-06-30 00:00:00")
        #expect(PhotoFilter.periodStart("2024-06-30 18:30") == "2024-06-30 18:30:00")
        #expect(PhotoFilter.periodStart("2024-06-30T18:30:05") == "2024-06-30 18:30:05")
        for bad in ["", "24", "2024-6", "2024-13", "2024-06-32", "2024-06-30 24:00", "2024/06/30", "٢٠٢٤", "yesterday", "2024-06-30 18"] {
            #expect(PhotoFilter.periodStart(bad) == nil, "\(bad)")
        }
    }

    @Test func placesContainWhatLiesWithinTheirRadius() throws {
        let eiffel = try #require(Place("48.8584, 2.2945", kilometres: 5))
        #expect(eiffel.contains(latitude: 48.8606, longitude: 2.3376))  // the Louvre, 3.2 km
        #expect(!eiffel.contains(latitude: 48.8049, longitude: 2.1204))  // Versailles, 13.7 km
        let fiji = try #require(Place("-17.8,179.99", kilometres: 50))  // across the antimeridian
        #expect(fiji.contains(latitude: -17.8, longitude: -179.9) && fiji.boundingBox.longitudes == nil)
        #expect(Place("91,0", kilometres: 1) == nil && Place("0,181", kilometres: 1) == nil)
        #expect(Place("1,2,3", kilometres: 1) == nil && Place("1,2", kilometres: 0) == nil)
    }
}
