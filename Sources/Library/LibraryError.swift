/// A request the library cannot serve, in one line, with what kind of failure it is: the
/// command line prints it, the HTTP API turns the kind into a status.
public struct LibraryError: Error, CustomStringConvertible {
    /// What went wrong, from the caller's point of view.
    public enum Kind: Sendable, Equatable {
        /// No catalog at the path given.
        case noCatalog
        /// The catalog holds no embeddings of this model.
        case modelNotIndexed
        /// The search cannot mean anything (nothing left of its text, a bad limit or weight).
        case invalidSearch
        /// No such image, or none of its files lies under the served folders.
        case notFound
        /// The image's files are not regular files under the served folders.
        case forbidden
        /// The image cannot be decoded.
        case unreadableImage
        /// No captioning model was loaded.
        case noCaptioner
        /// Another caption, answer or re-ranking is running.
        case busy
        /// The caption or answer was stopped on request.
        case cancelled
    }

    public let kind: Kind
    public let message: String
    /// The error behind this one, if any.
    public let cause: (any Error)?

    public init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
