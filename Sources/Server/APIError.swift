import Hummingbird

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
