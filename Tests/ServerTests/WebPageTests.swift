import Foundation
import TestSupport
import Testing

/// The web page in a real browser (headless Chromium through Selenium): typing a query shows
/// the thumbnails, in the API's order. The screenshots are kept in .build/test-artifacts/.
@Suite struct WebPageTests {
    /// Runs Tests/Browser/search_page.py against `daemon` (see its usage) and returns what it printed.
    func drivePage(_ daemon: RunningDaemon, query: String, screenshot name: String, _ extra: [String] = []) throws -> [String: Any] {
        let (host, port) = try daemon.server()
        let artifacts = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: screenshot)
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        browser.arguments = [Fixtures.root.deletingLastPathComponent().appendingPathComponent("Browser/search_page.py").path,
                             "http://\(host):\(port)", query, screenshot.path] + extra
        let output = Pipe()
        browser.standardOutput = output
        try browser.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        browser.waitUntilExit()
        #expect(browser.terminationStatus == 0, "search_page.py failed: \(String(decoding: printed, as: UTF8.self))")
        let image = try Data(contentsOf: screenshot)
        #expect(image.starts(with: [0x89, 0x50, 0x4E, 0x47]) && image.count > 10_000)
        return try #require(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
    }

    @Test func typingAQueryShowsThumbnails() throws {
        let (directory, folder) = try Fixtures.photoFolder(copying: ["astronaut.png", "chelsea.png", "coffee.png", "cmyk.jpg"]
            .map { "images/\($0)" })
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 4 }

        let page = try drivePage(daemon, query: "a cup of coffee", screenshot: "web-search.png")
        #expect(page["results"] as? Int == 4)
        #expect(page["loaded"] as? Int == 4)
        let api = try daemon.get("/api/search?q=a+cup+of+coffee&limit=60").json()
        let firstPath = try #require(((api["results"] as? [[String: Any]])?.first?["paths"] as? [String])?.first)
        let captions = page["captions"] as? [String] ?? []
        #expect(captions.first?.hasSuffix((firstPath as NSString).lastPathComponent) == true, "\(captions)")
    }

    /// The date fields, the folder chooser and the sort switch narrow and order the grid.
    @Test func datesFolderAndSortNarrowTheGrid() throws {
        let (directory, folder) = try Fixtures.photoFolder(copying: [])
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, album) in [("exif.jpg", "trip"), ("exif.heic", "trip"), ("exif.webp", "trip"), ("exif.png", "home"),
                              ("colorful-cups.jpg", "trip")] {
            let target = folder.appendingPathComponent(album)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("metadata/\(name)"),
                                             to: target.appendingPathComponent(name))
        }
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 5 }

        // 2022-06-01 to 2024-01-01, in trip/, newest first: the HEIC (2024-01-02) is a day late.
        let page = try drivePage(daemon, query: "a photo", screenshot: "web-filters.png",
                                 ["--after", "2022-06-01", "--before", "2024-01-01", "--folder", "/trip", "--sort", "date", "--similar"])
        let photos = ["exif.jpg", "exif.heic", "exif.webp", "exif.png", "colorful-cups.jpg"]
        let name = { (caption: String) in photos.first { caption.hasSuffix($0) } ?? caption }
        let named = { (page: [String: Any]) in (page["captions"] as? [String] ?? []).map(name) }
        let names = named(page)
        #expect(names == ["exif.jpg", "exif.webp"], "\(page)")
        // "More like this" keeps the filters: the other photo the dates and the folder allow.
        #expect((page["similar"] as? [String] ?? []).map(name) == ["exif.webp"], "\(page)")
        let all = try drivePage(daemon, query: "a photo", screenshot: "web-filters-all.png",
                                ["--after", "2022-06-01", "--before", "2024-01-02", "--sort", "date"])
        let allNames = named(all)
        #expect(allNames == ["exif.heic", "exif.jpg", "exif.png", "exif.webp"] || allNames == ["exif.heic", "exif.png", "exif.jpg", "exif.webp"],
                "\(all)")
    }

    /// "Duplicates" shows the groups the API gives, best photo first: a picture stored turned
    /// (EXIF orientation) with its upright original, a byte-identical copy with its original.
    @Test func theDuplicatesViewShowsTheGroups() throws {
        let (directory, folder) = try Fixtures.photoFolder(copying: ["orient_1.jpg", "orient_6.jpg", "coffee.png", "astronaut.png"]
            .map { "images/\($0)" })
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: folder.appendingPathComponent("coffee.png"), to: folder.appendingPathComponent("coffee-copy.png"))
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 4 }
        // The signatures are read at the end of the pass.
        var groups: [[String: Any]] = []
        for _ in 0..<50 where groups.count < 2 {
            groups = try daemon.get("/api/duplicates").json()["groups"] as? [[String: Any]] ?? []
            if groups.count < 2 { Thread.sleep(forTimeInterval: 0.2) }
        }
        let listed = groups.map { ($0["photos"] as? [[String: Any]] ?? []) }
        let names = listed.map { $0.map { (($0["path"] as? String ?? "") as NSString).lastPathComponent }.sorted() }
        #expect(Set(names) == [["coffee-copy.png", "coffee.png"], ["orient_1.jpg", "orient_6.jpg"]], "\(groups)")
        #expect(listed.allSatisfy { $0.allSatisfy { ($0["image"] as? Int ?? 0) > 0 } })
        #expect(listed.flatMap { $0.map { $0["match"] as? String ?? "" } }.sorted() == ["best", "best", "identical", "perceptual"])
        #expect(try daemon.get("/api/duplicates?threshold=64").status == 400)
        #expect(try daemon.get("/api/duplicates?under=/etc").status == 403)
        let scene = try daemon.get("/api/duplicates?scene_threshold=-1").json()["groups"] as? [[String: Any]] ?? []
        #expect(scene.count == 1 && (scene.first?["photos"] as? [Any])?.count == 5)

        let page = try drivePage(daemon, query: "a photo", screenshot: "web-duplicates.png", ["--duplicates"])
        let shown = (page["duplicates"] as? [[String]] ?? []).map { $0.map { caption in
            ["coffee-copy.png", "coffee.png", "orient_1.jpg", "orient_6.jpg"].first { caption.hasSuffix($0) } ?? caption } }
        #expect(Set(shown.map { $0.sorted() }) == Set(names), "\(page)")
        #expect(page["duplicates_loaded"] as? Int == 4)
        #expect((page["duplicates"] as? [[String]] ?? []).allSatisfy { $0.first?.hasPrefix("keep") == true })
    }

    /// With a captioning daemon: thumbnails carry their captions as alt text, the viewer
    /// shows the caption, and "Ask about this photo" prints the API's answer.
    @Test func theViewerShowsTheCaptionAndAnswersAQuestion() throws {
        let (directory, folder) = try Fixtures.photoFolder(copying: ["images/astronaut.png", "images/chelsea.png"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try RunningDaemon(folder: folder, directory: directory,
                                       arguments: ["--captions", Fixtures.generationModel("opt-legacy").path])
        try daemon.waitFor("the first pass") { $0.embedded == 2 }
        var api: [[String: Any]] = []
        for _ in 0..<100 {
            api = try daemon.get("/api/search?q=a+photo&limit=60").json()["results"] as? [[String: Any]] ?? []
            if api.count == 2 && api.allSatisfy({ $0["caption"] != nil }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let apiCaptions = api.compactMap { $0["caption"] as? String }
        #expect(apiCaptions.count == 2)

        let page = try drivePage(daemon, query: "a photo", screenshot: "web-caption.png", ["What is this?"])
        #expect(page["alts"] as? [String] == apiCaptions)
        #expect(page["viewer_caption"] as? String == apiCaptions.first)
        let answer = try #require(page["answer"] as? String)
        let (host, port) = try daemon.server()
        let ask = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(api[0]["id"] as? Int ?? 0)/ask",
                                      body: Data(#"{"question": "What is this?"}"#.utf8)).json()
        #expect(answer.hasPrefix((ask["answer"] as? String ?? "?") + " ("), "\(answer) vs \(ask)")
    }
}
