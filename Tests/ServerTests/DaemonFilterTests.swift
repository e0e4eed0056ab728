import Foundation
import TestSupport
import Testing

/// `GET /api/search` with filters: the same photos as `query` with the same filters.
@Suite(.serialized) struct DaemonFilterTests {
    let directory: URL
    let daemon: RunningDaemon

    init() throws {
        let photos: URL
        (directory, photos) = try Fixtures.photoFolder(copying: ["exif.jpg", "exif.webp", "exif.heic", "colorful-cups.jpg"]
            .map { "metadata/\($0)" })
        daemon = try RunningDaemon(folder: photos, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 4 }
    }

    func names(_ query: String) throws -> Set<String> {
        struct Page: Decodable {
            struct Hit: Decodable { let paths: [String] }
            let results: [Hit]
        }
        let reply = try daemon.get("/api/search?q=a+photo&limit=10&" + query)
        #expect(reply.status == 200, "\(query): \(reply.text)")
        return Set(try JSONDecoder().decode(Page.self, from: reply.body).results.map { ($0.paths[0] as NSString).lastPathComponent })
    }

    @Test func filtersKeepWhatTheySay() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try names("after=2023") == ["exif.jpg", "exif.heic"])
        #expect(try names("before=2023&after=2014") == ["exif.webp", "colorful-cups.jpg"])
        #expect(try names("camera=sony") == ["colorful-cups.jpg"])
        #expect(try names("format=heic&format=webp") == ["exif.webp", "exif.heic"])
        #expect(try names("near=56.15,10.2&within=5") == ["colorful-cups.jpg"])
        #expect(try names("near=-33.86,151.21&within=1&mode=hybrid") == ["exif.webp"])
        let bad = try daemon.get("/api/search?q=a&after=yesterday")
        #expect(bad.status == 400 && bad.text.contains("after yesterday: not a date"))
        #expect(try daemon.get("/api/search?q=a&within=3").status == 400)
    }

    @Test func foldersAndNewestFirst() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let folders = try daemon.get("/api/folders").json()["folders"] as? [[String: Any]] ?? []
        #expect(folders.count == 1 && folders.first?["photos"] as? Int == 4
                && (folders.first?["path"] as? String)?.hasSuffix("/photos") == true)
        let hits = try daemon.get("/api/search?q=a+photo&sort=date").json()["results"] as? [[String: Any]] ?? []
        #expect(hits.compactMap { $0["taken"] as? String }
            == ["2024-01-02 03:04:05", "2023-07-14 18:30:05", "2022-12-31 23:59:59", "2014-04-29 14:25:26"])
        #expect(try daemon.get("/api/search?q=a&sort=name").status == 400)

        // "More like this" takes the same filters.
        let jpeg = try #require(hits.first { ($0["paths"] as? [String])?.first?.hasSuffix("exif.jpg") == true }?["id"] as? Int)
        let similar = try daemon.get("/api/images/\(jpeg)/similar?camera=sony&limit=5").json()["results"] as? [[String: Any]] ?? []
        #expect(similar.compactMap { ($0["paths"] as? [String])?.first.map { ($0 as NSString).lastPathComponent } } == ["colorful-cups.jpg"])
        #expect(try daemon.get("/api/images/\(jpeg)/similar?before=yesterday").status == 400)
    }
}
