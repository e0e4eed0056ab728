import PostgresStore
import Query
import Store

/// A catalog whose captions are searched by keyword: the SQLite catalog, or a PostgreSQL store.
public protocol CaptionedCatalog {
    /// The contents whose caption holds every word of `text` (whole words, case and accents
    /// ignored), best first, each once, at most `limit`.
    func captionMatches(_ text: String, limit: Int) throws -> [KeywordHit]
    /// The indexed, online files holding each content, sorted by path.
    func paths(ofContents hashes: [String]) throws -> [String: [String]]
    /// The image id of each content embedded by `modelId`, by content hash.
    func imageIDs(ofContents hashes: [String], modelId: String) throws -> [String: Int64]
    /// The content hash of each image.
    func contentHashes(ofImages ids: [Int64]) throws -> [Int64: String]
}

extension Catalog: CaptionedCatalog {}
extension PostgresCatalog: CaptionedCatalog {}

/// A photo content found through its caption, alone or fused with the semantic ranking:
/// its files and score, and its image id when the search was for one model's images.
public struct ContentHit: Sendable, Equatable {
    public let contentHash: String
    public let imageID: Int64?
    public let paths: [String]
    public let score: Float
}

extension CaptionedCatalog {
    /// Contents whose caption holds every word of `text` (whole words, case and accents
    /// ignored), best first (score −BM25 in SQLite, `ts_rank` in PostgreSQL). With `roots`,
    /// only files under them count; with `modelID`, only contents that model embedded; with
    /// `contents` (a filter), only those. Contents left with no file are left out.
    public func keywordSearch(_ text: String, limit: Int, under roots: [String]? = nil,
                              embeddedBy modelID: String? = nil, among contents: Set<String>? = nil) throws -> [ContentHit] {
        let hits = try keywordHits(text, limit: limit, among: contents)
        let hashes = hits.map(\.contentHash)
        let ids = try modelID.map { try imageIDs(ofContents: hashes, modelId: $0) }
        let paths = try paths(ofContents: hashes, under: roots)
        return hits.compactMap { hit in
            guard let found = paths[hit.contentHash], !found.isEmpty else { return nil }
            let id = ids?[hit.contentHash]
            if ids != nil && id == nil { return nil }
            return ContentHit(contentHash: hit.contentHash, imageID: id, paths: found, score: Float(hit.score))
        }
    }

    /// The `semantic` ranking of `text` fused with its keyword ranking (`keywordSearch`, same
    /// `roots` and `modelID`, read `ReciprocalRankFusion.depth` deep) by reciprocal rank:
    /// score Σ 1/(60 + rank), the best `limit`.
    public func hybridSearch(_ text: String, semantic: [SearchResult], limit: Int, under roots: [String]? = nil,
                             embeddedBy modelID: String? = nil, among contents: Set<String>? = nil) throws -> [ContentHit] {
        let semanticHashes = try contentHashes(ofImages: semantic.map(\.imageID))
        let keyword = try keywordSearch(text, limit: ReciprocalRankFusion.depth(forLimit: limit), under: roots,
                                        embeddedBy: modelID, among: contents)
        var ids: [String: Int64] = [:]
        for result in semantic { if let hash = semanticHashes[result.imageID] { ids[hash] = result.imageID } }
        for hit in keyword { if let id = hit.imageID { ids[hit.contentHash] = id } }
        let fused = ReciprocalRankFusion.fuse([semantic.compactMap { semanticHashes[$0.imageID] }, keyword.map(\.contentHash)])
            .prefix(limit)
        let paths = try paths(ofContents: fused.map(\.item), under: roots)
        return fused.compactMap { hit in
            guard let found = paths[hit.item], !found.isEmpty else { return nil }
            return ContentHit(contentHash: hit.item, imageID: ids[hit.item], paths: found, score: Float(hit.score))
        }
    }

    /// The best `limit` caption hits among `contents` (all when nil): a filter asks the
    /// catalog for more until enough pass it or the hits run out.
    private func keywordHits(_ text: String, limit: Int, among contents: Set<String>?) throws -> [KeywordHit] {
        guard let contents else { return try captionMatches(text, limit: limit) }
        var asked = limit
        while true {
            let hits = try captionMatches(text, limit: asked)
            let kept = hits.filter { contents.contains($0.contentHash) }
            if kept.count >= limit || hits.count < asked { return Array(kept.prefix(limit)) }
            asked *= 4
        }
    }

    /// The indexed, online files of each content, sorted by path; with `roots`, under them.
    private func paths(ofContents hashes: [String], under roots: [String]?) throws -> [String: [String]] {
        let paths = try paths(ofContents: hashes)
        guard let roots else { return paths }
        return paths.mapValues { $0.filter { Catalog.path($0, isUnderAnyOf: roots) } }
    }
}
