import Embeddings
import Query

/// What a user searches for, before it is embedded: a text pushed away from other texts
/// (`--not`, `not=`), or an example image ("more like this").
public enum SearchSubject: Sendable {
    case text(String, negatives: [String] = [], negativeWeight: Float = 0.5)
    case image(path: String)

    /// The search of this subject with `model` (its text side for a text, its image side
    /// for an image): `limit` results scoring at least `minScore`. A text with nothing
    /// left to embed, or a bad weight, is an `invalidSearch`.
    public func request(with model: Blip2Model, limit: Int, minScore: Float?) throws -> SearchRequest {
        switch self {
        case .text(let text, let negatives, let weight):
            let embeddings = try Self.embed([text] + negatives, with: model)
            do {
                return try .text(embeddings[0].values, excluding: embeddings.dropFirst().map(\.values), weight: weight,
                                 limit: limit, minScore: minScore)
            } catch let error as SearchRequestError {
                throw LibraryError(.invalidSearch, error.reason, cause: error)
            }
        case .image(let path):
            let pixels = try ImagePreprocessor(size: model.config.imageSize).pixels(path: path)
            let embedding = try model.embedImages(pixels: pixels, count: 1)[0]
            return SearchRequest(vectors: embedding.values, limit: limit, minScore: minScore)
        }
    }

    /// The texts' embeddings; a text with nothing left to embed is the caller's mistake.
    private static func embed(_ texts: [String], with model: Blip2Model) throws -> [TextEmbedding] {
        let result = Result { () throws(ModelError) in try model.embedTexts(texts) }
        if case .failure(.tokenizer(.emptyText)) = result {
            throw LibraryError(.invalidSearch, "a search text has nothing to search for once accents, spaces and control characters are removed",
                               cause: ModelError.tokenizer(.emptyText))
        }
        return try result.get()
    }
}
