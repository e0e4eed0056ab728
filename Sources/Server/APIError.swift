import Hummingbird
import Library

/// A failure the client can act on: a 4xx status and a one-line message, sent as
/// `{"error":{"message":…}}`.
struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }

    /// The status that tells a client what kind of library failure it met.
    init(_ error: LibraryError) {
        let status: HTTPResponse.Status = switch error.kind {
        case .invalidSearch: .badRequest
        case .notFound, .noCaptioner, .noCatalog, .modelNotIndexed: .notFound
        case .forbidden: .forbidden
        case .unreadableImage: .unprocessableContent
        case .busy: .tooManyRequests
        case .cancelled: .conflict
        }
        self.init(status, error.message)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try HTTPError(status, message: message).response(from: request, context: context)
    }
}

/// Turns every error into a JSON error response: client errors keep their status, a
/// route that does not exist is a 404 with a message, anything else is logged and becomes
/// a 500 that says what failed, so no request ever closes the connection without an answer.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as LibraryError {
            throw APIError(error)
        } catch let error as RequestParameterError {
            throw APIError(.badRequest, error.message)
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? error.status.reasonPhrase.lowercased())
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(error)")
            throw APIError(.internalServerError, "\(error)")
        }
    }
}
