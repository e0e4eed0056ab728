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

    /// `photos/chelsea.png` in `directory`.
    static func folderWithTheCat(in directory: URL) throws -> URL {
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/chelsea.png"),
                                         to: folder.appendingPathComponent("chelsea.png"))
        return folder
    }

    /// The toy captioner with its language model `layers` deep (copies of its layers), so
    /// that one answer takes seconds: long enough to overlap requests and indexing.
    static func slowCaptioner(in directory: URL, layers: Int) throws -> URL {
        let slow = directory.appendingPathComponent("slow-captioner")
        try FileManager.default.copyItem(at: Fixtures.resource("toy-captioner"), to: slow)
        let configURL = slow.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        var text = config["text_config"] as! [String: Any]
        let original = text["num_hidden_layers"] as! Int
        text["num_hidden_layers"] = layers
        config["text_config"] = text
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        var weights = try SafetensorsEditor(url: slow.appendingPathComponent("model.safetensors"))
        let prefix = "language_model.model.decoder.layers."
        let layerZero = weights.header.keys.filter { $0.hasPrefix(prefix + "0.") }.map { String($0.dropFirst(prefix.count + 2)) }
        for layer in original..<layers {
            for name in layerZero { weights.add("\(prefix)\(layer).\(name)", copyOf: "\(prefix)\(layer % original).\(name)") }
        }
        try weights.save()
        return slow
    }

    @Test func anAnswerWhileIndexingASecondQuestionMeanwhileIsBusyAndAQuestionCanBeStopped() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = try Self.folderWithTheCat(in: directory)
        let captioner = try Self.slowCaptioner(in: directory, layers: 1500)
        let daemon = try RunningDaemon(folder: folder, directory: directory, arguments: ["--captions", captioner.path])
        try daemon.waitFor("the first pass", seconds: 60) { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        let hit = try JSONDecoder().decode(Results.self, from: try RawHTTP.get(host: host, port: port, target: "/api/search?q=cat").body).results[0]

        // New photos arrive: the daemon indexes them while it answers.
        let arrivals = try FileManager.default.contentsOfDirectory(atPath: Fixtures.shapesHoldout.path)
            .filter { $0.hasSuffix(".png") }.sorted().prefix(12)
        for name in arrivals {
            try FileManager.default.copyItem(at: Fixtures.shapesHoldout.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let question = Data(#"{"question": "what colour is the shape?"}"#.utf8)
        func ask() throws -> RawHTTP.Reply {
            try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hit.id)/ask",
                                headers: ["Content-Type": "application/json"], body: question)
        }
        let first = TimedRequest(ask)
        Thread.sleep(forTimeInterval: 0.3)
        let start = Date()
        let second = try ask()
        let secondSeconds = Date().timeIntervalSince(start)
        #expect(second.status == 429 && second.text.contains("busy"), "\(second.status) \(second.text)")
        #expect(secondSeconds < 1, "refused at once, not after the first answer")
        let (answer, answerSeconds) = try #require(first.wait())
        #expect(answer?.status == 200, "\(answer?.text ?? "no reply")")
        #expect(answerSeconds > secondSeconds, "the first answer was still being computed when the second was refused")
        #expect(try answer?.json()["answer"] as? String != nil)
        // Indexing went on meanwhile, and the captioner is free again afterwards.
        try daemon.waitFor("the new photos", seconds: 120) { $0.embedded == 1 + arrivals.count }
        #expect(try ask().status == 200)
        print("answer took \(answerSeconds) s; the second question was refused in \(secondSeconds) s")

        // A question can be stopped: it ends with 409 well before an answer would have come.
        let idle = try RawHTTP.request("DELETE", host: host, port: port, target: "/api/jobs/current")
        #expect(idle.status == 404, "nothing to stop: \(idle.text)")
        let third = TimedRequest(ask)
        Thread.sleep(forTimeInterval: 0.3)
        let cancel = try RawHTTP.request("DELETE", host: host, port: port, target: "/api/jobs/current")
        #expect(cancel.status == 200 && cancel.text.contains("\"cancelled\":true"), "\(cancel.status) \(cancel.text)")
        let (stopped, stoppedSeconds) = try #require(third.wait())
        #expect(stopped?.status == 409 && stopped?.text.contains("cancelled") == true, "\(stopped?.text ?? "no reply")")
        #expect(stoppedSeconds < answerSeconds, "stopped after \(stoppedSeconds) s; an answer takes \(answerSeconds) s")
        #expect(try ask().status == 200)
    }

    /// A request sent from another thread, timed; `wait()` gives its reply (nil when it
    /// failed) and seconds, or nil after two minutes.
    final class TimedRequest: @unchecked Sendable {
        private var outcome: (RawHTTP.Reply?, Double)?
        private let done = DispatchSemaphore(value: 0)

        init(_ send: @escaping () throws -> RawHTTP.Reply) {
            nonisolated(unsafe) let send = send
            Thread.detachNewThread { [self] in
                let start = Date()
                let reply = try? send()
                outcome = (reply, Date().timeIntervalSince(start))
                done.signal()
            }
        }

        func wait() -> (RawHTTP.Reply?, Double)? {
            done.wait(timeout: .now() + 120) == .success ? outcome : nil
        }
    }

    @Test func aDaemonWithoutACaptioningModelSaysHowToGetOne() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = try Self.folderWithTheCat(in: directory)
        let daemon = try RunningDaemon(folder: folder, directory: directory)
        try daemon.waitFor("the first pass") { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        let hit = try JSONDecoder().decode(Results.self, from: try RawHTTP.get(host: host, port: port, target: "/api/search?q=cat").body).results[0]
        let reply = try RawHTTP.request("POST", host: host, port: port, target: "/api/images/\(hit.id)/caption")
        #expect(reply.status == 404 && reply.text.contains("--captions"), "\(reply.text)")
    }
}
