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

    /// The ITM probability of `text` for each of the first `count` candidates (each given
    /// by its files, the first readable one scored); nil for one with no readable file
    /// (`failed` is told why).
    public func probabilities(of text: String, candidates: [[String]],
                              failed: (String, ImageError) -> Void = { _, _ in }) throws(ModelError) -> [Float?] {
        let tokens = try model.snapshot.tokenize(text)
        let preprocessor = ImagePreprocessor(size: model.config.imageSize)
        var probabilities: [Float?] = []
        for paths in candidates.prefix(count) {
            var probability: Float?
            for path in paths where probability == nil {
                let pixels: [Float]
                do {
                    pixels = try preprocessor.pixels(path: path)
                } catch {
                    failed(path, error)
                    continue
                }
                probability = try model.match(pixels: pixels, texts: [tokens]).probabilities[0]
            }
            probabilities.append(probability)
        }
        return probabilities
    }

    /// Candidate indices in the new order: the scored ones by probability (ties and the
    /// unscored keep their ITC order, the unscored after), then every candidate past them.
    public static func order(_ probabilities: [Float?], candidates: Int) -> [Int] {
        let head = probabilities.indices.sorted { a, b in
            switch (probabilities[a], probabilities[b]) {
            case let (x?, y?): return x != y ? x > y : a < b
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return head + Array(probabilities.count..<max(candidates, probabilities.count))
    }
}
