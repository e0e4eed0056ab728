import Foundation
import Synchronization
import GRDB

/// Why the catalog could not be opened, read or written: one line naming the database
/// file, with the database error behind it kept as `cause` (GRDB's `DatabaseError`, whose
/// SQLite result code tells a full disk from a locked or damaged file).
public struct CatalogError: Error, CustomStringConvertible {
    /// What failed.
    public enum Kind: Sendable, Equatable {
        /// Opening or migrating the database.
        case open
        /// The file was written by a newer imgsearch.
        case newerSchema
        case read
        case write
        /// The file is a database but not a whole catalog, or a stored value is malformed.
        case damaged
    }

    public let path: String
    public let kind: Kind
    public let reason: String
    /// The error behind this one, if any.
    public let cause: (any Error)?

    public init(path: String, kind: Kind, reason: String, cause: (any Error)? = nil) {
        self.path = path
        self.kind = kind
        self.reason = reason
        self.cause = cause
    }

    /// The SQLite result code behind the failure (e.g. `SQLITE_FULL`), if SQLite failed.
    public var sqliteCode: Int32? { (cause as? DatabaseError)?.resultCode.primaryResultCode.rawValue }

    public var description: String { "\(path): \(reason)" }

    /// `error` as a catalog error of `kind`: a `CatalogError` thrown inside is kept as it is.
    static func wrapping(_ error: any Error, path: String, kind: Kind, doing what: String) -> CatalogError {
        if let error = error as? CatalogError { return error }
        return CatalogError(path: path, kind: kind, reason: "\(what): \(error)", cause: error)
    }
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
                throw CatalogError(path: path, kind: .newerSchema, reason: "written by a newer imgsearch (schema \(unknown.sorted().joined(separator: ", "))); upgrade imgsearch")
            }
            try migrator.migrate(pool)
        } catch {
            throw CatalogError.wrapping(error, path: path, kind: .open, doing: "cannot open the catalog")
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
            throw CatalogError.wrapping(error, path: path, kind: .write, doing: "write failed")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw CatalogError.wrapping(error, path: path, kind: .read, doing: "read failed")
        }
    }

    public func model(id: String) throws -> ModelRecord? {
        try read { db in try ModelRecord.fetchOne(db, key: id) }
    }

    public func models() throws -> [ModelRecord] {
        try read { db in try ModelRecord.order(Column("registeredAt")).fetchAll(db) }
    }

    /// The catalog's id and how far its searchable images have changed (see `CatalogIdentity`).
    public func identity() throws -> CatalogIdentity {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, imageChanges FROM identity") else {
                throw CatalogError(path: path, kind: .damaged, reason: "the catalog has no identity row; it is damaged")
            }
            return CatalogIdentity(id: row["id"], imageChanges: row["imageChanges"])
        }
    }

    /// SQL: the image is searchable, i.e. an indexed file that is not offline holds it.
    /// Embeddings kept for a while after their files vanished, or of files on an unplugged
    /// drive, are not searched.
    static let searchable = """
        EXISTS (SELECT 1 FROM file WHERE file.contentHash = image.contentHash
                AND file.state = 'indexed' AND file.offlineSince IS NULL)
        """

    /// Calls `body` with every searchable image embedded by `modelId`, one at a time (a
    /// cursor: the vectors of a million images are never all in memory at once).
    public func forEachImage(modelId: String, _ body: (Int64, Data) throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT id, vectors FROM image WHERE modelId = ? AND \(Self.searchable) ORDER BY id",
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
            for slice in ids.parameterBatches {
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

    /// The ids of every searchable image embedded by `modelId`, ascending.
    public func imageIDs(modelId: String) throws -> [Int64] {
        try read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM image WHERE modelId = ? AND \(Self.searchable) ORDER BY id",
                               arguments: [modelId])
        }
    }

    /// How many embeddings `modelId` has, searchable or kept.
    public func imageCount(modelId: String) throws -> Int {
        try read { db in try StoredImage.filter(Column("modelId") == modelId).fetchCount(db) }
    }

    /// How many searchable images `modelId` has.
    public func searchableImageCount(modelId: String) throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE modelId = ? AND \(Self.searchable)",
                             arguments: [modelId]) ?? 0
        }
    }

    /// The indexed files (not offline) whose content is each image, sorted by path; with
    /// `roots`, only the files under one of them.
    public func paths(ofImages ids: [Int64], under roots: [String]? = nil) throws -> [Int64: [String]] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var paths: [Int64: [String]] = [:]
            for slice in ids.parameterBatches {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT image.id AS imageId, file.path AS path FROM image
                    JOIN file ON file.contentHash = image.contentHash AND file.state = 'indexed'
                      AND file.offlineSince IS NULL
                    WHERE image.id IN (\(databaseQuestionMarks(count: slice.count)))
                    ORDER BY file.path
                    """, arguments: StatementArguments(slice))
                while let row = try rows.next() {
                    let path: String = row["path"]
                    if let roots, !Self.path(path, isUnderAnyOf: roots) { continue }
                    paths[row["imageId"], default: []].append(path)
                }
            }
            return paths
        }
    }

    /// Whether `path` lies inside `folder`, byte for byte (no Unicode normalisation).
    public static func path(_ path: String, isUnder folder: String) -> Bool {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.utf8.starts(with: prefix.utf8)
    }

    /// Whether `path` lies inside one of `folders`.
    public static func path(_ path: String, isUnderAnyOf folders: [String]) -> Bool {
        folders.contains { Self.path(path, isUnder: $0) }
    }

    /// The file system each root was on when last indexed, by path.
    public func indexedRoots() throws -> [String: IndexedRoot] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try IndexedRoot.fetchAll(db).map { ($0.path, $0) })
        }
    }

    /// The roots of every file the catalog holds.
    public func fileRoots() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT DISTINCT root FROM file ORDER BY root") }
    }

    /// Every file recorded under these roots.
    public func files(inRoots roots: [String]) throws -> [CatalogFile] {
        try read { db in try CatalogFile.filter(roots.contains(Column("root"))).fetchAll(db) }
    }

    /// Which of these content hashes already have an embedding by `modelId`.
    public func embeddedHashes(_ hashes: [String], modelId: String) throws -> Set<String> {
        Set(try rows(for: hashes, leading: [modelId]) {
            "SELECT contentHash FROM image WHERE modelId = ? AND contentHash IN (\($0))"
        }.map { $0["contentHash"] as String })
    }

    public func file(path: String) throws -> CatalogFile? {
        try read { db in try CatalogFile.filter(Column("path") == path).fetchOne(db) }
    }

    /// Counts per state, per model, and the most recent failures.
    public func status(recentFailures: Int = 20) throws -> CatalogStatus {
        try read { db in
            var counts: [FileState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM file WHERE offlineSince IS NULL GROUP BY state") {
                if let state = FileState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            var imagesPerModel: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT modelId, COUNT(*) AS n FROM image WHERE orphanedSince IS NULL GROUP BY modelId") {
                imagesPerModel[row["modelId"]] = row["n"]
            }
            let failures = try CatalogFile.filter(Column("state") == FileState.failed.rawValue)
                .order(Column("updatedAt").desc).limit(recentFailures).fetchAll(db)
            var offline: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT root, COUNT(*) AS n FROM file WHERE offlineSince IS NOT NULL GROUP BY root") {
                offline[row["root"]] = row["n"]
            }
            let kept = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE orphanedSince IS NOT NULL") ?? 0
            return CatalogStatus(filesByState: counts, imagesByModel: imagesPerModel,
                                 models: try ModelRecord.fetchAll(db), recentFailures: failures,
                                 offlineFilesByRoot: offline, keptEmbeddings: kept)
        }
    }

    /// SQLite's own consistency check and the caption index's (FTS5 'integrity-check',
    /// which compares it with the captions): ["ok"], or the problems found.
    public func integrityCheck() throws -> [String] {
        let tables = try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        let captionIndex: String? = try pool.writeWithoutTransaction { db in
            do {
                try db.execute(sql: "INSERT INTO caption_text(caption_text, rank) VALUES ('integrity-check', 1)")
                return nil
            } catch {
                return "caption index: \(error)"
            }
        }
        guard let captionIndex else { return tables }
        return (tables == ["ok"] ? [] : tables) + [captionIndex]
    }
}

/// A snapshot of the catalog for `imgsearch status`.
public struct CatalogStatus: Sendable {
    /// Files per state, offline files left out.
    public let filesByState: [FileState: Int]
    /// Embeddings per model that a file uses (kept ones left out).
    public let imagesByModel: [String: Int]
    public let models: [ModelRecord]
    public let recentFailures: [CatalogFile]
    /// Files kept while their root is missing or empty, per root.
    public let offlineFilesByRoot: [String: Int]
    /// Embeddings no file holds any more, kept for their grace period.
    public let keptEmbeddings: Int
}
