import Embeddings
import Foundation
import TestSupport
import Testing

/// Search that works, end to end, with a model that learned something: the bundled toy
/// BLIP-2 (trained on synthetic coloured shapes) indexes the held-out demo pictures, and
/// every "a COLOUR SHAPE" query must find its pictures through tokenizer → Q-Former text
/// encoder → vector index → max over queries → ranking.
@Suite struct ToyModelTests {
    static let resources = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/imgsearch/Resources")

    struct Captions: Decodable {
        struct Picture: Decodable {
            let colour: String
            let shape: String
        }
        let images: [String: Picture]
        let queries: [String]
    }

    /// In fp32 and in int8, whose embeddings are kept apart: a catalog indexed in int8 says
    /// so to a search or an index run in another precision.
    @Test(arguments: [Precision.fp32, .int8])
    func colourAndShapeQueriesFindTheirPictures(precision: Precision) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = Self.resources.appendingPathComponent("demo-images")
        let model = Self.resources.appendingPathComponent("toy-model").path
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let captions = try JSONDecoder().decode(Captions.self, from: Data(contentsOf: images.appendingPathComponent("captions.json")))
        #expect(captions.queries.count >= 24)

        let chosen = ["--precision", precision.rawValue]
        let index = try CommandRunner.imgsearch(["index", "--db", database, "--model", model, images.path] + chosen)
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardOutput.hasPrefix("\(captions.images.count) embedded"), "\(index.standardOutput)")
        if precision == .int8 {
            let search = try CommandRunner.imgsearch(["query", "a red circle", "--no-daemon", "--db", database, "--model", model])
            #expect(search.status != 0 && search.standardError.contains("--precision int8"), "\(search.standardError)")
            let reindex = try CommandRunner.imgsearch(["index", "--db", database, "--model", model, images.path])
            #expect(reindex.status != 0 && reindex.standardError.contains("--precision int8"), "\(reindex.standardError)")
        }

        var top1 = 0, top5 = 0
        var misses: [String] = []
        for query in captions.queries {
            let words = Set(query.split(separator: " ").map(String.init))
            let relevant = Set(captions.images.filter { words.contains($0.value.colour) && words.contains($0.value.shape) }.map(\.key))
            #expect(!relevant.isEmpty, "\(query) names no picture")
            let result = try CommandRunner.imgsearch(["query", query, "--json", "--limit", "5", "--no-daemon",
                                                      "--db", database, "--model", model] + chosen)
            #expect(result.status == 0, "\(result.standardError)")
            let ranked = result.standardOutput.split(separator: "\n").compactMap { line -> String? in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return (object?["path"] as? String).map { ($0 as NSString).lastPathComponent }
            }
            #expect(ranked.count == 5)
            if let first = ranked.first, relevant.contains(first) { top1 += 1 } else { misses.append("\(query) → \(ranked.first ?? "-")") }
            if ranked.contains(where: relevant.contains) { top5 += 1 }
        }
        let recallAt1 = Double(top1) / Double(captions.queries.count)
        let recallAt5 = Double(top5) / Double(captions.queries.count)
        print("toy model (\(precision)) on \(captions.images.count) held-out pictures, \(captions.queries.count) queries: "
            + "recall@1 \(recallAt1), recall@5 \(recallAt5); first-rank misses: \(misses)")
        #expect(recallAt1 >= 0.9)
        #expect(recallAt5 == 1.0)
    }
}

/// The toy models on pictures they never saw, drawn by a second, independent renderer
/// (`tools/make_shape_holdout.py`: its own rasteriser, other colours' exact values, canvas
/// sizes and aspect ratios, rotations, outlines, PNG/WebP/JPEG).
@Suite(.serialized) struct ToyModelHoldoutTests {
    struct Picture: Decodable {
        let file: String
        let colour: String
        let shape: String
    }

    static let pictures: [Picture] = {
        let data = try! Data(contentsOf: Fixtures.shapesHoldout.appendingPathComponent("labels.json"))
        return try! JSONDecoder().decode([Picture].self, from: data)
    }()
    static let model = Fixtures.resource("toy-model").path
    static let captioner = Fixtures.resource("toy-captioner").path
    static var paths: [String] { pictures.map { Fixtures.shapesHoldout.appendingPathComponent($0.file).path } }

