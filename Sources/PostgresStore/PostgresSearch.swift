import Foundation
import PostgresNIO
import Query
import Store
import Synchronization

/// How a search of the PostgreSQL store finds its candidates; both score them exactly.
public enum PostgresSearchMode: String, Sendable, CaseIterable {
    /// Every vector of the model, grouped by image on each partition's server
    /// (partitionwise aggregation pushed through postgres_fdw): exact max-over-queries.
    case exact
    /// Nearest vectors from each partition's HNSW index, grouped by image, then re-scored
    /// exactly from the stored fp32 vectors on that partition: the top K is exact among the
    /// images reached.
    case approximate
}

extension PostgresCatalog {
    /// The best `limit` searchable images for `vectors` (one search vector for a text, or
    /// several) by max over their query vectors of the dot product, best first, each with its
    /// files; `candidates` is how many nearest vectors each partition gives an approximate
    /// search per search vector (default `defaultCandidates(limit:)`). With `roots`, the best
    /// among the images a file inside one of them holds, each with those files only (a daemon
    /// serving some folders of a shared store). With `allowed` (a filter's images), the best
    /// among those: scored exactly, in either mode, when they are at most
    /// `directlyScoredLimit`; otherwise `mode`'s search, reading on past the others.
    public func search(vectors: [Float], modelId: String, limit: Int, minScore: Float? = nil,
                       mode: PostgresSearchMode, candidates: Int? = nil, under roots: [String]? = nil,
                       among allowed: Set<Int64>? = nil) throws -> [SearchResult] {
        try search(vectors: vectors, modelId: modelId, limit: limit, minScore: minScore, mode: mode, candidates: candidates,
                   under: roots, among: allowed, directlyScoringUpTo: Self.directlyScoredLimit)
    }

    /// `search`, scoring `allowed` directly when they are at most `directLimit`.
    func search(vectors: [Float], modelId: String, limit: Int, minScore: Float?, mode: PostgresSearchMode, candidates: Int?,
                under roots: [String]?, among allowed: Set<Int64>?, directlyScoringUpTo directLimit: Int) throws -> [SearchResult] {
        guard limit >= 1 else { throw PostgresStoreError(store: location, "the limit must be at least 1, not \(limit)") }
        let model = try storedModel(modelId)
        let texts: [String]
        do {
            texts = try PostgresVectors.texts(vectors, dimension: model.dimension)
        } catch {
            throw PostgresStoreError(store: location, "invalid search vectors: \(error.reason)")
        }
        guard !texts.isEmpty else { throw PostgresStoreError(store: location, "no search vector") }
        do {
            let scope = SearchScope(roots: roots, allowed: allowed.map(Array.init))
            var ranked: [ScoredImage]
            if let allowed, allowed.count <= directLimit {
                ranked = try exactTop(texts, model: model, limit: limit, among: allowed, roots: roots)
            } else {
                switch mode {
                case .exact:
                    ranked = try exactTop(texts, model: model, modelId: modelId, limit: limit, scope: scope)
                case .approximate:
                    ranked = try approximateTop(texts, model: model, modelId: modelId, limit: limit,
                                                candidates: candidates ?? Self.defaultCandidates(limit: limit), scope: scope)
                }
            }
            if let minScore { ranked = ranked.filter { $0.score >= minScore } }
            let paths = try paths(ofImages: ranked.map(\.imageID), under: roots)
            return ranked.compactMap { hit in
                paths[hit.imageID].map { SearchResult(imageID: hit.imageID, paths: $0, score: hit.score) }
            }
        } catch let error as PostgresStoreError {
            throw PostgresStoreError(store: error.store, layout.naming(error.reason), sqlState: error.sqlState)
        }
    }

    /// Nearest vectors per partition an approximate search takes by default: 160 per result,
    /// at least 1,600. An image's 32 vectors crowd the nearest ones, so a top 10 needs
    /// far more than 10 vectors: on bench/store.sh's clustered library (10k images), 400
    /// reached recall@10 0.89, 800 reached 0.94, 1,600 reached 0.98.
    public static func defaultCandidates(limit: Int) -> Int { max(160 * limit, 1_600) }

    /// The score of image rows against the search vectors bound as $1…$n: max over the image's
    /// vectors and the search vectors of the dot product, as fp32 (pgvector computes in fp32).
    private static func scoreSQL(searchVectors count: Int) -> String {
        let products = (1...count).map { "-(v <#> $\($0)::vector)" }
        return "(max(" + (count == 1 ? products[0] : "GREATEST(" + products.joined(separator: ", ") + ")") + "))::real"
    }

