import Foundation
import TestSupport
import Testing

/// What the attack run found in the daemon's HTTP server (issue 16): DNS rebinding, 500s for
/// control characters, bare 400s for oversized heads, and the cases that held (a slow
/// header while others are served).
@Suite(.serialized) struct DaemonSecurityTests {
    let directory: URL
    let daemon: RunningDaemon
    let host: String
    let port: UInt16

    init() throws {
        let folder: URL
        (directory, folder) = try Fixtures.photoFolder(copying: ["images/astronaut.png", "images/coffee.png"])
        let config = directory.appendingPathComponent("config.yaml")
        try Data("allowed_hosts:\n  - Photos.Home.Lan\n".utf8).write(to: config)
        daemon = try RunningDaemon(folder: folder, directory: directory, arguments: ["--config", config.path])
        try daemon.waitFor("the first pass") { $0.embedded == 2 }
        (host, port) = try daemon.server()
    }

    func send(_ method: String, _ target: String, _ headers: [String: String] = [:]) throws -> RawHTTP.Reply {
        try RawHTTP.request(method, host: host, port: port, target: target, headers: headers)
    }

    func send(_ target: String, _ headers: [String: String] = [:]) throws -> RawHTTP.Reply {
        try send("GET", target, headers)
    }

    /// Issue 16.5: a page elsewhere that points its own name at 127.0.0.1 gets nothing.
    @Test func onlyRequestsNamingThisDaemonAreAnswered() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["evil.example", "evil.example.", "localhost.evil.example", "127.0.0.1.nip.io", "photos.home.lan.evil"] {
            for target in ["/api/status", "/api/search?q=coffee", "/api/images/1/file", "/"] {
                let reply = try send(target, ["Host": "\(name):\(port)"])
                #expect(reply.status == 421, "\(name) \(target): \(reply.status)")
                #expect(reply.errorMessage?.contains("allowed_hosts") == true)
            }
        }
        for name in ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "photos.home.lan", "192.168.1.20"] {
            #expect(try send("/api/status", ["Host": "\(name):\(port)"]).status == 200, "\(name)")
        }
        #expect(try send("/api/status", ["Host": "localhost"]).status == 200)
        // A state-changing request from a browser on another origin is refused; from this one it reaches the router.
        let crossOrigin = try send("POST", "/api/search?q=coffee", ["Origin": "http://evil.example"])
        #expect(crossOrigin.status == 403 && crossOrigin.errorMessage?.contains("cross-origin") == true)
        #expect(try send("POST", "/api/search?q=coffee", ["Origin": "null"]).status == 403)
        #expect(try send("POST", "/api/search?q=coffee", ["Origin": "http://localhost:\(port)"]).status == 403)
        #expect(try send("POST", "/api/search?q=coffee", ["Origin": "http://\(host):\(port)"]).status == 404)
    }

    /// Issue 16.6: control characters and text with nothing to search are the client's fault.
    @Test func controlCharactersAndUnsearchableTextAre400s() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        for query in ["q=%00", "q=%01", "q=a%7f", "q=%C2%85", "q=coffee&not=%00", "q=%CC%81", "q=%E2%80%8B", "q=coffee&not=%CC%81"] {
            let reply = try send("/api/search?\(query)")
            #expect(reply.status == 400, "\(query): \(reply.status) \(reply.text)")
            #expect(reply.errorMessage != nil, "\(query)")
        }
        #expect(try send("/api/search?q=a%09tab%0Aline").status == 200)
        #expect(try send("/api/status").status == 200)
    }

    /// Issue 16.6: over-long URLs and headers get 414 and 431 with the JSON error body.
    @Test func oversizedURLsAndHeadersGet414And431WithJSON() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let longURL = try send("/api/search?q=" + String(repeating: "a", count: 9000))
        #expect(longURL.status == 414 && longURL.errorMessage != nil, "\(longURL.status) \(longURL.text)")
        for size in [40_000, 100_000] {
            let reply = try send("/api/status", ["X-Filler": String(repeating: "b", count: size)])
            #expect(reply.status == 431 && reply.errorMessage != nil, "\(size): \(reply.status) \(reply.text)")
        }
        #expect(try send("/api/status").status == 200)
    }

    /// A client sending its header a byte at a time does not hold up others.
    @Test func aSlowHeaderDoesNotHoldUpOtherRequests() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let slow = try RawHTTP.connect(host: host, port: port)
        defer { close(slow) }
        try RawHTTP.send(slow, Array("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8))
        for _ in 0..<3 {
            let started = Date()
            #expect(try send("/api/search?q=coffee").status == 200)
            #expect(Date().timeIntervalSince(started) < 5)
            try RawHTTP.send(slow, Array("z".utf8))
        }
        try RawHTTP.send(slow, Array("\r\nConnection: close\r\n\r\n".utf8))
        #expect(try RawHTTP.parse(RawHTTP.receiveAll(slow)).status == 200)
    }
}
