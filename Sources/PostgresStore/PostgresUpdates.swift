import Foundation
import PostgresNIO
import Store

/// The writes of one PostgreSQL store transaction (see `PostgresCatalog.update`), with the
/// semantics of the SQLite `CatalogTransaction`.
struct PostgresUpdates: CatalogUpdates {
    let catalog: PostgresCatalog
    let session: PostgresSession

    func register(_ model: ModelRecord) throws {
        try session.query("""
            INSERT INTO model (id, description, query_count, dimension, registered_at)
            VALUES (\(model.id), \(model.description), \(model.queryCount), \(model.dimension), \(model.registeredAt))
            ON CONFLICT (id) DO NOTHING
            """, "cannot register model \(model.id)")
    }

    @discardableResult
    func upsert(_ file: CatalogFile) throws -> CatalogFile {
        try upsert(files: [file])[0]
    }

    @discardableResult
    func storeImage(_ image: StoredImage) throws -> StoredImage {
        try storeImages([image])[0]
    }

    /// Two statements per model, whatever the count: the images' rows, then every new one's
    /// query vectors cut on the server from one binary float4[] (no text to format or parse:
    /// ~1.5× the insert rate of pgvector's text form; a batch, ~1.7× that of an image at a time).
    @discardableResult
    func storeImages(_ images: [StoredImage]) throws -> [StoredImage] {
        var stored = images
        for (modelId, indexes) in Dictionary(grouping: images.indices, by: { images[$0].modelId }) {
            let model = try catalog.storedModel(modelId, session: session)
            var floats: [Float] = []
            floats.reserveCapacity(indexes.count * model.queryCount * model.dimension)
            for index in indexes {
                let image = images[index]
                let values = image.vectors.count / MemoryLayout<Float>.size
                guard values == model.queryCount * model.dimension else {
                    throw PostgresStoreError(store: catalog.location, "the embedding of \(image.contentHash) has \(values) values, "
                                                 + "model \(modelId) makes \(model.queryCount) × \(model.dimension)")
                }
                do {
                    floats += try PostgresVectors.floats(image.vectors, dimension: model.dimension)
                } catch {
                    throw PostgresStoreError(store: catalog.location, "the embedding of \(image.contentHash): \(error.reason)")
                }
            }
            let hashes = indexes.map { images[$0].contentHash }, dates = indexes.map { images[$0].embeddedAt }
            var inserted: [String: Int64] = [:]
            for row in try session.query("""
                INSERT INTO image (content_hash, model_id, embedded_at)
                SELECT h, \(modelId), d FROM unnest(\(hashes)::text[], \(dates)::timestamptz[]) WITH ORDINALITY AS t(h, d, n) ORDER BY n
                ON CONFLICT (content_hash, model_id) DO NOTHING RETURNING id, content_hash
                """, "cannot store \(hashes.count) embeddings") {
                let (id, hash) = try row.decode((Int64, String).self)
                inserted[hash] = id
            }
            let existing = hashes.filter { inserted[$0] == nil }
            var kept: [String: (Int64, Date, Date?)] = [:]
            if !existing.isEmpty {
                for row in try session.query("""
                    SELECT content_hash, id, embedded_at, orphaned_since FROM image
                    WHERE model_id = \(modelId) AND content_hash = ANY(\(existing))
                    """, "cannot read \(existing.count) embeddings") {
                    let (hash, id, embedded, orphaned) = try row.decode((String, Int64, Date, Date?).self)
                    kept[hash] = (id, embedded, orphaned)
                }
            }
            // The new images' vectors: image i's k-th vector is slice (i·queries + k) of the array.
            var newIDs: [Int64] = [], newFloats: [Float] = []
            let perImage = model.queryCount * model.dimension
            for (position, index) in indexes.enumerated() {
                let hash = images[index].contentHash
                if let id = inserted[hash], !newIDs.contains(id) {
                    stored[index].id = id
                    newIDs.append(id)
                    newFloats += floats[(position * perImage)..<((position + 1) * perImage)]
                } else if let id = inserted[hash] {
                    stored[index].id = id
                } else if let (id, embedded, orphaned) = kept[hash] {
                    (stored[index].id, stored[index].embeddedAt, stored[index].orphanedSince) = (id, embedded, orphaned)
                }
            }
            guard !newIDs.isEmpty else { continue }
            try session.query("""
                INSERT INTO image_vector (image_id, model_key, k, v)
                SELECT p.ids[i], \(model.key), k::smallint,
                       (p.vals)[((i - 1) * \(model.queryCount) + k) * \(model.dimension) + 1 : ((i - 1) * \(model.queryCount) + k + 1) * \(model.dimension)]::vector
                FROM (SELECT \(newIDs)::bigint[] AS ids, \(newFloats)::real[] AS vals) p,
                     generate_series(1, cardinality(p.ids)) AS i, generate_series(0, \(model.queryCount - 1)) AS k
                """, "cannot store the vectors of \(newIDs.count) embeddings")
        }
        return stored
    }

