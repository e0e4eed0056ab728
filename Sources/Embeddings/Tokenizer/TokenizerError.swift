/// Why a tokenizer could not be built or a text could not be encoded.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case unreadableVocabulary(path: String, reason: String)
    case missingSpecialToken(token: String, path: String)
    case emptyText

    public var description: String {
        switch self {
        case .unreadableVocabulary(let path, let reason):
            return "\(path): cannot read the vocabulary: \(reason)"
        case .missingSpecialToken(let token, let path):
            return "\(path): the vocabulary has no \(token) token"
        case .emptyText:
            return "the text is empty (nothing to embed after removing whitespace and control characters)"
        }
    }
}
