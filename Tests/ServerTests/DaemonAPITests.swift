import Foundation
import TestSupport
import Testing

/// The daemon's HTTP API as a client sees it: a real `imgsearch daemon` on a temporary
/// folder of real photos, spoken to over loopback.
@Suite(.serialized) struct DaemonAPITests {
    let directory: URL
    let folder: URL
    let daemon: RunningDaemon
    let host: String
    let port: UInt16

    static let photos = ["astronaut.png", "chelsea.png", "coffee.png"]

    init() throws {
        directory = try Fixtures.temporaryDirectory()
        folder = directory.appendingPathComponent("photos")
        let manager = FileManager.default
        try manager.createDirectory(at: folder.appendingPathComponent("album"), withIntermediateDirectories: true)
        for name in Self.photos {
            try manager.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"), to: folder.appendingPathComponent(name))
        }
        try manager.copyItem(at: Fixtures.root.appendingPathComponent("images/rgba.png"),
                             to: folder.appendingPathComponent("album/rgba.png"))
        daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 4 }
        (host, port) = try daemon.server()
    }

    func get(_ target: String, headers: [String: String] = [:]) throws -> RawHTTP.Reply {
        try RawHTTP.get(host: host, port: port, target: target, headers: headers)
    }

    struct Hit: Decodable, Equatable {
        let id: Int64
        let score: Float
        let paths: [String]
        let thumbnail: String
        let file: String
        var caption: String?
    }

    struct Results: Decodable {
        let results: [Hit]
        let model: String
    }

    func results(_ target: String) throws -> Results {
        let reply = try get(target)
        #expect(reply.status == 200, "\(target): \(reply.text)")
        #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true)
        return try JSONDecoder().decode(Results.self, from: reply.body)
    }

    @Test func textSearchEqualsTheCommandLineAndQueryUsesTheDaemon() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let api = try results("/api/search?q=a+cat+on+a+sofa&limit=10")
        #expect(api.results.count == 4)
        #expect(api.results.map(\.score) == api.results.map(\.score).sorted(by: >))
        #expect(Set(api.results.flatMap(\.paths)).count == 4)

        // The same search in a process of its own, with the model loaded there.
        let local = try CommandRunner.imgsearch(["query", "a cat on a sofa", "--json", "--limit", "10", "--no-daemon",
                                                 "--db", daemon.database, "--model", Fixtures.model("tiny-a").path])
        #expect(local.status == 0, "\(local.standardError)")
        let localLines = local.standardOutput.split(separator: "\n").map { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(localLines.compactMap { $0?["path"] as? String } == api.results.map { $0.paths[0] })
        for (line, hit) in zip(localLines, api.results) {
            #expect(abs(Float((line?["score"] as? Double) ?? 9) - hit.score) < 1e-5)
        }

        // Without a model or a config file, `query` can only have answered through the daemon.
        let emptyConfig = directory.appendingPathComponent("config")
        let viaDaemon = try CommandRunner.imgsearch(["query", "a cat on a sofa", "--json", "--limit", "10",
                                                     "--db", daemon.database],
                                                    environment: ["XDG_CONFIG_HOME": emptyConfig.path])
        #expect(viaDaemon.status == 0, "\(viaDaemon.standardError)")
        #expect(viaDaemon.standardOutput == local.standardOutput)

        // Another model's embeddings are not comparable: the daemon refuses, the command falls back.
        let otherModel = try get("/api/search?q=cat&model=blip2-000000")
        #expect(otherModel.status == 409)
    }

    /// `rerank=N`: the same order and ITM probabilities as `query --rerank N` (itself
    /// checked against transformers), bounded, for semantic searches only.
    @Test func rerankGivesWhatTheCommandLineGives() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        struct Reranked: Decodable {
            struct Hit: Decodable {
                let paths: [String]
                let itm: Float?
            }
            let results: [Hit]
        }
        let reply = try get("/api/search?q=a+cat+on+a+sofa&limit=4&rerank=3")
        #expect(reply.status == 200, "\(reply.text)")
        let api = try JSONDecoder().decode(Reranked.self, from: reply.body).results
        let local = try CommandRunner.imgsearch(["query", "a cat on a sofa", "--json", "--limit", "4", "--rerank", "3", "--no-daemon",
                                                 "--db", daemon.database, "--model", Fixtures.model("tiny-a").path])
        #expect(local.status == 0, "\(local.standardError)")
        let lines = local.standardOutput.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(api.map { $0.paths[0] } == lines.compactMap { $0["path"] as? String })
        #expect(api.prefix(3).allSatisfy { $0.itm != nil } && api[3].itm == nil)
        for (hit, line) in zip(api.prefix(3), lines) {
            #expect(abs(hit.itm! - Float(line["itm"] as? Double ?? 9)) < 1e-5)
        }
        #expect(try get("/api/search?q=cat&rerank=21").status == 400)
        #expect(try get("/api/search?q=cat&rerank=2&mode=keyword").status == 400)
    }

    @Test func moreLikeThisThumbnailsOriginalsAndStatus() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try results("/api/search?q=a+photo&limit=1").results[0]
        let similar = try results("/api/images/\(first.id)/similar?limit=10").results
        #expect(similar.count == 3)
        #expect(!similar.contains { $0.id == first.id })
        #expect(similar.allSatisfy { $0.score <= 1.0001 })

        let thumbnail = try get("\(first.thumbnail)?size=100")
        #expect(thumbnail.status == 200)
        #expect(thumbnail.headers["content-type"] == "image/jpeg")
        let size = try #require(JPEGSize(thumbnail.body))
        #expect(max(size.width, size.height) == 100)
        #expect(try get("\(first.thumbnail)?size=100").body == thumbnail.body)

        let original = try get(first.file)
        #expect(original.status == 200)
        #expect(original.headers["content-type"] == "image/png")
        #expect(original.body == (try Data(contentsOf: URL(fileURLWithPath: first.paths[0]))))

        let status = try get("/api/status").json()
        #expect(status["images"] as? Int == 4)
        #expect((status["files"] as? [String: Int])?["indexed"] == 4)
        #expect((status["model"] as? [String: Any])?["device"] as? String == "cpu")
        #expect(((status["daemon"] as? [String: Any])?["passes"] as? Int ?? 0) >= 1)

        let page = try get("/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.text.contains("<script src=\"/app.js\">"))
        #expect(try get("/app.js").status == 200)
    }

    /// Captions written by `imgsearch index --captions` in another process show in search
    /// results and on the image, as the page's alt text and viewer use them.
    @Test func captionsFromAnotherProcessAreServed() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try results("/api/search?q=a+photo&limit=4").results.allSatisfy { $0.caption == nil })
        let index = try CommandRunner.imgsearch(["index", "--db", daemon.database, "--model", Fixtures.model("tiny-a").path,
                                                 "--device", "cpu", "--captions", Fixtures.generationModel("opt-legacy").path,
                                                 folder.path])
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardOutput.contains("4 captioned"), "\(index.standardOutput)")
        let hits = try results("/api/search?q=a+photo&limit=4").results
        #expect(hits.count == 4 && hits.allSatisfy { $0.caption?.isEmpty == false }, "\(hits)")
        let image = try get("/api/images/\(hits[0].id)").json()
        #expect(image["caption"] as? String == hits[0].caption)
        #expect(try results("/api/images/\(hits[0].id)/similar?limit=3").results.allSatisfy { $0.caption != nil })
        #expect(try get("/").text.contains("viewer-caption"))

        // Keyword and hybrid search find a photo by a word only its caption holds.
        func words(_ text: String?) -> Set<String> { Set((text ?? "").lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)) }
        let unique = try #require(hits.lazy.compactMap { hit -> (Int64, String)? in
            let others = hits.filter { $0.id != hit.id }.reduce(into: Set<String>()) { $0.formUnion(words($1.caption)) }
            return words(hit.caption).subtracting(others).sorted().first.map { (hit.id, $0) }
        }.first, "no caption has a word of its own")
        let word = try #require(unique.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let keyword = try results("/api/search?q=\(word)&mode=keyword").results
        #expect(keyword.map(\.id) == [unique.0], "\(unique.1): \(keyword)")
        #expect(try results("/api/search?q=\(word)&mode=hybrid&limit=4").results.first?.id == unique.0)
        #expect(try get("/api/search?q=x&mode=fuzzy").status == 400)
    }

    @Test func theSearchIndexFollowsAddsAndDeletes() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let added = folder.appendingPathComponent("album/coffee-copy.png")
        var bytes = try Data(contentsOf: folder.appendingPathComponent("coffee.png"))
        bytes.append(Data("another photo".utf8))
        try bytes.write(to: added)
        try daemon.waitFor("the added photo") { $0.embedded == 5 }
        let afterAdd = try results("/api/search?q=coffee&limit=10").results
        #expect(afterAdd.count == 5)
        #expect(afterAdd.contains { $0.paths == [added.path] })

        try FileManager.default.removeItem(at: folder.appendingPathComponent("chelsea.png"))
        try daemon.waitFor("the deletion") { $0.removed == 1 }
        let afterDelete = try results("/api/search?q=coffee&limit=10").results
        #expect(afterDelete.count == 4)
        #expect(!afterDelete.contains { $0.paths.contains { $0.hasSuffix("chelsea.png") } })
    }

    @Test func badRequestsGetAJSON4xxAndTheDaemonStaysUp() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases: [(String, Int)] = [
            ("/api/search", 400),                                   // no q
            ("/api/search?q=", 400),                                // empty
            ("/api/search?q=+++", 400),                             // blank
            ("/api/search?q=%FF%FE", 400),                          // not UTF-8
            ("/api/search?q=%C3%28", 400),                          // invalid UTF-8 sequence
            ("/api/search?q=%G1", 400),                             // malformed escape
            ("/api/search?q=cat&limit=100000000", 400),             // huge limit
            ("/api/search?q=cat&limit=0", 400),
            ("/api/search?q=cat&limit=ten", 400),
            ("/api/search?q=cat&min_score=NaN", 400),
            ("/api/search?q=\(String(repeating: "a", count: 1001))", 400),
            ("/api/images/0/file", 400),
            ("/api/images/-3/thumbnail", 400),
            ("/api/images/99999999/file", 404),
            ("/api/images/99999999/similar", 404),
            ("/api/images/1/thumbnail?size=100000", 400),
            ("/api/images/..%2F..%2F..%2Fetc%2Fpasswd/file", 400),  // encoded ..
            ("/api/images/%2e%2e/file", 400),
            ("/api/images/1/..%2F..%2F..%2Fetc%2Fpasswd", 404),
            ("/api/images/99999999999999999999999/file", 400),      // overflows Int64
            ("/api/nothing", 404),
        ]
        for (target, expected) in cases {
            let reply = try get(target)
            #expect(reply.status == expected, "\(target): \(reply.status) \(reply.text)")
            #expect(reply.errorMessage?.isEmpty == false, "\(target): no JSON error: \(reply.text)")
        }
        // A raw `..` walk, which URL libraries would have normalised away, reaches no file.
        for target in ["/../../../../etc/passwd", "/api/images/1/../../../../etc/passwd", "/api/../../etc/passwd"] {
            let reply = try get(target)
            #expect((400..<500).contains(reply.status), "\(target): \(reply.status)")
            #expect(!reply.text.contains("root:"), "\(target) served /etc/passwd")
        }
        #expect(daemon.process.isRunning)
        #expect(try get("/api/status").status == 200)
    }

    @Test func aFileSwappedForASymlinkOutOfTheRootIsNotServed() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let outside = directory.appendingPathComponent("secret.png")
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/rgb16.png"), to: outside)
        let hit = try #require(try results("/api/search?q=a+photo&limit=10").results.first { $0.paths[0].hasSuffix("/astronaut.png") })
        let path = URL(fileURLWithPath: hit.paths[0])
        try FileManager.default.removeItem(at: path)
        try FileManager.default.createSymbolicLink(at: path, withDestinationURL: outside)
        // Before the daemon's next pass the catalog still lists the path (403); after it, the
        // image is gone (404). Either way the secret is not served.
        for endpoint in [hit.file, hit.thumbnail] {
            let reply = try get(endpoint)
            #expect([403, 404].contains(reply.status), "\(endpoint): \(reply.status)")
            #expect(reply.body != (try Data(contentsOf: outside)))
        }
    }
}

/// Width and height from a JPEG's start-of-frame marker.
func JPEGSize(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data)
    var i = 2
    while i + 9 < bytes.count {
        guard bytes[i] == 0xFF else { return nil }
        let marker = bytes[i + 1]
        let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        if (0xC0...0xC3).contains(marker) {
            return (Int(bytes[i + 7]) << 8 | Int(bytes[i + 8]), Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]))
        }
        i += 2 + length
    }
    return nil
}