    /// One statement for every file (the last record of a path given twice); arrays cannot
    /// hold NULL here, so each optional column comes with a "has" flag.
    @discardableResult
    func upsert(files: [CatalogFile]) throws -> [CatalogFile] {
        guard !files.isEmpty else { return [] }
        var last: [String: Int] = [:]
        for (index, file) in files.enumerated() { last[file.path] = index }
        let unique = files.indices.filter { last[files[$0].path] == $0 }.map { files[$0] }
        let ids = try session.query("""
            INSERT INTO file (root, path, device, inode, size, modified_nanoseconds, content_hash, state, last_error,
                              updated_at, offline_since)
            SELECT root, path, device, inode, size, modified, CASE WHEN has_hash THEN hash END, state, CASE WHEN has_error THEN error END,
                   updated, CASE WHEN is_offline THEN offline END
            FROM unnest(\(unique.map(\.root))::text[], \(unique.map(\.path))::text[], \(unique.map(\.device))::bigint[],
                        \(unique.map(\.inode))::bigint[], \(unique.map(\.size))::bigint[], \(unique.map(\.modifiedNanoseconds))::bigint[],
                        \(unique.map { $0.contentHash != nil })::boolean[], \(unique.map { $0.contentHash ?? "" })::text[],
                        \(unique.map(\.state.rawValue))::text[],
                        \(unique.map { $0.lastError != nil })::boolean[], \(unique.map { $0.lastError ?? "" })::text[],
                        \(unique.map(\.updatedAt))::timestamptz[], \(unique.map { $0.offlineSince != nil })::boolean[],
                        \(unique.map { $0.offlineSince ?? $0.updatedAt })::timestamptz[])
                 AS t(root, path, device, inode, size, modified, has_hash, hash, state, has_error, error, updated, is_offline, offline)
            ON CONFLICT (path) DO UPDATE SET root = EXCLUDED.root, device = EXCLUDED.device, inode = EXCLUDED.inode,
              size = EXCLUDED.size, modified_nanoseconds = EXCLUDED.modified_nanoseconds,
              content_hash = EXCLUDED.content_hash, state = EXCLUDED.state, last_error = EXCLUDED.last_error,
              updated_at = EXCLUDED.updated_at, offline_since = EXCLUDED.offline_since
            RETURNING path, id
            """, "cannot record \(unique.count) files").reduce(into: [String: Int64]()) { ids, row in
            let (path, id) = try row.decode((String, Int64).self)
            ids[path] = id
        }
        return files.map { file in
            var stored = file
            stored.id = ids[file.path]
            return stored
        }
    }

    @discardableResult
    func removeFiles(paths: [String]) throws -> Int {
        try session.query("DELETE FROM file WHERE path = ANY(\(paths))", "cannot remove files").metadata.rows ?? 0
    }

    /// Images used by no indexed or pending file.
    private static let used = "EXISTS (SELECT 1 FROM file WHERE file.content_hash = image.content_hash AND file.state <> 'failed')"

    @discardableResult
    func removeOrphanImages(keepingFor grace: TimeInterval, now: Date) throws -> [Int64] {
        try session.query("UPDATE image SET orphaned_since = NULL WHERE orphaned_since IS NOT NULL AND \(unescaped: Self.used)",
                          "cannot unmark orphaned images")
        try session.query("UPDATE image SET orphaned_since = \(now) WHERE orphaned_since IS NULL AND NOT \(unescaped: Self.used)",
                          "cannot mark orphaned images")
        return try removeExpiredOrphanImages(keptFor: grace, now: now)
    }

    @discardableResult
    func removeExpiredOrphanImages(keptFor grace: TimeInterval, now: Date) throws -> [Int64] {
        let expired = try session.query("""
            DELETE FROM image WHERE orphaned_since <= \(now.addingTimeInterval(-grace)) RETURNING id, content_hash
            """, "cannot remove orphaned images").map { try $0.decode((Int64, String).self) }
        guard !expired.isEmpty else { return [] }
        let ids = expired.map(\.0), hashes = Array(Set(expired.map(\.1)))
        try session.query("DELETE FROM image_vector WHERE image_id = ANY(\(ids))", "cannot remove orphaned images' vectors")
        // Their captions and metadata go with them once no file holds the content and no model keeps it.
        for table in ["caption", "metadata"] {
            try session.query("""
                DELETE FROM \(unescaped: table) t WHERE t.content_hash = ANY(\(hashes))
                  AND NOT EXISTS (SELECT 1 FROM file WHERE file.content_hash = t.content_hash)
                  AND NOT EXISTS (SELECT 1 FROM image WHERE image.content_hash = t.content_hash)
                """, "cannot remove orphaned images' \(table)")
        }
        return ids
    }

