/// Why a BLIP-2 snapshot could not be loaded or run. The text names the file, the key or
/// the tensor at fault, for the user to act on.
public enum ModelError: Error, CustomStringConvertible {
    /// The snapshot directory or one of its files is missing or unreadable.
    case missingFile(path: String, reason: String)
    /// `config.json` is malformed, of another architecture, or has an unusable value.
    case invalidConfig(path: String, key: String?, reason: String)
    /// The native engine refused the weights (truncated file, missing tensor, wrong shape, dtype).
    case loadFailed(code: Int32, message: String)
    /// A forward pass failed, or its input was unusable.
    case inferenceFailed(code: Int32, message: String)
    /// An option such as the device or precision was not understood.
    case invalidOption(name: String, value: String, reason: String)
    /// The text could not be tokenized.
    case tokenizer(TokenizerError)
    /// A `Cancellation` stopped the generation.
    case cancelled

    public var description: String {
        switch self {
        case .missingFile(let path, let reason):
            return "\(path): \(reason)"
        case .invalidConfig(let path, let key?, let reason):
            return "\(path): \(key): \(reason)"
        case .invalidConfig(let path, nil, let reason):
            return "\(path): \(reason)"
        case .loadFailed(_, let message), .inferenceFailed(_, let message):
            return message
        case .invalidOption(let name, let value, let reason):
            return "invalid \(name) \"\(value)\": \(reason)"
        case .tokenizer(let error):
            return error.description
        case .cancelled:
            return "cancelled"
        }
    }
}