    static func jsonLines(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func retrievalFindsEveryColourAndShape() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let index = try CommandRunner.imgsearch(["index", "--db", database, "--model", Self.model, Fixtures.shapesHoldout.path])
        #expect(index.status == 0, "\(index.standardError)")
        let combinations = Set(Self.pictures.map { "\($0.colour) \($0.shape)" }).sorted()
        #expect(combinations.count == 32)
        var top1 = 0, top5 = 0
        var misses: [String] = []
        for combination in combinations {
            let result = try CommandRunner.imgsearch(["query", "a \(combination)", "--json", "--limit", "5", "--no-daemon",
                                                      "--db", database, "--model", Self.model])
            #expect(result.status == 0, "\(result.standardError)")
            let ranked = Self.jsonLines(result.standardOutput).compactMap { ($0["path"] as? String).map { ($0 as NSString).lastPathComponent } }
            #expect(ranked.count == 5)
            let relevant = Set(Self.pictures.filter { "\($0.colour) \($0.shape)" == combination }.map(\.file))
            if let first = ranked.first, relevant.contains(first) { top1 += 1 } else { misses.append("a \(combination) → \(ranked.first ?? "-")") }
            if ranked.contains(where: relevant.contains) { top5 += 1 }
        }
        let recallAt1 = Double(top1) / Double(combinations.count)
        let recallAt5 = Double(top5) / Double(combinations.count)
        print("toy retrieval on \(Self.pictures.count) pictures of the second renderer: recall@1 \(recallAt1), recall@5 \(recallAt5); misses: \(misses)")
        // The issue's bar. This model measures 1.0 / 1.0 (transformers ranks the same); the
        // one before its vision tower was pre-trained on shapes (tools/pretrain_toy_vision.py)
        // measured 0.53 / 0.94.
        #expect(recallAt1 >= 0.9)
        #expect(recallAt5 == 1.0)
    }

    @Test func captionsNameTheColourAndTheShape() throws {
        let result = try CommandRunner.imgsearch(["caption", "--model", Self.captioner, "--json"] + Self.paths)
        #expect(result.status == 0, "\(result.standardError)")
        let captions = Dictionary(uniqueKeysWithValues: Self.jsonLines(result.standardOutput).map {
            (($0["path"] as! NSString).lastPathComponent, $0["caption"] as! String)
        })
        #expect(captions.count == Self.pictures.count)
        let wrong = Self.pictures.filter { picture in
            let words = Set((captions[picture.file] ?? "").split(separator: " ").map(String.init))
            return !(words.contains(picture.colour) && words.contains(picture.shape))
        }
        let accuracy = 1 - Double(wrong.count) / Double(Self.pictures.count)
        print("toy captions right for \(accuracy); wrong: \(wrong.map { "\($0.file): \(captions[$0.file] ?? "-")" })")
        // The issue's bar. The toy captioner reads the toy retrieval model's (frozen) vision
        // tower; before that tower was pre-trained on shapes, captions were right for 0.31.
        #expect(accuracy >= 0.9)
    }

    @Test(arguments: [("what colour is the shape?", "colour"), ("what shape is it?", "shape")])
    func answersNameTheColourOrTheShape(question: String, asked: String) throws {
        let result = try CommandRunner.imgsearch(["ask", "--model", Self.captioner, "--json"] + Self.paths + [question])
        #expect(result.status == 0, "\(result.standardError)")
        let answers = Dictionary(uniqueKeysWithValues: Self.jsonLines(result.standardOutput).map {
            (($0["path"] as! NSString).lastPathComponent, $0["answer"] as! String)
        })
        let wrong = Self.pictures.filter { answers[$0.file] != (asked == "colour" ? $0.colour : $0.shape) }
        let accuracy = 1 - Double(wrong.count) / Double(Self.pictures.count)
        print("toy answers to \"\(question)\" right for \(accuracy); wrong: \(wrong.map { "\($0.file): \(answers[$0.file] ?? "-")" })")
        // The issue's bar for both (shapes were right for 0.34 before the tower was pre-trained).
        #expect(accuracy >= 0.9)
    }

