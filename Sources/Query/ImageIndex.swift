/// One search hit: an image of the catalog and its score.
public struct ScoredImage: Sendable, Equatable {
    public let imageID: Int64
    public let score: Float

    public init(imageID: Int64, score: Float) {
        self.imageID = imageID
        self.score = score
    }
}

/// Images as sets of query vectors (BLIP-2: 32 per image) in one vector index, searched by
/// **max over queries**: an image's score for a text is the best dot product among its
/// vectors, because each learned query attends to a different part of the image.
///
/// Vector ids are `imageID × queriesPerImage + query`, so a hit maps back to its image.
public final class ImageIndex: Sendable {
    public let vectors: VectorIndex
    public let queriesPerImage: Int

    public init(vectors: VectorIndex, queriesPerImage: Int) {
        self.vectors = vectors
        self.queriesPerImage = queriesPerImage
    }

    public var dimension: Int { vectors.dimension }
    public var imageCount: Int { vectors.count / queriesPerImage }

    /// Adds images; `embeddings` holds each image's queriesPerImage × dimension floats in turn.
    public func add(imageIDs: [Int64], embeddings: [Float]) throws(VectorIndexError) {
        precondition(embeddings.count == imageIDs.count * queriesPerImage * dimension, "embedding size mismatch")
        var ids: [Int64] = []
        ids.reserveCapacity(imageIDs.count * queriesPerImage)
        for image in imageIDs {
            for query in 0..<queriesPerImage { ids.append(image * Int64(queriesPerImage) + Int64(query)) }
        }
        try vectors.add(embeddings, ids: ids)
    }

    @discardableResult
    public func remove(imageIDs: [Int64]) throws(VectorIndexError) -> Int {
        let ids = imageIDs.flatMap { image in
            (0..<queriesPerImage).map { image * Int64(queriesPerImage) + Int64($0) }
        }
        return try vectors.remove(ids: ids) / queriesPerImage
    }

    /// The `limit` best images for the search vectors (a text: one vector; an image: its
    /// queries), each scored by the maximum dot product over all (search vector, image vector)
    /// pairs; best first, ties broken by the smaller image id.
    ///
    /// Exact on an exact index: the K best images' best vectors are all among the
    /// K × queriesPerImage best vectors (each image can occupy at most queriesPerImage of
    /// the places ahead of it), and the candidate list grows while a tie straddles its end.
    public func search(_ searchVectors: [Float], limit: Int) throws(VectorIndexError) -> [ScoredImage] {
        let total = vectors.count
        guard limit > 0, total > 0 else { return [] }
        var k = min(limit * queriesPerImage, total)
        while true {
            let rows = try vectors.search(searchVectors, k: k)
            var best: [Int64: Float] = [:]
            for row in rows {
                for hit in row {
                    let image = hit.id / Int64(queriesPerImage)
                    if let known = best[image], known >= hit.score { continue }
                    best[image] = hit.score
                }
            }
            let ranked = best.map { ScoredImage(imageID: $0.key, score: $0.value) }.sorted(by: Self.ranking)
            let exhausted = k >= total || rows.allSatisfy { $0.count < k }
            if exhausted || ranked.count >= limit && rows.allSatisfy({ row in row.last.map { $0.score < ranked[limit - 1].score } ?? true }) {
                return Array(ranked.prefix(limit))
            }
            k = min(k * 2, total)
        }
    }

    /// Best score first; equal scores by ascending image id, so results are deterministic.
    static func ranking(_ a: ScoredImage, _ b: ScoredImage) -> Bool {
        a.score != b.score ? a.score > b.score : a.imageID < b.imageID
    }
}
