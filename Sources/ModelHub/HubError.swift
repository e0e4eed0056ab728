/// Why a download or a check failed: one line naming the repository or file and the cause.
public struct HubError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The HTTP status the hub answered with, when the failure is one.
    public let httpStatus: Int?

    public init(_ description: String, httpStatus: Int? = nil) {
        self.description = description
        self.httpStatus = httpStatus
    }

    /// A 4xx answer: asking again will not help (the file, the token or the id is wrong).
    var isClientError: Bool { httpStatus.map { (400..<500).contains($0) } ?? false }
}
