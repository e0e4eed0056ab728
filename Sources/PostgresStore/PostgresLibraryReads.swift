import Foundation
import PostgresNIO
import Store

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

    /// What each image's content says about itself (date taken, camera, …), by image id.
    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] {
        guard !ids.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT i.id, m.content_hash, m.format, m.width, m.height, m.taken_at, m.taken_at_source, m.utc_offset,
                       m.camera_make, m.camera_model, m.latitude, m.longitude
                FROM image i JOIN metadata m ON m.content_hash = i.content_hash WHERE i.id = ANY(\(ids))
                """, "cannot read the photos' metadata").reduce(into: [:]) { found, row in
                let (id, hash, format, width, height, taken, source, offset, make, model, latitude, longitude)
                    = try row.decode((Int64, String, String, Int?, Int?, String, String, String?, String?, String?, Double?, Double?).self)
                guard let source = PhotoMetadata.DateSource(rawValue: source) else {
                    throw PostgresStoreError(store: location, "content \(hash) has an unknown date source \"\(source)\"")
                }
                found[id] = PhotoMetadata(contentHash: hash, format: format, width: width, height: height, takenAt: taken,
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
