import Foundation
import PostgresNIO
import Store

/// Keyword searches of the captions and photo filters on a PostgreSQL store, as the SQLite
/// catalog answers them (`Catalog.captionMatches`, `Catalog.imageIDs(modelId:matching:)`).
extension PostgresCatalog {
    /// The contents whose caption holds every word of `text` (whole words, case and
    /// diacritics ignored, `KeywordWords`), best `ts_rank` first, at most `limit`, each once.
    public func captionMatches(_ text: String, limit: Int) throws -> [KeywordHit] {
        let words = KeywordWords.of(text)
        guard !words.isEmpty else { return [] }
        // The words go as plain text to plainto_tsquery: never read as query syntax.
        return try sessions.with { session in
            try session.query("""
                SELECT c.content_hash, c.text, ts_rank(to_tsvector('simple', c.words), q)::float8 AS rank
                FROM caption c, plainto_tsquery('simple', \(words.joined(separator: " "))) q
                WHERE to_tsvector('simple', c.words) @@ q
                  AND EXISTS (SELECT 1 FROM file f WHERE f.content_hash = c.content_hash AND f.state = 'indexed'
                              AND f.offline_since IS NULL)
                ORDER BY rank DESC, c.content_hash LIMIT \(limit * 4)
                """, "cannot search the captions").reduce(into: [KeywordHit]()) { hits, row in
                // One hit per content: a content captioned by two models counts once, at its best.
                let (hash, caption, rank) = try row.decode((String, String, Double).self)
                if hits.count < limit, !hits.contains(where: { $0.contentHash == hash }) {
                    hits.append(KeywordHit(contentHash: hash, caption: caption, score: rank))
                }
            }
        }
    }

    /// The indexed, online files holding each content, sorted by path.
    public func paths(ofContents hashes: [String]) throws -> [String: [String]] {
        guard !hashes.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("""
                SELECT content_hash, path FROM file WHERE state = 'indexed' AND offline_since IS NULL
                  AND content_hash = ANY(\(hashes)) ORDER BY path
                """, "cannot read the contents' files").reduce(into: [:]) { paths, row in
                let (hash, path) = try row.decode((String, String).self)
                paths[hash, default: []].append(path)
            }
        }
    }

    /// The image id of each content embedded by `modelId`, by content hash.
    public func imageIDs(ofContents hashes: [String], modelId: String) throws -> [String: Int64] {
        guard !hashes.isEmpty else { return [:] }
        return try sessions.with { session in
            try session.query("SELECT content_hash, id FROM image WHERE model_id = \(modelId) AND content_hash = ANY(\(hashes))",
                              "cannot read the images").reduce(into: [:]) { ids, row in
                let (hash, id) = try row.decode((String, Int64).self)
                ids[hash] = id
            }
        }
    }

    /// The searchable images of `modelId` that `filter` keeps (photos without metadata match
    /// no metadata condition).
    public func imageIDs(modelId: String, matching filter: PhotoFilter) throws -> Set<Int64> {
        var binds = PostgresBindings()
        binds.append(modelId)
        return try matching(filter, select: "i.id", from: "image i", alias: "i",
                            conditions: ["i.model_id = $1", Self.searchable], binds: binds)
    }

    /// The contents of indexed, online files that `filter` keeps.
    public func contentHashes(matching filter: PhotoFilter) throws -> Set<String> {
        try matching(filter, select: "DISTINCT f.content_hash", from: "file f", alias: "f",
                     conditions: ["f.state = 'indexed'", "f.offline_since IS NULL", "f.content_hash IS NOT NULL"],
                     binds: PostgresBindings())
    }

    /// The values `select` reads from `table` (whose rows, named `alias`, hold a content
    /// hash) for the contents `filter` keeps; `binds` are the base conditions' parameters.
    private func matching<Value: Hashable & PostgresDecodable>(
        _ filter: PhotoFilter, select: String, from table: String, alias: String, conditions base: [String],
        binds baseBinds: PostgresBindings
    ) throws -> Set<Value> {
        var conditions = base
        var binds = baseBinds
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let after = filter.takenFrom { conditions.append("m.taken_at >= \(bind(after))") }
        if let before = filter.takenBefore { conditions.append("m.taken_at < \(bind(before))") }
        for word in filter.cameraWords {
            conditions.append("(coalesce(m.camera_make, '') || ' ' || coalesce(m.camera_model, '')) ILIKE \(bind("%" + Self.likeEscaped(word) + "%"))")
        }
        if !filter.formats.isEmpty {
            conditions.append("upper(m.format) = ANY(\(bind(filter.formats.map { $0.uppercased() })))")
        }
        if let folder = filter.folder {
            conditions.append("""
                EXISTS (SELECT 1 FROM file u WHERE u.content_hash = \(alias).content_hash AND u.state = 'indexed'
                        AND u.offline_since IS NULL AND starts_with(u.path, rtrim(\(bind(folder)), '/') || '/'))
                """)
        }
        if let place = filter.near {
            let box = place.boundingBox
            conditions.append("m.latitude BETWEEN \(bind(box.latitudes.lowerBound)) AND \(bind(box.latitudes.upperBound))")
            if let longitudes = box.longitudes {
                conditions.append("m.longitude BETWEEN \(bind(longitudes.lowerBound)) AND \(bind(longitudes.upperBound))")
            }
        }
        let sql = """
            SELECT \(select), m.latitude, m.longitude FROM \(table)
            LEFT JOIN metadata m ON m.content_hash = \(alias).content_hash
            WHERE \(conditions.joined(separator: " AND "))
            """
        return try sessions.with { session in
            var found = Set<Value>()
            for row in try session.query(PostgresQuery(unsafeSQL: sql, binds: binds), "cannot filter the photos") {
                let (value, latitude, longitude) = try row.decode((Value, Double?, Double?).self)
                if let place = filter.near {
                    guard let latitude, let longitude, place.contains(latitude: latitude, longitude: longitude) else { continue }
                }
                found.insert(value)
            }
            return found
        }
    }

    /// `text` matched literally by LIKE (with its default escape, the backslash).
    private static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
