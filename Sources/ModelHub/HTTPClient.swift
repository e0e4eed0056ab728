import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// imgsearch's HTTP requests (the model hub, a running daemon), async, on URLSession: a
/// reply of any status is an answer; only no answer at all is an error, saying which host
/// could not be reached and why.
public enum HTTPClient {
    /// A request's status and body.
    public static func get(_ request: URLRequest) async throws(HTTPFailure) -> (status: Int, body: Data) {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        do {
            let (body, response) = try await session.data(for: request)
            guard let response = response as? HTTPURLResponse else {
                throw HTTPFailure(url: request.url, cause: URLError(.badServerResponse))
            }
            return (response.statusCode, body)
        } catch let failure as HTTPFailure {
            throw failure
        } catch {
            throw HTTPFailure(url: request.url, cause: error)
        }
    }
}

/// No answer from a server: which one, and the system's reason.
public struct HTTPFailure: Error, CustomStringConvertible {
    public let url: URL?
    public let cause: any Error

    public init(url: URL?, cause: any Error) {
        self.url = url
        self.cause = cause
    }

    public var description: String {
        let host = url?.host ?? "the server"
        switch (cause as? URLError)?.code {
        case .notConnectedToInternet?, .cannotFindHost?, .dnsLookupFailed?, .cannotConnectToHost?:
            return "cannot reach \(host) (offline?): \(cause.localizedDescription)"
        case .timedOut?:
            return "\(host) did not answer in time"
        default:
            return "transfer from \(host) failed: \(cause.localizedDescription)"
        }
    }
}
