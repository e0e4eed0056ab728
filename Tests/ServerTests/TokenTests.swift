import Foundation
import TestSupport
import Testing

/// A daemon started with a token answers API requests only with it; the page itself, which
/// holds no data, loads without.
@Suite struct TokenTests {
    @Test func apiRequestsNeedTheToken() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/coffee.png"),
                                         to: folder.appendingPathComponent("coffee.png"))
        let daemon = try RunningDaemon(folder: folder, directory: directory, environment: ["IMGSEARCH_TOKEN": "s3cret-token"])
        try daemon.waitFor("the first pass") { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        func get(_ target: String, _ headers: [String: String] = [:]) throws -> RawHTTP.Reply {
            try RawHTTP.get(host: host, port: port, target: target, headers: headers)
        }
        #expect(try get("/api/status").status == 401)
        #expect(try get("/api/search?q=coffee").status == 401)
        #expect(try get("/api/status", ["Authorization": "Bearer wrong-token!"]).status == 401)
        #expect(try get("/api/status?token=s3cret-tokeN").status == 401)
        #expect(try get("/api/status", ["Authorization": "Bearer s3cret-token"]).status == 200)
        #expect(try get("/api/images/1/thumbnail?token=s3cret-token").status == 200)
        #expect(try get("/").status == 200)
        #expect(try get("/api/status").errorMessage?.contains("token") == true)
    }
}
