/// An `ImageIndex` on any FAISS index (`IndexKind.factory`): every image's query vectors
/// in one FAISS index, with vector ids `imageID × queriesPerImage + query`, so a hit maps
/// back to its image. With "Flat" it is exact; IVF, PQ and HNSW kinds trade recall for
/// memory and speed at a million images.
public final class FaissImageIndex: ImageIndex {
    public let vectors: VectorIndex
    public let queriesPerImage: Int

    public init(vectors: VectorIndex, queriesPerImage: Int) {
        self.vectors = vectors
        self.queriesPerImage = queriesPerImage
    }

    public var dimension: Int { vectors.dimension }
    public var imageCount: Int { vectors.count / queriesPerImage }

    /// Adds images; `embeddings` holds each image's queriesPerImage × dimension floats in turn.
    public func add(imageIDs: [Int64], embeddings: [Float]) throws {
        precondition(embeddings.count == imageIDs.count * queriesPerImage * dimension, "embedding size mismatch")
        var ids: [Int64] = []
        ids.reserveCapacity(imageIDs.count * queriesPerImage)
        for image in imageIDs {
            for query in 0..<queriesPerImage { ids.append(image * Int64(queriesPerImage) + Int64(query)) }
        }
        try vectors.add(embeddings, ids: ids)
    }

    @discardableResult
    public func remove(imageIDs: [Int64]) throws -> Int {
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
    public func search(_ searchVectors: [Float], limit: Int) throws -> [ScoredImage] {
        try checkSearchVectors(searchVectors, dimension: dimension)
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
            let ranked = best.map { ScoredImage(imageID: $0.key, score: $0.value) }.sorted(by: ScoredImage.ranking)
            let exhausted = k >= total || rows.allSatisfy { $0.count < k }
            if exhausted || ranked.count >= limit && rows.allSatisfy({ row in row.last.map { $0.score < ranked[limit - 1].score } ?? true }) {
                return Array(ranked.prefix(limit))
            }
            k = min(k * 2, total)
        }
    }
}
