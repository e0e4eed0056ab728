import Foundation
import PostgresNIO
import Store
import Synchronization

/// The catalog kept in a PostgreSQL database with pgvector (`--store postgres://…`): the same
/// files, embeddings per (content hash, model), roots, captions and metadata as the SQLite
/// `Catalog`, written by any number of indexing processes at once. Each embedding is one row
/// per query vector (`vector`, fp32: searches re-score exactly), with an HNSW index per model
/// over the vectors rounded to `halfvec`.
public final class PostgresCatalog: IndexingStore {
    public let address: PostgresAddress
    let sessions: PostgresSessions
    /// Where the vectors' partitions are.
    public let layout: PostgresShards
    /// Every partition of the vectors with the connections to its server: 0 on this server,
    /// then each shard's.
    let partitions: [(number: Int, sessions: PostgresSessions)]
    private let storedModels = Mutex<[String: StoredModel]>([:])

    /// A model as the store keys its vectors.
    struct StoredModel: Sendable {
        let key: Int
        let queryCount: Int
        let dimension: Int
    }

    /// Opens the store at `url`, bringing its schema up to date. In a database without one,
    /// `create` makes its tables (a new store's vectors partitioned over this server and
    /// `shards`, URLs of other servers); without `create` that is an error (a mistyped
    /// database name is not taken for an empty store).
    public init(url: String, shards: [String] = [], create: Bool = true) throws {
        address = try PostgresAddress(url)
        sessions = PostgresSessions(address: address)
        let shardAddresses = try shards.map { url throws(PostgresStoreError) in try PostgresAddress(url) }
        try PostgresSchema.migrate(sessions, shards: shardAddresses, create: create)
        layout = try sessions.with { try PostgresShards.read(on: $0) }
        partitions = [(0, sessions)] + layout.shards.map { ($0.number, PostgresSessions(address: $0.address)) }
    }

    public var location: String { address.description }

    // MARK: Models

    /// Records `model` and makes its vector index on every partition, unless there already.
    public func register(_ model: ModelRecord) throws {
        try update { try $0.register(model) }
        try makeSearchIndexes(modelId: model.id)
    }

    /// Makes `modelId`'s vector index (HNSW, inner product, over the vectors as `halfvec`) on
    /// every partition where it is missing.
    public func makeSearchIndexes(modelId: String) throws {
        let model = try storedModel(modelId)
        try onEveryPartition("cannot make the vector index of \(modelId)") { number in
            """
            CREATE INDEX IF NOT EXISTS image_vector_\(number)_model_\(model.key) ON image_vector_\(number)
              USING hnsw ((v::halfvec(\(model.dimension))) halfvec_ip_ops) WHERE model_key = \(model.key)
            """
        }
    }

    /// Drops `modelId`'s vector index on every partition: a bulk load then runs without
    /// keeping it up to date, and `makeSearchIndexes` builds it once afterwards (faster).
    /// Approximate searches are exhaustive until then.
    public func dropSearchIndexes(modelId: String) throws {
        let model = try storedModel(modelId)
        try onEveryPartition("cannot drop the vector index of \(modelId)") { number in
            "DROP INDEX IF EXISTS image_vector_\(number)_model_\(model.key)"
        }
    }

