import Foundation
import Hummingbird
import Library
import Logging
import Query
import ServiceLifecycle
import Store

/// The daemon's HTTP server: the JSON API (see API.md at the repository root) and the web
/// page. Bound to loopback unless told otherwise; with a token, every API request must
/// carry it (`Authorization: Bearer TOKEN`, or `token=TOKEN` in the query for `<img>` tags).
/// Requests naming another host than its own are refused (`HostCheckMiddleware`: DNS
/// rebinding).
public struct APIServer: Sendable {
    public let service: LibraryService
    public let host: String
    public let port: Int
    public let token: String?
    /// Host names, besides the listen address, localhost and IP literals, that requests may name.
    public let allowedHosts: [String]

    /// Request limits: anything beyond is a 400.
    static let maxLimit = LibraryService.maxLimit
    static let maxQueryLength = 1000
    static let maxNegatives = 8
    /// The longest question `POST /api/images/{id}/ask` takes, in characters.
    static let maxQuestionLength = 300
    /// The most photos `rerank=N` re-scores: each takes a vision pass (~3.5 s on a 2-core CPU).
    static let maxRerank = 20

    public init(service: LibraryService, host: String = "127.0.0.1", port: Int = 7878, token: String? = nil,
                allowedHosts: [String] = []) {
        self.service = service
        self.host = host
        self.port = port
        self.token = token
        self.allowedHosts = allowedHosts
    }

    /// The server as a service of the daemon's `ServiceGroup`: it listens until the group
    /// shuts down gracefully, then answers the requests in flight and returns. `onListening`
    /// gets the base URL once the socket is bound; an address that cannot be bound is an
    /// error naming it.
    public func service(logger: Logger, onListening: @escaping @Sendable (String) -> Void) -> some Service {
        let host = self.host
        let application = Application(
            router: router(),
            server: .http1(configuration: .init(additionalChannelHandlers: [OversizedRequestHandler()])),
            configuration: .init(address: .hostname(host, port: port), serverName: "imgsearch"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(bound)")
            },
            logger: logger)
        return ListeningService(application: application, address: "\(host):\(port)")
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: RequestSizeMiddleware())
        router.add(middleware: HostCheckMiddleware(listenHost: host, allowedHosts: allowedHosts))
        router.add(middleware: TokenMiddleware(token: token))
        WebPage.register(on: router)
        let service = self.service

        router.get("/api/search") { request, _ -> Response in
            let parameters = try RequestParameters(query: request.uri.query)
            let text = (parameters.string("q") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw APIError(.badRequest, "q (the text to search for) is missing or empty") }
            guard text.count <= Self.maxQueryLength else {
                throw APIError(.badRequest, "q is longer than \(Self.maxQueryLength) characters")
            }
            if let model = parameters.string("model"), model != service.modelID {
                throw APIError(.conflict, "this daemon searches with model \(service.modelID), not \(model)")
            }
            if let catalog = parameters.string("catalog"), catalog != service.catalogID {
                throw APIError(.conflict, "this daemon serves catalog \(service.catalogID) (\(service.catalog.location)), not \(catalog)")
            }
            let negatives = parameters.all("not").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard negatives.count <= Self.maxNegatives else { throw APIError(.badRequest, "at most \(Self.maxNegatives) not= texts") }
            let limit = try parameters.integer("limit", in: 1...Self.maxLimit, default: 20)
            let minScore = try parameters.number("min_score", in: -1...1)
            let weight = try parameters.number("not_weight", in: 0...10) ?? 0.5
            let modeName = parameters.string("mode") ?? "semantic"
            guard let mode = SearchMode(rawValue: modeName) else {
                throw APIError(.badRequest, "mode must be semantic, keyword or hybrid, not \(modeName)")
            }
            let filter = try photoFilter(parameters)
            let sortByDate = try parameters.choice("sort", among: ["score", "date"], default: "score") == "date"
            let rerank = try parameters.integer("rerank", in: 0...Self.maxRerank, default: 0)
            guard rerank == 0 || mode == .semantic else { throw APIError(.badRequest, "rerank re-scores a semantic search") }
            let started = DispatchTime.now()
            let (results, captions, probabilities, taken) = try await offload {
                var results = try service.search(text: text, mode: mode, negatives: negatives, negativeWeight: weight,
                                                 limit: max(limit, rerank), minScore: minScore, filter: filter)
                var probabilities: [Int64: Float] = [:]
                if rerank > 0 {
                    let reranked = try service.rerank(results, text: text, count: rerank).prefix(limit)
                    results = reranked.map(\.candidate)
                    for (result, itm) in reranked { probabilities[result.imageID] = itm }
                }
                let taken = try service.metadata(ofImages: results.map(\.imageID)).mapValues(\.takenAt)
                if sortByDate { results = PhotoMetadata.newestFirst(results) { taken[$0.imageID] } }
                return (results, try service.captions(ofImages: results.map(\.imageID)), probabilities, taken)
            }
            return try SearchResponse(results, captions: captions, matchProbabilities: probabilities, taken: taken,
                                      service: service, since: started).response()
        }

        router.get("/api/images/{id}") { _, context -> Response in
            let id = try imageID(context)
            let (paths, caption) = try await offload { (try service.paths(ofImage: id), try service.captions(ofImages: [id])[id]) }
            return try JSONBody(ImageResponse(id: id, paths: paths, thumbnail: "/api/images/\(id)/thumbnail",
                                              file: "/api/images/\(id)/file", caption: caption)).response()
        }

