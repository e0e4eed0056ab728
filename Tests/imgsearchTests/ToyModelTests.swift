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

    @Test func colourAndShapeQueriesFindTheirPictures() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = Self.resources.appendingPathComponent("demo-images")
        let model = Self.resources.appendingPathComponent("toy-model").path
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let captions = try JSONDecoder().decode(Captions.self, from: Data(contentsOf: images.appendingPathComponent("captions.json")))
        #expect(captions.queries.count >= 24)

        let index = try CommandRunner.imgsearch(["index", "--db", database, "--model", model, images.path])
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardOutput.hasPrefix("\(captions.images.count) embedded"), "\(index.standardOutput)")

        var top1 = 0, top5 = 0
        var misses: [String] = []
        for query in captions.queries {
            let words = Set(query.split(separator: " ").map(String.init))
            let relevant = Set(captions.images.filter { words.contains($0.value.colour) && words.contains($0.value.shape) }.map(\.key))
            #expect(!relevant.isEmpty, "\(query) names no picture")
            let result = try CommandRunner.imgsearch(["query", query, "--json", "--limit", "5", "--no-daemon",
                                                      "--db", database, "--model", model])
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
        print("toy model on \(captions.images.count) held-out pictures, \(captions.queries.count) queries: "
            + "recall@1 \(recallAt1), recall@5 \(recallAt5); first-rank misses: \(misses)")
        #expect(recallAt1 >= 0.9)
        #expect(recallAt5 == 1.0)
    }
}
