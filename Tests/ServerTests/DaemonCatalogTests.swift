import Foundation
import TestSupport
import Testing

/// The daemon and its catalog (issue 16): it follows writes by other processes, shows only
/// its own folders, writes its URL as soon as it listens, and comes back after SIGKILL.
@Suite struct DaemonCatalogTests {
    struct Status: Decodable {
        let images: Int
        let catalogId: String
        let roots: [String]

        enum CodingKeys: String, CodingKey {
            case images, roots
            case catalogId = "catalog_id"
        }
    }

    struct Hit: Decodable {
        let id: Int64
        let score: Float
        let paths: [String]
    }

    struct Results: Decodable {
        let results: [Hit]
        let catalog: String
    }

    func copyPhoto(_ name: String, to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"),
                                         to: folder.appendingPathComponent(name))
    }

    func index(_ folder: URL, into database: String) throws {
        let run = try CommandRunner.imgsearch(["index", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                               "--device", "cpu", folder.path])
        #expect(run.status == 0, "\(run.standardError)")
    }

    /// Issue 16.3 and 16.10: `imgsearch index` into the daemon's catalog from another
    /// process reaches the daemon's search and status; what it adds outside the daemon's
    /// folders is neither listed nor served.
    @Test func theDaemonFollowsOtherWritersAndShowsOnlyItsFolders() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try copyPhoto("astronaut.png", to: folder)
        // The daemon never crawls photos/later itself, so only the catalog can tell it.
        let daemon = try RunningDaemon(folder: folder, directory: directory, arguments: ["--exclude", "*/later/*"])
        try daemon.waitFor("the first pass") { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        func get<T: Decodable>(_ target: String, as type: T.Type) throws -> T {
            try RawHTTP.get(host: host, port: port, target: target).decoded(as: type)
        }
        func waitForImages(_ count: Int) throws {
            let deadline = Date().addingTimeInterval(15)
            while try get("/api/status", as: Status.self).images != count && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(try get("/api/status", as: Status.self).images == count)
        }

        let later = folder.appendingPathComponent("later")
        try copyPhoto("coffee.png", to: later)
        try index(later, into: daemon.database)
        try waitForImages(2)
        let found = try get("/api/search?q=coffee&limit=10", as: Results.self)
        #expect(Set(found.results.flatMap(\.paths)) == [folder.appendingPathComponent("astronaut.png").path,
                                                         later.appendingPathComponent("coffee.png").path])

        let elsewhere = directory.appendingPathComponent("elsewhere")
        try copyPhoto("chelsea.png", to: elsewhere)
        try index(elsewhere, into: daemon.database)
        try waitForImages(3)
        let shown = try get("/api/search?q=a+cat&limit=10", as: Results.self)
        #expect(shown.results.count == 2)
        #expect(!shown.results.flatMap(\.paths).contains { $0.hasPrefix(elsewhere.path) })
        let hidden = try #require(Set<Int64>([1, 2, 3]).subtracting(shown.results.map(\.id)).first)
        for target in ["/api/images/\(hidden)", "/api/images/\(hidden)/file", "/api/images/\(hidden)/similar"] {
            #expect(try RawHTTP.get(host: host, port: port, target: target).status == 404, "\(target)")
        }
        #expect(try get("/api/status", as: Status.self).roots == [folder.path])

        // `imgsearch query` on this catalog must not go through a daemon that shows only part of it.
        let local = try CommandRunner.imgsearch(["query", "--db", daemon.database, "--model", Fixtures.model("tiny-a").path,
                                                 "--device", "cpu", "--json", "a cat"])
        #expect(local.status == 0, "\(local.standardError)")
        #expect(local.standardOutput.split(separator: "\n").count == 3)
    }

    /// Issue 16.7: the status file names the server as soon as it listens, on every start.
    @Test func everyStartWritesTheServersURL() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try copyPhoto("coffee.png", to: folder)
        for start in 0..<6 {
            try? FileManager.default.removeItem(atPath: directory.appendingPathComponent("catalog.sqlite.daemon.json").path)
            let daemon = try RunningDaemon(folder: folder, directory: directory)
            try daemon.waitFor("the first pass of start \(start)") { $0.passes >= 1 }
            Thread.sleep(forTimeInterval: 0.3)  // the server listened long before: its URL must not have been overwritten
            #expect(daemon.counters?.serverURL != nil, "start \(start)")
            daemon.process.terminate()
            daemon.process.waitUntilExit()
        }
    }

    /// A daemon killed with SIGKILL restarts on the same catalog with the same answers,
    /// embedding nothing again.
    @Test func aDaemonKilledWithSIGKILLRestartsWithTheSameAnswers() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        for name in ["astronaut.png", "chelsea.png", "coffee.png"] { try copyPhoto(name, to: folder) }
        func search(_ daemon: RunningDaemon) throws -> [Hit] {
            let (host, port) = try daemon.server()
            let reply = try RawHTTP.get(host: host, port: port, target: "/api/search?q=a+cat&limit=10")
            #expect(reply.status == 200, "\(reply.text)")
            return try JSONDecoder().decode(Results.self, from: reply.body).results
        }
        let first = try RunningDaemon(folder: folder, directory: directory)
        try first.waitFor("the first pass") { $0.embedded == 3 }
        let before = try search(first)
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        // What the killed daemon left says nothing about the next one.
        try FileManager.default.removeItem(atPath: first.statusPath)

        let second = try RunningDaemon(folder: folder, directory: directory)
        let counters = try second.waitFor("the first pass after the restart") { $0.passes >= 1 && $0.serverURL != nil }
        #expect(counters.embedded == 0)
        let after = try search(second)
        #expect(after.map(\.id) == before.map(\.id))
        #expect(after.map(\.score) == before.map(\.score))
    }
}