    @Test func indexWithCaptionsRunsOneVisionPassForBoth() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let shared = directory.appendingPathComponent("shared.sqlite").path
        let separate = directory.appendingPathComponent("separate.sqlite").path
        let folder = Fixtures.shapesHoldout.path

        let together = try CommandRunner.imgsearch(["index", "--db", shared, "--model", Self.model, "--captions", Self.captioner, folder])
        #expect(together.status == 0, "\(together.standardError)")
        #expect(together.standardError.contains("one vision pass serves both"))
        #expect(together.standardOutput.hasPrefix("\(Self.pictures.count) embedded (\(Self.pictures.count) captioned)"), "\(together.standardOutput)")
        #expect(together.standardOutput.contains("\n0 captioned"), "nothing left for a separate caption pass")

        // The same library embedded first, captioned after: the captions of a second pass.
        #expect(try CommandRunner.imgsearch(["index", "--db", separate, "--model", Self.model, folder]).status == 0)
        let after = try CommandRunner.imgsearch(["index", "--db", separate, "--model", Self.model, "--captions", Self.captioner, folder])
        #expect(after.status == 0, "\(after.standardError)")
        #expect(after.standardOutput.contains("\n\(Self.pictures.count) captioned"), "\(after.standardOutput)")

        // Same captions and same scores either way.
        for query in ["a red star", "a blue triangle"] {
            let arguments = ["query", query, "--json", "--limit", "64", "--no-daemon", "--model", Self.model]
            let one = try CommandRunner.imgsearch(arguments + ["--db", shared])
            let two = try CommandRunner.imgsearch(arguments + ["--db", separate])
            #expect(one.status == 0 && !one.standardOutput.isEmpty)
            #expect(one.standardOutput == two.standardOutput)
        }
        // A word only the captions hold finds its pictures.
        let keyword = try CommandRunner.imgsearch(["query", "star", "--mode", "keyword", "--json", "--limit", "64", "--no-daemon",
                                                   "--db", shared, "--model", Self.model])
        let found = Self.jsonLines(keyword.standardOutput).compactMap { ($0["caption"] as? String) }
        #expect(!found.isEmpty && found.allSatisfy { $0.contains("star") })
    }
}

/// `imgsearch demo` with no set-up: searches, then the toy captioner's captions and answer.
@Suite struct DemoCommandTests {
    @Test func theDemoSearchesCaptionsAndAnswersWithMarks() throws {
        let home = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let demo = try CommandRunner.imgsearch(["demo"], environment: ["HF_HOME": home.path, "HOME": home.path])
        #expect(demo.status == 0, "\(demo.standardError)")
        #expect(demo.standardOutput.contains("queries found a matching picture first"))
        let described = demo.standardOutput.components(separatedBy: "captions by the toy captioner").last ?? ""
        let lines = described.split(separator: "\n").dropFirst()
        #expect(lines.count == 4 && lines.last?.contains("what colour is the shape?") == true, "\(described)")
        #expect(lines.filter { $0.contains("✓") }.count >= 3, "\(described)")
    }

    /// Found on PATH through a symbolic link (as /usr/bin/imgsearch is in the Debian package),
    /// the binary finds the resource bundle beside its real path, never the source tree.
    @Test func theDemoRunsFromPATHWithTheBundleBesideTheBinary() throws {
        let home = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let bin = home.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let binary = CommandRunner.productsDirectory.appendingPathComponent("imgsearch")
        try FileManager.default.createSymbolicLink(at: bin.appendingPathComponent("imgsearch"), withDestinationURL: binary)
        let demo = try CommandRunner.run(["/usr/bin/env", "imgsearch", "demo", "--limit", "1"],
                                         environment: ["HF_HOME": home.path, "HOME": home.path, "PATH": bin.path + ":/usr/bin:/bin"])
        #expect(demo.status == 0, "\(demo.standardError)")
        let bundle = binary.resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("imgsearch_imgsearch.resources/Resources/demo-images").path
        #expect(demo.standardOutput.contains("demo pictures from \(bundle)"), "\(demo.standardOutput.prefix(300))")
    }
}
