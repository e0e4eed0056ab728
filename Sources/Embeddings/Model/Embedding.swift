/// An image in BLIP-2's shared space: one L2-normalised vector per learned query
/// (32 × 256 for the real model). Each query attends to a different part of the image,
/// so a text is compared with all of them and the best one counts.
public struct ImageEmbedding: Sendable, Equatable {
    public let queryCount: Int
    public let dimension: Int
    /// Row-major [queryCount, dimension].
    public let values: [Float]

    public init(queryCount: Int, dimension: Int, values: [Float]) {
        precondition(values.count == queryCount * dimension, "embedding size mismatch")
        self.queryCount = queryCount
        self.dimension = dimension
        self.values = values
    }

    public func query(_ index: Int) -> ArraySlice<Float> {
        values[(index * dimension)..<((index + 1) * dimension)]
    }

    /// BLIP-2's ITC score: the maximum over the queries of the cosine with the text, in [-1, 1].
    public func maxOverQueries(_ text: TextEmbedding) -> Float {
        precondition(text.values.count == dimension, "dimension mismatch")
        var best = -Float.infinity
        for query in 0..<queryCount {
            var dot: Float = 0
            let base = query * dimension
            for i in 0..<dimension { dot += values[base + i] * text.values[i] }
            best = max(best, dot)
        }
        return best
    }
}

/// A text in BLIP-2's shared space: the projected, L2-normalised [CLS] state.
public struct TextEmbedding: Sendable, Equatable {
    public let values: [Float]

    public init(values: [Float]) { self.values = values }
}
