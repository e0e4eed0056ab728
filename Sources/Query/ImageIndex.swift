/// One search hit: an image of the catalog and its score.
public struct ScoredImage: Sendable, Equatable {
    public let imageID: Int64
    public let score: Float

    public init(imageID: Int64, score: Float) {
        self.imageID = imageID
        self.score = score
    }

    /// Best score first; equal scores by ascending image id, so results are deterministic.
    public static func ranking(_ a: ScoredImage, _ b: ScoredImage) -> Bool {
        a.score != b.score ? a.score > b.score : a.imageID < b.imageID
    }
}

/// Images as sets of query vectors (BLIP-2: 32 per image), searched by **max over
/// queries**: an image's score is the best dot product between any of the search vectors
/// (one for a text) and any of its vectors, because each learned query attends to a
/// different part of the image and one good match is what a caption needs.
public protocol ImageIndex: Sendable {
    var queriesPerImage: Int { get }
    var dimension: Int { get }
    var imageCount: Int { get }

    /// Adds images; `embeddings` holds each image's queriesPerImage × dimension floats in turn.
    func add(imageIDs: [Int64], embeddings: [Float]) throws
    /// Removes images; returns how many were there.
    @discardableResult
    func remove(imageIDs: [Int64]) throws -> Int
    /// The `limit` best images, best first, ties by the smaller id.
    func search(_ searchVectors: [Float], limit: Int) throws -> [ScoredImage]
    /// The `limit` best of the images in `allowed` (a filter), as `search` ranks them.
    func search(_ searchVectors: [Float], limit: Int, among allowed: Set<Int64>) throws -> [ScoredImage]
}

extension ImageIndex {
    /// Asks for more of the unfiltered ranking until `limit` allowed images are found or the
    /// index is exhausted: exact, and as slow as the filter is selective. Indexes that can
    /// skip what the filter rules out inside their scan do so instead.
    public func search(_ searchVectors: [Float], limit: Int, among allowed: Set<Int64>) throws -> [ScoredImage] {
        var asked = min(max(limit, 1), imageCount)
        while asked > 0 {
            let hits = try search(searchVectors, limit: asked)
            let kept = hits.filter { allowed.contains($0.imageID) }
            if kept.count >= limit || hits.count < asked || asked >= imageCount { return Array(kept.prefix(limit)) }
            asked = min(imageCount, asked * 4)
        }
        return []
    }
}

/// Checks what a search is given before it reaches C++ code that trusts it: whole vectors of
/// `dimension`, finite values (a NaN or infinity would make the scan's bounds meaningless).
func checkSearchVectors(_ vectors: [Float], dimension: Int) throws {
    guard !vectors.isEmpty, vectors.count % dimension == 0 else {
        throw VectorIndexError(reason: "\(vectors.count) search values are not whole vectors of \(dimension)")
    }
    guard vectors.allSatisfy(\.isFinite) else {
        throw VectorIndexError(reason: "a search vector holds NaN or infinity")
    }
}

/// The exact max-over-queries score of one image's vectors (row-major) for search vectors.
func maxOverQueries(_ image: UnsafeBufferPointer<Float>, _ search: [Float], dimension: Int) -> Float {
    if dimension % 32 == 0 { return search.withUnsafeBufferPointer { maxOverQueriesInBlocks(image, $0, dimension: dimension) } }
    var best = -Float.infinity
    for row in Swift.stride(from: 0, to: image.count, by: dimension) {
        for start in Swift.stride(from: 0, to: search.count, by: dimension) {
            var dot: Float = 0
            for i in 0..<dimension { dot += image[row + i] * search[start + i] }
            best = max(best, dot)
        }
    }
    return best
}

/// maxOverQueries for a dimension that is a multiple of 32, in four 8-lane sums: the same
/// products added in another order (within float rounding of the sequential sum), several
/// times faster, which matters for an image's 32 search vectors (1,024 products a candidate).
private func maxOverQueriesInBlocks(_ image: UnsafeBufferPointer<Float>, _ search: UnsafeBufferPointer<Float>,
                                    dimension: Int) -> Float {
    guard let rows = UnsafeRawPointer(image.baseAddress), let searches = UnsafeRawPointer(search.baseAddress) else { return -.infinity }
    let stride = MemoryLayout<Float>.stride
    @inline(__always) func lanes(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
    }
    var best = -Float.infinity
    for row in Swift.stride(from: 0, to: image.count, by: dimension) {
        for start in Swift.stride(from: 0, to: search.count, by: dimension) {
            var sums = (SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero, SIMD8<Float>.zero)
            for i in Swift.stride(from: 0, to: dimension, by: 32) {
                sums.0 += lanes(rows, row + i) * lanes(searches, start + i)
                sums.1 += lanes(rows, row + i + 8) * lanes(searches, start + i + 8)
                sums.2 += lanes(rows, row + i + 16) * lanes(searches, start + i + 16)
                sums.3 += lanes(rows, row + i + 24) * lanes(searches, start + i + 24)
            }
            best = max(best, ((sums.0 + sums.1) + (sums.2 + sums.3)).sum())
        }
    }
    return best
}

/// Returns the fp32 vectors (queriesPerImage × dimension) of each requested image that exists.
public typealias FP32VectorSource = @Sendable ([Int64]) throws -> [Int64: [Float]]

/// Exact scores of `candidates` from their fp32 vectors; the best `limit`, ranked.
func rescore(_ candidates: [Int64], search: [Float], dimension: Int, limit: Int,
             source: FP32VectorSource) throws -> [ScoredImage] {
    let vectors = try source(candidates)
    var scored: [ScoredImage] = []
    scored.reserveCapacity(candidates.count)
    for id in candidates {
        guard let values = vectors[id] else { continue }  // gone from the source since
        let score = values.withUnsafeBufferPointer { maxOverQueries($0, search, dimension: dimension) }
        scored.append(ScoredImage(imageID: id, score: score))
    }
    return Array(scored.sorted(by: ScoredImage.ranking).prefix(limit))
}