    /// Runs the statement `sql` gives for each partition, on the partition's server, under the
    /// schema's lock there: two processes registering a model at once make its index once.
    private func onEveryPartition(_ what: String, _ sql: (Int) -> String) throws {
        for (number, sessions) in partitions {
            let what = number == 0 ? what : "\(what) on shard \(number)"
            try sessions.transaction(what) { session in
                try session.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.lockID))", what)
                try session.execute([sql(number)], what)
            }
        }
    }

    /// Bytes on disk: the vectors' rows and their indexes (over every partition), and the rest
    /// of the catalog's tables with theirs.
    public func storageBytes() throws -> (vectors: Int, vectorIndexes: Int, catalog: Int) {
        var vectors = 0, vectorIndexes = 0
        for (number, sessions) in partitions {
            let (heap, indexes) = try sessions.with { session in
                try session.query("""
                    SELECT pg_table_size(\("image_vector_\(number)")::regclass), pg_indexes_size(\("image_vector_\(number)")::regclass)
                    """, "cannot measure partition \(number)").first!.decode((Int, Int).self)
            }
            vectors += heap
            vectorIndexes += indexes
        }
        let catalog = try sessions.with { session in
            try session.query("""
                SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                WHERE c.relkind = 'r' AND c.relname IN ('model', 'image', 'file', 'root', 'caption', 'metadata', 'embedding_claim', 'shard')
                """, "cannot measure the catalog").first!.decode(Int.self)
        }
        return (vectors, vectorIndexes, catalog)
    }

    public func model(id: String) throws -> ModelRecord? {
        try sessions.with { session in
            try session.query("""
                SELECT id, description, query_count, dimension, registered_at FROM model WHERE id = \(id)
                """, "cannot read the models").first.map { row in
                let (id, description, queries, dimension, registered) = try row.decode((String, String, Int, Int, Date).self)
                return ModelRecord(id: id, description: description, queryCount: queries, dimension: dimension, registeredAt: registered)
            }
        }
    }

    /// The key, query count and dimension of a registered model (cached).
    func storedModel(_ id: String, session: PostgresSession? = nil) throws -> StoredModel {
        if let known = storedModels.withLock({ $0[id] }) { return known }
        let lookup = { (session: PostgresSession) throws -> StoredModel in
            guard let row = try session.query("SELECT key, query_count, dimension FROM model WHERE id = \(id)",
                                              "cannot read the models").first else {
                throw PostgresStoreError(store: self.location, "model \(id) is not registered in the store")
            }
            let (key, queries, dimension) = try row.decode((Int, Int, Int).self)
            return StoredModel(key: key, queryCount: queries, dimension: dimension)
        }
        let found = try session.map(lookup) ?? sessions.with(lookup)
        storedModels.withLock { $0[id] = found }
        return found
    }

    // MARK: IndexingStore

    static let fileColumns = "id, root, path, device, inode, size, modified_nanoseconds, content_hash, state, last_error, updated_at, offline_since"

    func file(_ row: PostgresRow) throws -> CatalogFile {
        let (id, root, path, device, inode, size, modified, hash, state, lastError, updated, offline)
            = try row.decode((Int64, String, String, Int64, Int64, Int64, Int64, String?, String, String?, Date, Date?).self)
        guard let fileState = FileState(rawValue: state) else {
            throw PostgresStoreError(store: location, "file \(path) has an unknown state \"\(state)\"")
        }
        var file = CatalogFile(id: id, root: root, path: path, device: device, inode: inode, size: size,
                               modifiedNanoseconds: modified, contentHash: hash, state: fileState, lastError: lastError,
                               updatedAt: updated)
        file.offlineSince = offline
        return file
    }

    public func files(inRoots roots: [String]) throws -> [CatalogFile] {
        try sessions.with { session in
            try session.query("SELECT \(unescaped: Self.fileColumns) FROM file WHERE root = ANY(\(roots))",
                              "cannot read the files").map(file)
        }
    }

    public func embeddedHashes(_ hashes: [String], modelId: String) throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try sessions.with { session in
            Set(try session.query("SELECT content_hash FROM image WHERE model_id = \(modelId) AND content_hash = ANY(\(hashes))",
                                  "cannot read the embeddings").map { try $0.decode(String.self) })
        }
    }

    public func indexedRoots() throws -> [String: IndexedRoot] {
        try sessions.with { session in
            Dictionary(uniqueKeysWithValues: try session.query("SELECT path, device, indexed_at FROM root", "cannot read the roots")
                .map { row in
                    let (path, device, indexed) = try row.decode((String, Int64, Date).self)
                    return (path, IndexedRoot(path: path, device: device, indexedAt: indexed))
                })
        }
    }

    public func captionedHashes(_ hashes: [String], captionModelId: String) throws -> Set<String> {
        guard !hashes.isEmpty else { return [] }
        return try sessions.with { session in
            Set(try session.query("""
                SELECT content_hash FROM caption WHERE caption_model_id = \(captionModelId) AND content_hash = ANY(\(hashes))
                """, "cannot read the captions").map { try $0.decode(String.self) })
        }
    }

    public func contentsWithoutMetadata(after hash: String?, limit: Int) throws -> [MetadataCandidate] {
        try sessions.with { session in
            try session.query("""
                SELECT f.content_hash, min(f.path), min(f.modified_nanoseconds) FROM file f
                WHERE f.state = 'indexed' AND f.offline_since IS NULL AND f.content_hash > \(hash ?? "")
                  AND NOT EXISTS (SELECT 1 FROM metadata m WHERE m.content_hash = f.content_hash AND m.signature IS NOT NULL)
                GROUP BY f.content_hash ORDER BY f.content_hash LIMIT \(limit)
                """, "cannot read the contents without metadata").map { row in
                let (hash, path, modified) = try row.decode((String, String, Int64).self)
                return MetadataCandidate(contentHash: hash, path: path, modifiedNanoseconds: modified)
            }
        }
    }

    public func update<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T {
        try sessions.transaction("cannot write to the store") { session in
            try body(PostgresUpdates(catalog: self, session: session))
        }
    }

    public func claimEmbedding(of hashes: [String], modelId: String, waiting: Bool) throws -> any ContentClaim {
        try PostgresClaim(catalog: self, hashes: hashes, claimKey: modelId, waiting: waiting) { session, hashes in
            Set(try session.query("SELECT content_hash FROM image WHERE model_id = \(modelId) AND content_hash = ANY(\(hashes))",
                                  "cannot claim contents to embed").map { try $0.decode(String.self) })
        }
    }

    public func claimCaptioning(of hashes: [String], captionModelId: String) throws -> any ContentClaim {
        try PostgresClaim(catalog: self, hashes: hashes, claimKey: "caption:" + captionModelId, waiting: false) { session, hashes in
            Set(try session.query("""
                SELECT content_hash FROM caption WHERE caption_model_id = \(captionModelId) AND content_hash = ANY(\(hashes))
                """, "cannot claim contents to caption").map { try $0.decode(String.self) })
        }
    }

    public func uncaptioned(captionModelId: String, under roots: [String]?) throws -> [CaptionCandidate] {
        try sessions.with { session in
            try session.query("""
                SELECT f.content_hash, min(f.path) FROM file f
                WHERE f.state = 'indexed' AND f.offline_since IS NULL AND f.content_hash IS NOT NULL
                  AND (\(roots)::text[] IS NULL OR EXISTS (
                    SELECT 1 FROM unnest(\(roots)::text[]) r WHERE starts_with(f.path, rtrim(r, '/') || '/')))
                  AND NOT EXISTS (SELECT 1 FROM caption c WHERE c.content_hash = f.content_hash
                                    AND c.caption_model_id = \(captionModelId))
                GROUP BY f.content_hash ORDER BY min(f.path)
                """, "cannot read the contents to caption").map { row in
                let (hash, path) = try row.decode((String, String).self)
                return CaptionCandidate(contentHash: hash, path: path)
            }
        }
    }

    // MARK: Reads for searches and checks

    /// How many embeddings `modelId` has, searchable or kept.
    public func imageCount(modelId: String) throws -> Int {
        try sessions.with { session in
            try session.query("SELECT count(*) FROM image WHERE model_id = \(modelId)", "cannot count the images")
                .first!.decode(Int.self)
        }
    }

    /// How many vector rows each partition holds (0: this server; i: shard i).
    public func vectorRowsPerPartition() throws -> [Int: Int] {
        try sessions.with { session in
            var counts: [Int: Int] = [:]
            for (number, _) in partitions {
                counts[number] = try session.query("SELECT count(*) FROM \(unescaped: "image_vector_\(number)")",
                                                   "cannot count partition \(number)'s vectors").first!.decode(Int.self)
            }
            return counts
        }
    }

    /// The indexed, online files whose content is each image, sorted by path; with `roots`,
    /// only those inside one of them (an image none holds is left out).
    public func paths(ofImages ids: [Int64], under roots: [String]? = nil) throws -> [Int64: [String]] {
        guard !ids.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT i.id, f.path FROM image i JOIN file f ON f.content_hash = i.content_hash
                WHERE i.id = ANY(\(ids)) AND f.state = 'indexed' AND f.offline_since IS NULL ORDER BY f.path
                """, "cannot read the images' files").reduce(into: [:]) { paths, row in
                let (id, path) = try row.decode((Int64, String).self)
                if let roots, !Catalog.path(path, isUnderAnyOf: roots) { return }
                paths[id, default: []].append(path)
            }
        }
    }

    /// Deletes the vector rows whose image is not in the store (a shard that committed when
    /// the store did not: postgres_fdw's commits are not two-phase); returns how many, per
    /// partition with any. Indexers' inserts into `image` wait meanwhile: the share lock is
    /// granted once every transaction writing images has ended, so the rows of an image
    /// whose store commit is still on its way are not taken for orphans.
    public func removeOrphanedVectorRows() throws -> [Int: Int] {
        do {
            return try deleteOrphanedVectorRows()
        } catch let error as PostgresStoreError {
            throw PostgresStoreError(store: error.store, layout.naming(error.reason), sqlState: error.sqlState)
        }
    }

    private func deleteOrphanedVectorRows() throws -> [Int: Int] {
        try sessions.transaction("cannot remove orphaned vector rows") { session in
            try session.query("LOCK TABLE image IN SHARE MODE", "cannot lock the images")
            var removed: [Int: Int] = [:]
            for (number, _) in partitions {
                let what = number == 0 ? "cannot remove orphaned vector rows" : "cannot remove orphaned vector rows on shard \(number)"
                let rows = try session.query("""
                    DELETE FROM \(unescaped: "image_vector_\(number)") v WHERE NOT EXISTS (SELECT 1 FROM image i WHERE i.id = v.image_id)
                    """, what).metadata.rows ?? 0
                if rows > 0 { removed[number] = rows }
            }
            return removed
        }
    }

    /// Closes the idle connections (a claim or a transaction in flight keeps its own).
    public func close() {
        for (_, sessions) in partitions { sessions.closeAll() }
    }
}
