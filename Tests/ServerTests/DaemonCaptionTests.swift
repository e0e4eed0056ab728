import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// `imgsearch daemon --captions`: photos captioned after each pass, captions and answers on
/// demand over the API, as the page's "Ask about this photo" box uses them.
@Suite(.serialized) struct DaemonCaptionTests {
    struct Hit: Decodable {
        let id: Int64
        let paths: [String]
        let caption: String?
    }

    struct Results: Decodable {
        let results: [Hit]
    }

    @Test func captionsAndAnswersOnDemand() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["astronaut.png", "chelsea.png", "coffee.png"] {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"),
                                             to: folder.appendingPathComponent(name))
        }
        let captioner = Fixtures.generationModel("t5-gelu")
        let daemon = try RunningDaemon(folder: folder, directory: directory, arguments: ["--captions", captioner.path])
        try daemon.waitFor("the first pass") { $0.embedded == 3 }
        let (host, port) = try daemon.server()

        // Captioned after the pass: every hit gets its caption.
        var hits: [Hit] = []
        for _ in 0..<100 {
            let reply = try RawHTTP.get(host: host, port: port, target: "/api/search?q=a+photo&limit=3")
            hits = try JSONDecoder().decode(Results.self, from: reply.body).results
            if hits.count == 3 && hits.allSatisfy({ $0.caption != nil }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(hits.count == 3 && hits.allSatisfy { $0.caption?.isEmpty == false }, "\(hits)")

        let question = Data(#"{"question": "What is (this)?"}"#.utf8)
        let ask = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hits[0].id)/ask",
                                      headers: ["Content-Type": "application/json"], body: question)
        #expect(ask.status == 200, "\(ask.text)")
        let answer = try ask.json()
        // The library's answer for LAVIS's prompt and VQA recipe on the same photo.
        let generator = try Blip2Generator(directory: captioner, options: ComputeOptions(device: "cpu"))
        let pixels = try ImagePreprocessor(size: generator.config.visual.imageSize).pixels(path: hits[0].paths[0])
        let ids = try generator.generate(pixels: pixels, count: 1, prompts: [generator.snapshot.promptIDs(VisualQuestion.prompt("What is (this)?"))],
                                         options: .answer(for: .t5))
        #expect(answer["answer"] as? String == generator.snapshot.text(of: ids[0]))
        #expect(answer["question"] as? String == "What is (this)?")
        #expect((answer["seconds"] as? Double ?? -1) >= 0)

        let caption = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hits[0].id)/caption")
        #expect(caption.status == 200, "\(caption.text)")
        #expect((try caption.json()["caption"] as? String)?.isEmpty == false)

        for (body, what) in [(Data("not json".utf8), "body"), (Data(#"{"question": ""}"#.utf8), "question"),
                             (Data("{\"question\": \"\(String(repeating: "why ", count: 100))\"}".utf8), "question")] {
            let bad = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hits[0].id)/ask", body: body)
            #expect(bad.status == 400 && bad.text.contains(what), "\(bad.status) \(bad.text)")
        }
        let unknown = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/999999/ask", body: question)
        #expect(unknown.status == 404)
    }

    @Test func aDaemonWithoutACaptioningModelSaysHowToGetOne() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/chelsea.png"),
                                         to: folder.appendingPathComponent("chelsea.png"))
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        let hit = try JSONDecoder().decode(Results.self, from: try RawHTTP.get(host: host, port: port, target: "/api/search?q=cat").body).results[0]
        let reply = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hit.id)/caption")
        #expect(reply.status == 404 && reply.text.contains("--captions"), "\(reply.text)")
    }
}
