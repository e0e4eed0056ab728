/// Why one image could not be turned into model input; the text names the file and the cause.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, independent of the file.
    public enum Kind: String, Sendable {
        case unreadable, unsupportedFormat, corrupt, tooLarge, outOfMemory, invalidArgument
    }

    public let path: String
    public let kind: Kind
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}