        router.post("/api/images/{id}/caption") { _, context -> Response in
            let id = try imageID(context)
            let (text, seconds) = try await offload { try service.describe(image: id, question: nil) }
            return try JSONBody(DescriptionResponse(id: id, caption: text, seconds: seconds)).response()
        }

        router.post("/api/images/{id}/ask") { request, context -> Response in
            let id = try imageID(context)
            var request = request
            let body = try await request.collectBody(upTo: 4096)
            guard let asked = try? JSONDecoder().decode(QuestionRequest.self, from: Data(buffer: body)) else {
                throw APIError(.badRequest, "the body must be a JSON object {\"question\": \"…\"}")
            }
            let question = asked.question.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !question.isEmpty, question.count <= Self.maxQuestionLength else {
                throw APIError(.badRequest, "question must hold 1 to \(Self.maxQuestionLength) characters")
            }
            let (text, seconds) = try await offload { try service.describe(image: id, question: question) }
            return try JSONBody(DescriptionResponse(id: id, question: question, answer: text, seconds: seconds)).response()
        }

        router.delete("/api/jobs/current") { _, _ -> Response in
            guard service.cancelDescription() else { throw APIError(.notFound, "no caption or answer is being computed") }
            return try JSONBody(CancelResponse()).response()
        }

        router.get("/api/images/{id}/similar") { request, context -> Response in
            let id = try imageID(context)
            let parameters = try RequestParameters(query: request.uri.query)
            let limit = try parameters.integer("limit", in: 1...Self.maxLimit, default: 20)
            let minScore = try parameters.number("min_score", in: -1...1)
            let filter = try photoFilter(parameters)
            let started = DispatchTime.now()
            let (results, captions) = try await offload {
                let results = try service.similar(toImage: id, limit: limit, minScore: minScore, filter: filter)
                return (results, try service.captions(ofImages: results.map(\.imageID)))
            }
            return try SearchResponse(results, captions: captions, service: service, since: started).response()
        }

        router.get("/api/images/{id}/thumbnail") { request, context -> Response in
            let id = try imageID(context)
            let side = try RequestParameters(query: request.uri.query).integer("size", in: 16...2048, default: 256)
            let jpeg = try await offload { try service.thumbnail(ofImage: id, side: side) }
            return Response(status: .ok,
                            headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=86400"],
                            body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        }

        router.get("/api/images/{id}/file") { _, context -> Response in
            let id = try imageID(context)
            let original = try await offload { try service.original(ofImage: id) }
            return Response(status: .ok,
                            headers: [.contentType: original.mediaType, .cacheControl: "private, no-cache",
                                      .xContentTypeOptions: "nosniff"],
                            body: .init(byteBuffer: ByteBuffer(bytes: original.data)))
        }

        router.get("/api/folders") { _, _ -> Response in
            let folders = try await offload { try service.folders() }
            return try JSONBody(FoldersResponse(folders: folders.sorted { $0.key < $1.key }.map { .init(path: $0.key, photos: $0.value) }))
                .response()
        }

        router.get("/api/duplicates") { request, _ -> Response in
            let parameters = try RequestParameters(query: request.uri.query)
            let threshold = try parameters.integer("threshold", in: 0...63, default: PerceptualSignature.defaultThreshold)
            let scene = try parameters.number("scene_threshold", in: -1...1)
                ?? (parameters.string("scene") == "1" ? DuplicateFinder.defaultSceneThreshold : nil)
            let under = parameters.string("under")
            let started = DispatchTime.now()
            let groups = try await offload { try service.duplicates(threshold: threshold, sceneThreshold: scene, under: under) }
            return try JSONBody(DuplicatesResponse(groups: groups, since: started)).response()
        }

        router.get("/api/status") { _, _ -> Response in
            try JSONBody(try await offload { try service.status() }).response()
        }
        return router
    }
}

/// An HTTP application whose failure to serve names the address it was to listen on.
private struct ListeningService<Wrapped: Service>: Service {
    let application: Wrapped
    let address: String

    func run() async throws {
        do {
            try await application.run()
        } catch {
            throw ServerError(message: "cannot serve on \(address): \(error)")
        }
    }
}

/// Why the server stopped serving, in one line.
public struct ServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The filter parameters of a search (`after`, `before`, `under`, `camera`, `format`,
/// `near`, `within`); a bad value is a 400 naming it.
private func photoFilter(_ parameters: RequestParameters) throws -> PhotoFilter {
    do {
        return try PhotoFilter(after: parameters.string("after"), before: parameters.string("before"),
                               under: parameters.string("under"), camera: parameters.string("camera"),
                               formats: parameters.all("format"), near: parameters.string("near"),
                               within: try parameters.number("within", in: 0...20_000).map(Double.init))
    } catch {
        throw APIError(.badRequest, "\(error)")
    }
}

/// The `{id}` path parameter as an image id; anything else is a 400.
private func imageID(_ context: BasicRequestContext) throws -> Int64 {
    guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
        throw APIError(.badRequest, "an image id is a positive integer")
    }
    return id
}

/// Runs blocking work (model, scan, SQLite, decoding) on a dispatch thread, keeping the
/// server's event loops free.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
