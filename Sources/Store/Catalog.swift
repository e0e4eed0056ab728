import Foundation
import Synchronization
import GRDB

/// Why the catalog could not be opened, read or written; names the database file.
public struct CatalogError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// The SQLite catalog, the source of truth: files, their states and the embeddings of their
/// contents. WAL mode, so readers (a query, the web UI) never wait for the indexer's writes;
/// every write is one transaction, so a kill at any moment leaves the last committed state.
public final class Catalog: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating if needed) the catalog at `path` and migrates it to this build's schema.
    public init(path: String) throws {
        self.path = path
        do {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.maximumReaderCount = Self.parallelReads
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")  // WAL: durable at checkpoints, never corrupt
            }
            try Self.createWithLargePages(path)
            pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = CatalogSchema.migrator
            let unknown = try pool.read { db in try migrator.appliedIdentifiers(db) }
                .subtracting(CatalogSchema.knownVersions)
            guard unknown.isEmpty else {
                throw CatalogError(path: path, reason: "written by a newer imgsearch (schema \(unknown.sorted().joined(separator: ", "))); upgrade imgsearch")
            }
            try migrator.migrate(pool)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(path: path, reason: "cannot open the catalog: \(error)")
        }
    }

    /// A new catalog gets 32 KB pages, so that one image's vectors (32 KB for BLIP-2) take
    /// two pages instead of a chain of nine 4 KB ones, each a dependent disk read when the
    /// catalog is larger than the page cache: re-scoring 200 candidates from a cold 100k
    /// catalog took 74 ms with 4 KB pages, 31 ms with 32 KB (and 24 ms with 64 KB, which
    /// doubled the file). The page size is fixed when the first table is written (and WAL
    /// mode keeps it), so only a new, empty file is touched.
    private static func createWithLargePages(_ path: String) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard (attributes?[.size] as? Int ?? 0) == 0 else { return }
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = 32768")
            try db.execute(sql: "VACUUM")  // writes the header with the new page size
        }
        try queue.close()
    }

    /// The migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        try read { db in try CatalogSchema.migrator.appliedMigrations(db) }
    }

    /// Runs `body` in one write transaction: all of it is committed, or none.
    public func write<T>(_ body: (CatalogTransaction) throws -> T) throws -> T {
        do {
            return try pool.write { db in try body(CatalogTransaction(db: db)) }
        } catch {
            throw CatalogError(path: path, reason: "write failed: \(error)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw CatalogError(path: path, reason: "read failed: \(error)")
        }
    }

    public func model(id: String) throws -> ModelRecord? {
        try read { db in try ModelRecord.fetchOne(db, key: id) }
    }

    public func models() throws -> [ModelRecord] {
        try read { db in try ModelRecord.order(Column("registeredAt")).fetchAll(db) }
    }

    /// Calls `body` with every image embedded by `modelId`, one at a time (a cursor: the
    /// vectors of a million images are never all in memory at once).
    public func forEachImage(modelId: String, _ body: (Int64, Data) throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, vectors FROM image WHERE modelId = ? ORDER BY id",
                                           arguments: [modelId])
            while let row = try rows.next() {
                try body(row["id"], row["vectors"])
            }
        }
    }

    /// Connections that read at once in `vectors(ofImages:)`.
    static let parallelReads = 8

    /// The stored vectors of each listed image that still exists. A request for more than a
    /// few images is split over several connections reading at once: a catalog larger than
    /// the page cache answers from disk, one image's vectors being a chain of overflow pages,
    /// and overlapping those reads is what keeps re-scoring a search's candidates fast
    /// (bench/search.sh --fp32-catalog: 200 candidates from a cold catalog).
    public func vectors(ofImages ids: [Int64]) throws -> [Int64: Data] {
        let parts = min(Self.parallelReads, (ids.count + 7) / 8)
        guard parts > 1 else { return try vectorsInOneRead(ids) }
        let found = Mutex<[Int64: Data]>([:]), failure = Mutex<(any Error)?>(nil)
        let done = DispatchGroup()
        for part in 0..<parts {
            let slice = Swift.stride(from: part, to: ids.count, by: parts).map { ids[$0] }
            done.enter()
            // Threads of their own: each blocks on disk reads, which a 2-core GCD pool would serialise.
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let vectors = try self.vectorsInOneRead(slice)
                    found.withLock { $0.merge(vectors) { first, _ in first } }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return found.withLock { $0 }
    }

    private func vectorsInOneRead(_ ids: [Int64]) throws -> [Int64: Data] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var vectors: [Int64: Data] = [:]
            // SQLite limits the number of parameters of one statement.
            for start in Swift.stride(from: 0, to: ids.count, by: 500) {
                let slice = Array(ids[start..<min(start + 500, ids.count)])
                let rows = try Row.fetchCursor(db, sql: "SELECT id, vectors FROM image WHERE id IN (\(databaseQuestionMarks(count: slice.count)))",
                                               arguments: StatementArguments(slice))
                while let row = try rows.next() { vectors[row["id"]] = row["vectors"] }
            }
            return vectors
        }
    }

    public func image(id: Int64) throws -> StoredImage? {
        try read { db in try StoredImage.fetchOne(db, key: id) }
    }

    /// Count, largest id and sum of ids of the model's images. Image ids only grow (never
    /// reused), so any insertion or deletion changes it: a saved vector index whose
    /// fingerprint matches holds exactly the catalog's images.
    public func imageFingerprint(modelId: String) throws -> String {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, IFNULL(MAX(id), 0) AS top, IFNULL(SUM(id), 0) AS total FROM image WHERE modelId = ?",
                                       arguments: [modelId])
            let count: Int64 = row?["n"] ?? 0, top: Int64 = row?["top"] ?? 0, total: Int64 = row?["total"] ?? 0
            return "\(count)-\(top)-\(total)"
        }
    }

    /// The ids of every image embedded by `modelId`, ascending.
    public func imageIDs(modelId: String) throws -> [Int64] {
        try read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM image WHERE modelId = ? ORDER BY id", arguments: [modelId])
        }
    }

    public func imageCount(modelId: String) throws -> Int {
        try read { db in try StoredImage.filter(Column("modelId") == modelId).fetchCount(db) }
    }

    /// The indexed files whose content is each image, sorted by path.
    public func paths(ofImages ids: [Int64]) throws -> [Int64: [String]] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT image.id AS imageId, file.path AS path FROM image
                JOIN file ON file.contentHash = image.contentHash AND file.state = 'indexed'
                WHERE image.id IN (\(databaseQuestionMarks(count: ids.count)))
                ORDER BY file.path
                """, arguments: StatementArguments(ids))
            var paths: [Int64: [String]] = [:]
            for row in rows { paths[row["imageId"], default: []].append(row["path"]) }
            return paths
        }
    }

    /// Every file recorded under these roots.
    public func files(inRoots roots: [String]) throws -> [CatalogFile] {
        try read { db in try CatalogFile.filter(roots.contains(Column("root"))).fetchAll(db) }
    }

    /// Which of these content hashes already have an embedding by `modelId`.
    public func embeddedHashes(_ hashes: [String], modelId: String) throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try read { db in
            var found: Set<String> = []
            for start in Swift.stride(from: 0, to: hashes.count, by: 500) {
                let slice = Array(hashes[start..<min(start + 500, hashes.count)])
                found.formUnion(try String.fetchAll(db, sql: """
                    SELECT contentHash FROM image WHERE modelId = ? AND contentHash IN (\(databaseQuestionMarks(count: slice.count)))
                    """, arguments: StatementArguments([modelId] + slice)))
            }
            return found
        }
    }

    public func file(path: String) throws -> CatalogFile? {
        try read { db in try CatalogFile.filter(Column("path") == path).fetchOne(db) }
    }

    /// Counts per state, per model, and the most recent failures.
    public func status(recentFailures: Int = 20) throws -> CatalogStatus {
        try read { db in
            var counts: [FileState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM file GROUP BY state") {
                if let state = FileState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            var imagesPerModel: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT modelId, COUNT(*) AS n FROM image GROUP BY modelId") {
                imagesPerModel[row["modelId"]] = row["n"]
            }
            let failures = try CatalogFile.filter(Column("state") == FileState.failed.rawValue)
                .order(Column("updatedAt").desc).limit(recentFailures).fetchAll(db)
            return CatalogStatus(filesByState: counts, imagesByModel: imagesPerModel,
                                 models: try ModelRecord.fetchAll(db), recentFailures: failures)
        }
    }

    /// SQLite's own consistency check: "ok", or the problems it found.
    public func integrityCheck() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}

/// A snapshot of the catalog for `imgsearch status`.
public struct CatalogStatus: Sendable {
    public let filesByState: [FileState: Int]
    public let imagesByModel: [String: Int]
    public let models: [ModelRecord]
    public let recentFailures: [CatalogFile]
}
