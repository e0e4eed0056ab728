/// Embeds image files in batches: preprocesses each file, skips the ones that fail (with
/// their error), and runs the model once per batch of readable images.
public struct ImageBatchEmbedder: Sendable {
    public let model: Blip2Model
    public let batchSize: Int
    public let preprocessor: ImagePreprocessor

    public init(model: Blip2Model, batchSize: Int, preprocessor: ImagePreprocessor? = nil) {
        self.model = model
        self.batchSize = max(1, batchSize)
        self.preprocessor = preprocessor ?? ImagePreprocessor(size: model.config.imageSize)
    }

    /// The embedded images in input order, and the files that could not be read.
    public struct Result: Sendable {
        public var embedded: [(path: String, embedding: ImageEmbedding)] = []
        public var failures: [ImageError] = []
    }

    public func embed(paths: [String]) throws(ModelError) -> Result {
        var result = Result()
        var start = 0
        while start < paths.count {
            let chunk = paths[start..<min(start + batchSize, paths.count)]
            start += chunk.count
            var pixels: [Float] = []
            pixels.reserveCapacity(chunk.count * preprocessor.floatsPerImage)
            var readable: [String] = []
            for path in chunk {
                do {
                    pixels.append(contentsOf: try preprocessor.pixels(path: path))
                    readable.append(path)
                } catch {
                    result.failures.append(error)
                }
            }
            guard !readable.isEmpty else { continue }
            let embeddings = try model.embedImages(pixels: pixels, count: readable.count)
            result.embedded.append(contentsOf: zip(readable, embeddings).map { ($0, $1) })
        }
        return result
    }
}