    private static func bindings(_ texts: [String]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: texts.count + 1)
        for text in texts { binds.append(text) }
        return binds
    }

    /// A filter's images scored directly (each through the vectors' primary key) when they
    /// are at most this many: ~0.3 s of vectors at ~1 µs each.
    public static let directlyScoredLimit = 10_000

    /// Which images a search may return besides the searchable ones: those a file under
    /// `roots` holds, and those among `allowed`; nil: no such condition.
    struct SearchScope {
        let roots: [String]?
        let allowed: [Int64]?
    }

    /// Exact top `limit` among the searchable images in `scope`: the top (limit + the others)
    /// of every image of the model, then the others dropped.
    private func exactTop(_ texts: [String], model: StoredModel, modelId: String, limit: Int,
                          scope: SearchScope) throws -> [ScoredImage] {
        try sessions.transaction("cannot search") { session in
            var binds = PostgresBindings()
            binds.append(modelId)
            binds.append(scope.roots)
            binds.append(scope.allowed)
            let hidden = try session.query(PostgresQuery(unsafeSQL: """
                SELECT count(*) FROM image i WHERE i.model_id = $1 AND NOT (\(Self.searchable(scopeBinds: 2)))
                """, binds: binds), "cannot count the unsearchable images").first!.decode(Int.self)
            try session.query("SET LOCAL enable_partitionwise_aggregate = on", "cannot search")
            var fetched = limit + hidden
            while true {
                let sql = """
                    SELECT image_id, \(Self.scoreSQL(searchVectors: texts.count)) AS score FROM image_vector
                    WHERE model_key = \(model.key) GROUP BY image_id ORDER BY score DESC, image_id LIMIT \(fetched)
                    """
                let scored = try session.query(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(texts)), "cannot search")
                    .map { row in
                        let (id, score) = try row.decode((Int64, Float).self)
                        return ScoredImage(imageID: id, score: score)
                    }
                let kept = try searchableOnly(scored, in: scope, session: session)
                // Vector rows whose image was never committed (a shard that committed when
                // the store did not: postgres_fdw's commits are not two-phase) are dropped
                // above and not counted in `hidden`: read on past them.
                if kept.count >= limit || scored.count < fetched { return Array(kept.prefix(limit)) }
                fetched += limit - kept.count
            }
        }
    }

    /// Exact top `limit` among `allowed` (a filter's images): their vectors scored through the
    /// primary key, grouped by image on each server, the searchable ones kept.
    private func exactTop(_ texts: [String], model: StoredModel, limit: Int, among allowed: Set<Int64>,
                          roots: [String]?) throws -> [ScoredImage] {
        guard !allowed.isEmpty else { return [] }
        return try sessions.transaction("cannot search") { session in
            try session.query("SET LOCAL enable_partitionwise_aggregate = on", "cannot search")
            var binds = Self.bindings(texts)
            binds.append(Array(allowed))
            let scored = try session.query(PostgresQuery(unsafeSQL: """
                SELECT image_id, \(Self.scoreSQL(searchVectors: texts.count)) FROM image_vector
                WHERE model_key = \(model.key) AND image_id = ANY($\(texts.count + 1)::bigint[]) GROUP BY image_id
                """, binds: binds), "cannot search").map { row in
                let (id, score) = try row.decode((Int64, Float).self)
                return ScoredImage(imageID: id, score: score)
            }.sorted(by: ScoredImage.ranking)
            return Array(try searchableOnly(scored, in: SearchScope(roots: roots, allowed: nil), session: session).prefix(limit))
        }
    }

    /// Nearest vectors from each partition's HNSW index, their images re-scored exactly on
    /// the same partition (an image's vectors all live on one: the table is partitioned by
    /// image), every server at once over its own connection; a deeper pass when too few of
    /// them are searchable.
    private func approximateTop(_ texts: [String], model: StoredModel, modelId: String, limit: Int,
                                candidates: Int, scope: SearchScope) throws -> [ScoredImage] {
        var depth = max(candidates, limit)
        while true {
            let reached = try nearestScored(texts, model: model, depth: depth).sorted(by: ScoredImage.ranking)
            let scored = try sessions.with { try searchableOnly(reached, in: scope, session: $0) }
            // Enough searchable images, or every vector reached: done.
            if scored.count >= limit { return Array(scored.prefix(limit)) }
            if depth >= model.queryCount * (try imageCount(modelId: modelId)) { return scored }
            depth *= 4
        }
    }

    /// On every partition: the images of the `depth` nearest vectors to each search vector,
    /// with their exact scores.
    private func nearestScored(_ texts: [String], model: StoredModel, depth: Int) throws -> [ScoredImage] {
        let found = Mutex<[ScoredImage]>([]), failure = Mutex<(any Error)?>(nil)
        // Two statements on the partition's connection: the nearest vectors' images, then
        // their exact scores through the primary key (one statement with both let the planner
        // scan the whole partition).
        let nearestSQL = """
            SELECT image_id FROM image_vector_PARTITION WHERE model_key = \(model.key)
            ORDER BY (v::halfvec(\(model.dimension))) <#> CAST($1 AS halfvec(\(model.dimension))) LIMIT \(depth)
            """
        let rescoreSQL = """
            SELECT image_id, \(Self.scoreSQL(searchVectors: texts.count)) FROM image_vector_PARTITION
            WHERE model_key = \(model.key) AND image_id = ANY($\(texts.count + 1)::bigint[]) GROUP BY image_id
            """
        DispatchQueue.concurrentPerform(iterations: partitions.count) { index in
            let (number, sessions) = partitions[index]
            do {
                let scored = try sessions.transaction("cannot search partition \(number)") { session in
                    try session.execute([
                        "SET LOCAL hnsw.ef_search = \(min(max(depth, 40), 1000))",
                        "SET LOCAL hnsw.iterative_scan = relaxed_order",
                        "SET LOCAL hnsw.max_scan_tuples = \(max(20_000, 4 * depth))",
                        // Past a few hundred candidates the planner would read the whole
                        // partition rather than look each image up by its primary key.
                        "SET LOCAL enable_seqscan = off",
                    ], "cannot set up the search of partition \(number)")
                    var reached: Set<Int64> = []
                    for text in texts {
                        var binds = PostgresBindings()
                        binds.append(text)
                        let nearest = PostgresQuery(unsafeSQL: nearestSQL.replacingOccurrences(of: "PARTITION", with: "\(number)"),
                                                    binds: binds)
                        for row in try session.query(nearest, "cannot search partition \(number)") {
                            reached.insert(try row.decode(Int64.self))
                        }
                    }
                    var binds = Self.bindings(texts)
                    binds.append(Array(reached))
                    let rescore = PostgresQuery(unsafeSQL: rescoreSQL.replacingOccurrences(of: "PARTITION", with: "\(number)"),
                                                binds: binds)
                    return try session.query(rescore, "cannot re-score partition \(number)'s candidates").map { row in
                        let (id, score) = try row.decode((Int64, Float).self)
                        return ScoredImage(imageID: id, score: score)
                    }
                }
                found.withLock { $0 += scored }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return found.withLock { $0 }
    }

    /// Images that an indexed, online file holds and that are not kept orphans.
    static let searchable = """
        i.orphaned_since IS NULL AND EXISTS (SELECT 1 FROM file f WHERE f.content_hash = i.content_hash
          AND f.state = 'indexed' AND f.offline_since IS NULL)
        """

    /// `searchable`, and within a `SearchScope` whose roots (text[], or NULL for all) are bound
    /// as $`first` and allowed images (bigint[], or NULL) as the next: a file of the image lies
    /// inside one of the roots, and the image is allowed.
    private static func searchable(scopeBinds first: Int) -> String {
        """
        \(searchable) AND ($\(first)::text[] IS NULL OR EXISTS (
          SELECT 1 FROM file f, unnest($\(first)::text[]) r WHERE f.content_hash = i.content_hash AND f.state = 'indexed'
            AND f.offline_since IS NULL AND starts_with(f.path, rtrim(r, '/') || '/')))
          AND ($\(first + 1)::bigint[] IS NULL OR i.id = ANY($\(first + 1)::bigint[]))
        """
    }

    /// `scored` without the images that are not searchable or not in `scope`, in order.
    private func searchableOnly(_ scored: [ScoredImage], in scope: SearchScope, session: PostgresSession) throws -> [ScoredImage] {
        guard !scored.isEmpty else { return [] }
        let ids = scored.map(\.imageID)
        var binds = PostgresBindings()
        binds.append(ids)
        binds.append(scope.roots)
        binds.append(scope.allowed)
        let keep = Set(try session.query(PostgresQuery(unsafeSQL: """
            SELECT i.id FROM image i WHERE i.id = ANY($1) AND \(Self.searchable(scopeBinds: 2))
            """, binds: binds), "cannot check which images are searchable").map { try $0.decode(Int64.self) })
        return scored.filter { keep.contains($0.imageID) }
    }
}
