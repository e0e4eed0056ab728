import Foundation
import PostgresNIO
import Store
import Synchronization

/// What a daemon serving a PostgreSQL store reads besides searches: contents, captions,
/// metadata, folders and file counts, as the SQLite catalog answers them.
extension PostgresCatalog {
    /// The content hash of each image.
    public func contentHashes(ofImages ids: [Int64]) throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("SELECT id, content_hash FROM image WHERE id = ANY(\(ids))", "cannot read the images")
                .reduce(into: [:]) { hashes, row in
                    let (id, hash) = try row.decode((Int64, String).self)
                    hashes[id] = hash
                }
        }
    }

    /// The image's query vectors (fp32, query after query), nil when `modelId` has no such image.
    public func vectors(ofImage id: Int64, modelId: String) throws -> [Float]? {
        let model = try storedModel(modelId)
        let rows = try sessions.with { session in
            try session.query("""
                SELECT v::real[] FROM image_vector WHERE image_id = \(id) AND model_key = \(model.key) ORDER BY k
                """, "cannot read the vectors of image \(id)").map { try $0.decode([Float].self) }
        }
        guard !rows.isEmpty else { return nil }
        guard rows.count == model.queryCount, rows.allSatisfy({ $0.count == model.dimension }) else {
            throw PostgresStoreError(store: location, "image \(id) has \(rows.count) query vectors in the store, "
                                         + "model \(modelId) makes \(model.queryCount) × \(model.dimension)")
        }
        return rows.flatMap { $0 }
    }

    /// The newest caption of each content, by content hash.
    public func captions(ofContents hashes: [String]) throws -> [String: String] {
        guard !hashes.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT DISTINCT ON (content_hash) content_hash, text FROM caption WHERE content_hash = ANY(\(hashes))
                ORDER BY content_hash, captioned_at DESC
                """, "cannot read the captions").reduce(into: [:]) { captions, row in
                let (hash, text) = try row.decode((String, String).self)
                captions[hash] = text
            }
        }
    }

    /// The newest caption of the content of each of these files, by path.
    public func captions(ofPaths paths: [String]) throws -> [String: String] {
        guard !paths.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT DISTINCT ON (f.path) f.path, c.text FROM file f JOIN caption c ON c.content_hash = f.content_hash
                WHERE f.path = ANY(\(paths)) ORDER BY f.path, c.captioned_at DESC
                """, "cannot read the captions").reduce(into: [:]) { captions, row in
                let (path, text) = try row.decode((String, String).self)
                captions[path] = text
            }
        }
    }

    /// The caption `captionModelId` made with `prompt` of the content of each of these
    /// indexed files, by path.
    public func captions(ofPaths paths: [String], captionModelId: String, prompt: String) throws -> [String: String] {
        guard !paths.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT f.path, c.text FROM file f JOIN caption c ON c.content_hash = f.content_hash
                WHERE f.state = 'indexed' AND c.caption_model_id = \(captionModelId) AND c.prompt = \(prompt) AND f.path = ANY(\(paths))
                """, "cannot read the captions").reduce(into: [:]) { captions, row in
                let (path, text) = try row.decode((String, String).self)
                captions[path] = text
            }
        }
    }

    /// What each image's content says about itself (date taken, camera, …), by image id.
    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] {
        guard !ids.isEmpty else { return [:] }
        return try metadata(keyedBy: "i.id", from: "image i JOIN metadata m ON m.content_hash = i.content_hash",
                            where: "i.id = ANY($1)", ids)
    }

    /// What the content of each of these files says about itself, by path.
    public func metadata(ofPaths paths: [String]) throws -> [String: PhotoMetadata] {
        guard !paths.isEmpty else { return [:] }
        return try metadata(keyedBy: "f.path", from: "file f JOIN metadata m ON m.content_hash = f.content_hash",
                            where: "f.path = ANY($1)", paths)
    }

    /// The metadata rows (`m`) that `tables` and `condition` (on `value`, bound as $1) select,
    /// by the `key` column.
    private func metadata<Key: Hashable & PostgresDecodable>(keyedBy key: String, from tables: String, where condition: String,
                                                           _ value: some PostgresDynamicTypeEncodable) throws -> [Key: PhotoMetadata] {
        var binds = PostgresBindings()
        binds.append(value)
        let sql = """
            SELECT \(key), m.content_hash, m.format, m.width, m.height, m.taken_at, m.taken_at_source, m.utc_offset,
                   m.camera_make, m.camera_model, m.latitude, m.longitude
            FROM \(tables) WHERE \(condition)
            """
        return try sessions.with { session in
            try session.query(PostgresQuery(unsafeSQL: sql, binds: binds), "cannot read the photos' metadata").reduce(into: [:]) { found, row in
                let (key, hash, format, width, height, taken, source, offset, make, model, latitude, longitude)
                    = try row.decode((Key, String, String, Int?, Int?, String, String, String?, String?, String?, Double?, Double?).self)
                guard let source = PhotoMetadata.DateSource(rawValue: source) else {
                    throw PostgresStoreError(store: location, "content \(hash) has an unknown date source \"\(source)\"")
                }
                found[key] = PhotoMetadata(contentHash: hash, format: format, width: width, height: height, takenAt: taken,
                                           takenAtSource: source, utcOffset: offset, cameraMake: make, cameraModel: model,
                                           latitude: latitude, longitude: longitude)
            }
        }
    }

    /// The folders under `roots` that directly hold indexed, online files, with how many.
    public func folders(under roots: [String]) throws -> [String: Int] {
        try sessions.with { session in
            try session.query("""
                SELECT regexp_replace(path, '/[^/]*$', ''), count(*) FROM file
                WHERE state = 'indexed' AND offline_since IS NULL GROUP BY 1
                """, "cannot read the folders").reduce(into: [:]) { counts, row in
                let (folder, count) = try row.decode((String, Int).self)
                if Catalog.path(folder + "/", isUnderAnyOf: roots) { counts[folder.isEmpty ? "/" : folder] = count }
            }
        }
    }

    /// Online files per state, files kept offline, and the most recent failures (newest first).
    public func fileStatus(recentFailures: Int) throws -> (byState: [FileState: Int], offline: Int, failures: [(path: String, error: String)]) {
        try sessions.with { session in
            var counts: [FileState: Int] = [:]
            var offline = 0
            for row in try session.query("""
                SELECT state, offline_since IS NOT NULL, count(*) FROM file GROUP BY 1, 2
                """, "cannot count the files") {
                let (state, isOffline, count) = try row.decode((String, Bool, Int).self)
                if isOffline { offline += count } else if let state = FileState(rawValue: state) { counts[state, default: 0] += count }
            }
            let failures = try session.query("""
                SELECT path, coalesce(last_error, 'unknown') FROM file WHERE state = 'failed' AND offline_since IS NULL
                ORDER BY updated_at DESC LIMIT \(recentFailures)
                """, "cannot read the failures").map { try $0.decode((String, String).self) }
            return (counts, offline, failures.map { (path: $0.0, error: $0.1) })
        }
    }
}

/// What `imgsearch status --store` reports about a PostgreSQL store.
public struct PostgresStoreStatus: Sendable {
    /// Migrations applied.
    public let schemaVersion: Int
    /// Each model with its searchable or kept embeddings.
    public let models: [(model: ModelRecord, images: Int)]
    /// Embeddings no file holds any more, kept for their grace period.
    public let keptEmbeddings: Int
    /// Offline files per root.
    public let offlineByRoot: [String: Int]
    /// Photos captioned, per captioning model.
    public let captionsByModel: [String: Int]
}

extension PostgresCatalog {
    /// The store's schema, models, kept embeddings, offline files and captions.
    public func status() throws -> PostgresStoreStatus {
        try sessions.with { session in
            let schema = try session.query("SELECT count(*) FROM imgsearch_migration", "cannot read the migrations")
                .first!.decode(Int.self)
            let models = try session.query("""
                SELECT m.id, m.description, m.query_count, m.dimension, m.registered_at, count(i.id)
                FROM model m LEFT JOIN image i ON i.model_id = m.id GROUP BY m.id ORDER BY m.id
                """, "cannot read the models").map { row in
                let (id, description, queries, dimension, registered, images) = try row.decode((String, String, Int, Int, Date, Int).self)
                return (model: ModelRecord(id: id, description: description, queryCount: queries, dimension: dimension,
                                           registeredAt: registered), images: images)
            }
            let kept = try session.query("SELECT count(*) FROM image WHERE orphaned_since IS NOT NULL", "cannot count the kept embeddings")
                .first!.decode(Int.self)
            let offline = try session.query("""
                SELECT root, count(*) FROM file WHERE offline_since IS NOT NULL GROUP BY root
                """, "cannot count the offline files").reduce(into: [String: Int]()) { counts, row in
                let (root, count) = try row.decode((String, Int).self)
                counts[root] = count
            }
            let captions = try session.query("""
                SELECT caption_model_id, count(*) FROM caption GROUP BY caption_model_id
                """, "cannot count the captions").reduce(into: [String: Int]()) { counts, row in
                let (model, count) = try row.decode((String, Int).self)
                counts[model] = count
            }
            return PostgresStoreStatus(schemaVersion: schema, models: models, keptEmbeddings: kept, offlineByRoot: offline,
                                       captionsByModel: captions)
        }
    }
}

/// What finding duplicates reads from a PostgreSQL store, as from the SQLite catalog.
extension PostgresCatalog {
    /// Every indexed, online file under `roots` (nil: all), with its picture's metadata, by path.
    public func pictures(under roots: [String]?) throws -> [CatalogPicture] {
        try sessions.with { session in
            try session.query("""
                SELECT f.path, f.content_hash, f.size, m.width, m.height, m.taken_at, m.signature
                FROM file f LEFT JOIN metadata m ON m.content_hash = f.content_hash
                WHERE f.state = 'indexed' AND f.offline_since IS NULL AND f.content_hash IS NOT NULL
                  AND (\(roots)::text[] IS NULL OR EXISTS (
                    SELECT 1 FROM unnest(\(roots)::text[]) r WHERE starts_with(f.path, rtrim(r, '/') || '/')))
                ORDER BY f.path
                """, "cannot read the pictures").map { row in
                let (path, hash, size, width, height, taken, signature)
                    = try row.decode((String, String, Int64, Int?, Int?, String?, Data?).self)
                return CatalogPicture(path: path, contentHash: hash, bytes: size, width: width, height: height, takenAt: taken,
                                      signature: signature.flatMap(PerceptualSignature.init(data:)))
            }
        }
    }

    /// Every model the store holds embeddings of, oldest first.
    public func models() throws -> [ModelRecord] {
        try sessions.with { session in
            try session.query("""
                SELECT id, description, query_count, dimension, registered_at FROM model ORDER BY registered_at, id
                """, "cannot read the models").map { row in
                let (id, description, queries, dimension, registered) = try row.decode((String, String, Int, Int, Date).self)
                return ModelRecord(id: id, description: description, queryCount: queries, dimension: dimension, registeredAt: registered)
            }
        }
    }

    /// The mean of the query vectors of each searchable content `modelId` embedded, by
    /// content hash: averaged on each partition's server (pgvector's `avg`), at once.
    public func meanVectors(modelId: String) throws -> [String: [Float]] {
        let model = try storedModel(modelId)
        let means = Mutex<[Int64: [Float]]>([:]), failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: partitions.count) { index in
            let (number, sessions) = partitions[index]
            do {
                let found = try sessions.with { session in
                    try session.query("""
                        SELECT image_id, avg(v)::real[] FROM \(unescaped: "image_vector_\(number)")
                        WHERE model_key = \(model.key) GROUP BY image_id
                        """, number == 0 ? "cannot average the vectors" : "cannot average the vectors on shard \(number)")
                        .map { try $0.decode((Int64, [Float]).self) }
                }
                means.withLock { for (id, mean) in found { $0[id] = mean } }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) {
            guard let error = error as? PostgresStoreError else { throw error }
            throw PostgresStoreError(store: error.store, layout.naming(error.reason), sqlState: error.sqlState)
        }
        let hashes = try sessions.with { session in
            try session.query("SELECT i.id, i.content_hash FROM image i WHERE i.model_id = \(modelId) AND \(unescaped: Self.searchable)",
                              "cannot read the images").map { try $0.decode((Int64, String).self) }
        }
        let byImage = means.withLock { $0 }
        return hashes.reduce(into: [:]) { found, image in found[image.1] = byImage[image.0] }
    }
}
