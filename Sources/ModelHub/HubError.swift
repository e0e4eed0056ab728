/// Why a download or a check failed: one line naming the repository or file and the cause.
public struct HubError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
