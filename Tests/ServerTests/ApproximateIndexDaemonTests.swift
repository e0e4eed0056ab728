import Foundation
import TestSupport
import Testing

/// `imgsearch daemon --index approximate`: it starts on an empty catalog (an exact index
/// until there is something to train on), trains once the first pass has embedded photos,
/// retrains as the library grows, and follows adds and deletes. On a small library every
/// list is probed and every image is a candidate, so its results must equal exact search.
@Suite struct ApproximateIndexDaemonTests {
    struct Status: Decodable {
        let images: Int
        let index: String
    }

    struct Hit: Decodable {
        let score: Float
        let paths: [String]
    }

    struct Results: Decodable {
        let results: [Hit]
    }

    @Test func theApproximateIndexTrainsFollowsTheLibraryAndMatchesExactSearch() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["astronaut.png", "chelsea.png", "coffee.png"] {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        let daemon = try RunningDaemon(folder: folder, directory: directory, arguments: ["--index", "approximate"])
        try daemon.waitFor("the first pass") { $0.embedded == 3 }
        let (host, port) = try daemon.server()
        func get<T: Decodable>(_ target: String, as type: T.Type) throws -> T {
            try RawHTTP.get(host: host, port: port, target: target).decoded(as: type)
        }
        func exactSearch(_ text: String) throws -> [(path: String, score: Float)] {
            let run = try CommandRunner.imgsearch(["query", text, "--json", "--limit", "10", "--no-daemon", "--index", "exact",
                                                   "--db", daemon.database, "--model", Fixtures.model("tiny-a").path])
            #expect(run.status == 0, "\(run.standardError)")
            return run.standardOutput.split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let path = object["path"] as? String, let score = object["score"] as? Double else { return nil }
                return (path, Float(score))
            }
        }
        func expectSameAsExact(_ text: String, count: Int) throws {
            let approximate = try get("/api/search?q=\(text.replacingOccurrences(of: " ", with: "+"))&limit=10", as: Results.self).results
            let exact = try exactSearch(text)
            #expect(approximate.count == count)
            #expect(approximate.map { $0.paths[0] } == exact.map(\.path))
            for (hit, line) in zip(approximate, exact) { #expect(abs(hit.score - line.score) < 1e-5) }
        }

        // Trained after the first pass (3 images ≥ 4 × 0).
        try daemon.waitFor("the approximate index") { _ in
            (try? get("/api/status", as: Status.self).index) == "approximate"
        }
        try expectSameAsExact("a cat on a sofa", count: 3)

        // Two more photos: retrained at 4× its training size? Not yet (5 < 12); added all the same.
        for (name, copy) in [("coffee.png", "coffee-2.png"), ("astronaut.png", "astronaut-2.png")] {
            var bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            bytes.append(Data("another photo".utf8))
            try bytes.write(to: folder.appendingPathComponent(copy))
        }
        try daemon.waitFor("the added photos") { $0.embedded == 5 }
        try daemon.waitFor("the index to hold them") { _ in (try? get("/api/status", as: Status.self).images) == 5 }
        try expectSameAsExact("a cup of coffee", count: 5)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("chelsea.png"))
        try daemon.waitFor("the deletion") { $0.removed == 1 }
        try daemon.waitFor("the index to drop it") { _ in (try? get("/api/status", as: Status.self).images) == 4 }
        try expectSameAsExact("a cat on a sofa", count: 4)
        #expect(try get("/api/status", as: Status.self).index == "approximate")
    }
}
