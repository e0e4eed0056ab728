/// An approximate index made more precise: it asks `base` for `candidatesPerResult` times
/// as many images as wanted, then ranks those by their exact scores from the fp32 vectors.
/// A quantized index (PQ) is good at finding the neighbourhood and bad at ordering within
/// it; re-scoring fixes the order, so recall only needs the true top K among the candidates.
public final class RescoredImageIndex: ImageIndex {
    public let base: any ImageIndex
    public let candidatesPerResult: Int
    private let fp32Vectors: FP32VectorSource

    public init(base: any ImageIndex, candidatesPerResult: Int, fp32Vectors: @escaping FP32VectorSource) {
        self.base = base
        self.candidatesPerResult = max(1, candidatesPerResult)
        self.fp32Vectors = fp32Vectors
    }

    public var queriesPerImage: Int { base.queriesPerImage }
    public var dimension: Int { base.dimension }
    public var imageCount: Int { base.imageCount }

    public func add(imageIDs: [Int64], embeddings: [Float]) throws {
        try base.add(imageIDs: imageIDs, embeddings: embeddings)
    }

    @discardableResult
    public func remove(imageIDs: [Int64]) throws -> Int {
        try base.remove(imageIDs: imageIDs)
    }

    public func search(_ searchVectors: [Float], limit: Int) throws -> [ScoredImage] {
        let limit = min(limit, imageCount)
        guard limit > 0 else { return [] }
        let candidates = try base.search(searchVectors, limit: limit * candidatesPerResult)
        return try rescore(candidates.map(\.imageID), search: searchVectors, dimension: dimension, limit: limit,
                           source: fp32Vectors)
    }
}