    @discardableResult
    func markOffline(root: String, now: Date) throws -> Int {
        try session.query("UPDATE file SET offline_since = \(now) WHERE root = \(root) AND offline_since IS NULL",
                          "cannot mark files offline").metadata.rows ?? 0
    }

    @discardableResult
    func markOffline(paths: [String], now: Date) throws -> Int {
        try session.query("UPDATE file SET offline_since = \(now) WHERE offline_since IS NULL AND path = ANY(\(paths))",
                          "cannot mark files offline").metadata.rows ?? 0
    }

    @discardableResult
    func removeOfflineFiles(under folder: String?) throws -> Int {
        try session.query("""
            DELETE FROM file WHERE offline_since IS NOT NULL
              AND (\(folder)::text IS NULL OR starts_with(path, rtrim(\(folder)::text, '/') || '/'))
            """, "cannot remove offline files").metadata.rows ?? 0
    }

    @discardableResult
    func markOnline(paths: [String]) throws -> Int {
        try session.query("UPDATE file SET offline_since = NULL WHERE offline_since IS NOT NULL AND path = ANY(\(paths))",
                          "cannot mark files online").metadata.rows ?? 0
    }

    func recordRoot(_ root: IndexedRoot) throws {
        try session.query("""
            INSERT INTO root (path, device, indexed_at) VALUES (\(root.path), \(root.device), \(root.indexedAt))
            ON CONFLICT (path) DO UPDATE SET device = EXCLUDED.device, indexed_at = EXCLUDED.indexed_at
            """, "cannot record root \(root.path)")
    }

    func store(captions: [StoredCaption], at date: Date) throws {
        for caption in captions {
            try session.query("""
                INSERT INTO caption (content_hash, caption_model_id, text, words, prompt, captioned_at)
                VALUES (\(caption.contentHash), \(caption.captionModelId), \(caption.text),
                        \(KeywordWords.of(caption.text).joined(separator: " ")), \(caption.prompt), \(date))
                ON CONFLICT DO NOTHING
                """, "cannot store the caption of \(caption.contentHash)")
        }
    }

    func store(_ metadata: [PhotoMetadata]) throws {
        for row in metadata {
            try session.query("""
                INSERT INTO metadata (content_hash, format, width, height, taken_at, taken_at_source, utc_offset, camera_make,
                                      camera_model, latitude, longitude, signature)
                VALUES (\(row.contentHash), \(row.format), \(row.width), \(row.height), \(row.takenAt), \(row.takenAtSource.rawValue),
                        \(row.utcOffset), \(row.cameraMake), \(row.cameraModel), \(row.latitude), \(row.longitude), \(row.signature))
                ON CONFLICT (content_hash) DO UPDATE SET format = EXCLUDED.format, width = EXCLUDED.width,
                  height = EXCLUDED.height, taken_at = EXCLUDED.taken_at, taken_at_source = EXCLUDED.taken_at_source,
                  utc_offset = EXCLUDED.utc_offset, camera_make = EXCLUDED.camera_make, camera_model = EXCLUDED.camera_model,
                  latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, signature = EXCLUDED.signature
                """, "cannot store the metadata of \(row.contentHash)")
        }
    }
}

/// Query vectors checked before they reach the store: as fp32 values (stored through a binary
/// float4[]), or as pgvector's text form ("[0.1,-0.2,…]", for searches), which carries every
/// fp32 value exactly (Swift prints the shortest text that reads back as the same float).
enum PostgresVectors {
    /// The values of `data` (fp32, as `StoredVectors` keeps them), checked as whole, finite
    /// vectors of `dimension`.
    static func floats(_ data: Data, dimension: Int) throws(InvalidVectors) -> [Float] {
        var floats = [Float](repeating: 0, count: data.count / MemoryLayout<Float>.size)
        _ = floats.withUnsafeMutableBytes { data.copyBytes(to: $0) }
        try check(floats, dimension: dimension)
        return floats
    }

    static func texts(_ floats: [Float], dimension: Int) throws(InvalidVectors) -> [String] {
        try check(floats, dimension: dimension)
        return stride(from: 0, to: floats.count, by: dimension).map { start in
            "[" + floats[start..<start + dimension].map { "\($0)" }.joined(separator: ",") + "]"
        }
    }

    private static func check(_ floats: [Float], dimension: Int) throws(InvalidVectors) {
        guard dimension > 0, floats.count % dimension == 0 else {
            throw InvalidVectors(reason: "\(floats.count) values are not whole vectors of \(dimension)")
        }
        guard floats.allSatisfy(\.isFinite) else {
            throw InvalidVectors(reason: "a vector holds a NaN or infinite value")
        }
    }
}

/// Values that are not a store's vectors: callers say whose they are.
struct InvalidVectors: Error {
    let reason: String
}
