import Foundation

/// LAVIS's retrieval protocol: the ITC ranking gives candidates, BLIP-2's image-text
/// matching head (ITM) re-scores the first `count` of them, which are then ordered by their
/// match probability; the rest keep their ITC order. Each re-scored image takes one vision
/// pass over its file (a catalog keeps no vision states): the cost of embedding it again.
public struct MatchRerank: Sendable {
    /// At most this many images are re-scored.
    public static let maxCount = 100

    /// Needs its image, text and matching parts.
    public let model: Blip2Model
    public let count: Int

    public init(model: Blip2Model, count: Int) {
        self.model = model
        self.count = min(max(count, 1), Self.maxCount)
    }

    /// `candidates` (best ITC first, each with its files) with the first `count` ordered by
    /// their ITM probability for `text`, each with it (its first readable file scored); ties
    /// and a candidate with no readable file (`failed` is told why, no probability) keep
    /// their ITC order, the unscored after the scored; the rest follow in their order.
    public func rerank<Candidate>(_ candidates: [Candidate], text: String, paths: (Candidate) -> [String],
                                  failed: (String, ImageError) -> Void = { _, _ in })
        throws(ModelError) -> [(candidate: Candidate, probability: Float?)] {
        let tokens = try model.snapshot.tokenize(text)
        let preprocessor = ImagePreprocessor(size: model.config.imageSize)
        var scored: [(candidate: Candidate, probability: Float?)] = []
        for candidate in candidates.prefix(count) {
            var probability: Float?
            for path in paths(candidate) where probability == nil {
                let pixels: [Float]
                do {
                    pixels = try preprocessor.pixels(path: path)
                } catch {
                    failed(path, error)
                    continue
                }
                probability = try model.match(pixels: pixels, texts: [tokens]).probabilities[0]
            }
            scored.append((candidate, probability))
        }
        let head = scored.indices.sorted { a, b in
            switch (scored[a].probability, scored[b].probability) {
            case let (x?, y?): return x != y ? x > y : a < b
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }.map { scored[$0] }
        return head + candidates.dropFirst(count).map { ($0, nil) }
    }
}
