import Foundation
import Library
import ModelHub
import Store
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Text search through a running `imgsearch daemon` (model and index already hot), found
/// through the status file it keeps beside the catalog. `search` answers nil whenever the
/// daemon cannot serve this request (none running, another catalog, another model, not
/// every folder of the catalog, not reachable): the caller then searches on its own. The
/// status file may be stale (a daemon killed, another one on its port), so the daemon's
/// answer is used only when it names this catalog's id.
struct DaemonClient {
    let baseURL: URL
    let token: String?
    let catalogID: String
    /// The roots of the catalog's files: the daemon must serve all of them.
    let catalogRoots: [String]

    /// The daemon serving the catalog of `files`, if its status file names a server.
    init?(files: CatalogFiles, catalogID: String, catalogRoots: [String], token: String?) {
        struct Status: Decodable {
            let serverURL: String?
            let catalogPath: String?
        }
        guard let data = FileManager.default.contents(atPath: files.daemonStatus),
              let status = try? JSONDecoder().decode(Status.self, from: data),
              let server = status.serverURL, let url = URL(string: server),
              let served = status.catalogPath,
              Self.samePath(served, files.database) else { return nil }
        baseURL = url
        self.token = token
        self.catalogID = catalogID
        self.catalogRoots = catalogRoots
    }

    struct Hit: Decodable {
        let score: Float
        let paths: [String]
    }

    /// Results best first; nil when the daemon is unreachable or uses another model than
    /// `modelID` (when given). Another client error (a bad parameter) is thrown.
    func search(text: String, negatives: [String], negativeWeight: Float, limit: Int, minScore: Float?,
                modelID: String?) async throws -> [Hit]? {
        var components = URLComponents(url: baseURL.appendingPathComponent("api/search"), resolvingAgainstBaseURL: false)
        var items = [URLQueryItem(name: "q", value: text), URLQueryItem(name: "limit", value: String(limit)),
                     URLQueryItem(name: "not_weight", value: String(negativeWeight)),
                     URLQueryItem(name: "catalog", value: catalogID)]
        items += negatives.map { URLQueryItem(name: "not", value: $0) }
        if let minScore { items.append(URLQueryItem(name: "min_score", value: String(minScore))) }
        if let modelID { items.append(URLQueryItem(name: "model", value: modelID)) }
        components?.queryItems = items
        // URLComponents leaves "+" alone, which the server reads as a space.
        let encodedQuery = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = encodedQuery
        guard let url = components?.url else { return nil }
        var request = URLRequest(url: url, timeoutInterval: 30)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }

        guard let (status, body) = try? await HTTPClient.get(request) else { return nil }
        switch status {
        case 200:
            struct Page: Decodable {
                let results: [Hit]
                let catalog: String?
                let roots: [String]?
            }
            let page = try JSONDecoder().decode(Page.self, from: body)
            guard page.catalog == catalogID, let roots = page.roots,
                  catalogRoots.allSatisfy({ root in roots.contains { root == $0 || Catalog.path(root, isUnder: $0) } }) else {
                return nil
            }
            return page.results
        case 409, 421:
            return nil
        default:
            struct Failure: Decodable { struct Message: Decodable { let message: String }; let error: Message }
            let message = (try? JSONDecoder().decode(Failure.self, from: body))?.error.message ?? "HTTP \(status)"
            throw CommandError("the daemon at \(baseURL.absoluteString) answered: \(message)")
        }
    }

    private static func samePath(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).resolvingSymlinksInPath().path == URL(fileURLWithPath: b).resolvingSymlinksInPath().path
    }
}
