import Foundation
import TestSupport
import Testing

/// The web page in a real browser (headless Chromium through Selenium): typing a query shows
/// the thumbnails, in the API's order. The screenshot is kept in .build/test-artifacts/.
@Suite struct WebPageTests {
    @Test func typingAQueryShowsThumbnails() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["astronaut.png", "chelsea.png", "coffee.png", "cmyk.jpg"] {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 4 }
        let (host, port) = try daemon.server()

        let artifacts = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("web-search.png")
        try? FileManager.default.removeItem(at: screenshot)

        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        browser.arguments = [Fixtures.root.deletingLastPathComponent().appendingPathComponent("Browser/search_page.py").path,
                             "http://\(host):\(port)", "a cup of coffee", screenshot.path]
        let output = Pipe()
        browser.standardOutput = output
        try browser.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        browser.waitUntilExit()
        #expect(browser.terminationStatus == 0, "search_page.py failed: \(String(decoding: printed, as: UTF8.self))")

        let page = try #require(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
        #expect(page["results"] as? Int == 4)
        #expect(page["loaded"] as? Int == 4)
        let api = try RawHTTP.get(host: host, port: port, target: "/api/search?q=a+cup+of+coffee&limit=60").json()
        let firstPath = try #require(((api["results"] as? [[String: Any]])?.first?["paths"] as? [String])?.first)
        let captions = page["captions"] as? [String] ?? []
        #expect(captions.first?.hasSuffix((firstPath as NSString).lastPathComponent) == true, "\(captions)")
        let image = try Data(contentsOf: screenshot)
        #expect(image.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(image.count > 10_000)
    }

    /// With a captioning daemon: thumbnails carry their captions as alt text, the viewer
    /// shows the caption, and "Ask about this photo" prints the API's answer.
    @Test func theViewerShowsTheCaptionAndAnswersAQuestion() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["astronaut.png", "chelsea.png"] {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        let daemon = try RunningDaemon(folder: folder, directory: directory,
                                       arguments: ["--captions", Fixtures.generationModel("opt-legacy").path])
        try daemon.waitFor("the first pass") { $0.embedded == 2 }
        let (host, port) = try daemon.server()
        var api: [[String: Any]] = []
        for _ in 0..<100 {
            api = try RawHTTP.get(host: host, port: port, target: "/api/search?q=a+photo&limit=60").json()["results"] as? [[String: Any]] ?? []
            if api.count == 2 && api.allSatisfy({ $0["caption"] != nil }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let apiCaptions = api.compactMap { $0["caption"] as? String }
        #expect(apiCaptions.count == 2)

        let artifacts = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        browser.arguments = [Fixtures.root.deletingLastPathComponent().appendingPathComponent("Browser/search_page.py").path,
                             "http://\(host):\(port)", "a photo", artifacts.appendingPathComponent("web-caption.png").path,
                             "What is this?"]
        let output = Pipe()
        browser.standardOutput = output
        try browser.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        browser.waitUntilExit()
        #expect(browser.terminationStatus == 0, "search_page.py failed: \(String(decoding: printed, as: UTF8.self))")
        let page = try #require(try JSONSerialization.jsonObject(with: printed) as? [String: Any])
        #expect(page["alts"] as? [String] == apiCaptions)
        #expect(page["viewer_caption"] as? String == apiCaptions.first)
        let answer = try #require(page["answer"] as? String)
        let ask = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(api[0]["id"] as? Int ?? 0)/ask",
                                      body: Data(#"{"question": "What is this?"}"#.utf8)).json()
        #expect(answer.hasPrefix((ask["answer"] as? String ?? "?") + " ("), "\(answer) vs \(ask)")
    }
}
