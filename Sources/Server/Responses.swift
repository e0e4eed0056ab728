import Foundation
import Hummingbird
import Library
import Query

/// A JSON response body with snake_case keys, sorted for stable output.
struct JSONBody<Value: Encodable> {
    let value: Value

    init(_ value: Value) { self.value = value }

    func response(status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

/// `GET /api/search` and `GET /api/images/{id}/similar`: results best first.
struct SearchResponse: Encodable {
    struct Hit: Encodable {
        let id: Int64
        let score: Float
        let paths: [String]
        let thumbnail: String
        let file: String
        /// The photo's caption, when the library is captioned.
        let caption: String?
        /// Its ITM match probability, when re-ranked (`rerank=N`).
        let itm: Float?
        /// When it was taken ("YYYY-MM-DD HH:MM:SS": EXIF, else its file's time), when known.
        let taken: String?
    }

    let results: [Hit]
    let model: String
    /// The catalog's id, and the folders whose images the results are drawn from.
    let catalog: String
    let roots: [String]
    let milliseconds: Double

    init(_ results: [SearchResult], captions: [Int64: String], matchProbabilities: [Int64: Float] = [:],
         taken: [Int64: String] = [:], service: LibraryService, since start: DispatchTime) {
        self.results = results.map {
            Hit(id: $0.imageID, score: $0.score, paths: $0.paths, thumbnail: "/api/images/\($0.imageID)/thumbnail",
                file: "/api/images/\($0.imageID)/file", caption: captions[$0.imageID], itm: matchProbabilities[$0.imageID],
                taken: taken[$0.imageID])
        }
        model = service.modelID
        catalog = service.catalogID
        roots = service.roots
        milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
    }

    func response() throws -> Response { try JSONBody(self).response() }
}

/// `GET /api/folders`: where the photos are, for the page's folder chooser.
/// `GET /api/duplicates`: the groups, best photo first in each, and how long it took.
struct DuplicatesResponse: Encodable {
    let groups: [DuplicateGroup]
    let milliseconds: Double

    init(groups: [DuplicateGroup], since started: DispatchTime) {
        self.groups = groups
        milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
    }
}

struct FoldersResponse: Encodable {
    struct Folder: Encodable {
        let path: String
        /// Photos directly in it.
        let photos: Int
    }

    let folders: [Folder]
}

/// `GET /api/images/{id}`.
struct ImageResponse: Encodable {
    let id: Int64
    let paths: [String]
    let thumbnail: String
    let file: String
    let caption: String?
}

/// Requires the bearer token on every `/api/` request when one is set (the page itself
/// carries no data and loads without it). Compared in constant time.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        let header = request.headers[.authorization].map { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : "" }
        let offered = try header ?? RequestParameters(query: request.uri.query).string("token") ?? ""
        guard Self.constantTimeEqual(Array(offered.utf8), Array(token.utf8)) else {
            throw APIError(.unauthorized, "this daemon needs its token: Authorization: Bearer TOKEN")
        }
        return try await next(request, context)
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The body of `POST /api/images/{id}/ask`.
struct QuestionRequest: Decodable {
    let question: String
}

/// `DELETE /api/jobs/current`: the running caption or answer was told to stop.
struct CancelResponse: Encodable {
    let cancelled = true
}

/// `POST /api/images/{id}/caption` and `…/ask`: the text and the seconds it took.
struct DescriptionResponse: Encodable {
    let id: Int64
    var caption: String?
    var question: String?
    var answer: String?
    let seconds: Double

    init(id: Int64, caption: String, seconds: Double) {
        self.id = id
        self.caption = caption
        self.seconds = seconds
    }

    init(id: Int64, question: String, answer: String, seconds: Double) {
        self.id = id
        self.question = question
        self.answer = answer
        self.seconds = seconds
    }
}
