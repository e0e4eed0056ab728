import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// End-to-end runs of `imgsearch caption` and `imgsearch ask` on the tiny captioning
/// fixtures: real PNG photos through the decoder, the engine, the tokenizer and the printers.
@Suite struct CaptionCommandTests {
    let astronaut = Fixtures.root.appendingPathComponent("images/astronaut.png").path
    let chelsea = Fixtures.root.appendingPathComponent("images/chelsea.png").path

    struct CaptionLine: Decodable, Equatable {
        let path: String
        let caption: String
    }

    struct AnswerLine: Decodable {
        let path: String
        let question: String
        let answer: String
    }

    func lines<T: Decodable>(_ output: String, as type: T.Type) throws -> [T] {
        try output.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// `--beams 1` is transformers' plain greedy decoding: the caption of the photo is the
    /// text of the ids transformers generated for it (same pixels after our decoder).
    @Test(arguments: ["opt-legacy", "t5-gelu"]) func greedyCaptionIsTransformersText(model: String) throws {
        let expected = try ExpectedGeneration.load(model: model)
        let run = try CommandRunner.imgsearch(["caption", "--model", Fixtures.generationModel(model).path, "--device", "cpu",
                                               "--beams", "1", "--max-tokens", "30", "--json", astronaut, chelsea])
        #expect(run.status == 0, "\(run.standardError)")
        let captions = try lines(run.standardOutput, as: CaptionLine.self)
        #expect(captions.map(\.path) == [astronaut, chelsea])
        let greedyRun = try #require(expected.runs.firstIndex { $0.label == "greedy ''" })
        #expect(captions.first?.caption == expected.decoded[greedyRun].trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func anUnreadableImageIsNamedAndTheOthersAreStillCaptioned() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.jpg").path
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]).write(to: URL(fileURLWithPath: broken))
        let run = try CommandRunner.imgsearch(["caption", "--model", Fixtures.generationModel("opt-placeholder").path,
                                               "--device", "cpu", "--max-tokens", "6", astronaut, broken, chelsea])
        #expect(run.status == 1)
        #expect(run.standardError.contains(broken))
        let printed = run.standardOutput.split(separator: "\n")
        #expect(printed.count == 2)
        #expect(printed.first?.hasPrefix("\(astronaut): ") == true)
        #expect(printed.last?.hasPrefix("\(chelsea): ") == true)
    }

    @Test func aRetrievalModelIsRefusedNamingWhatCaptioningNeeds() throws {
        let run = try CommandRunner.imgsearch(["caption", "--model", Fixtures.model("tiny-a").path, astronaut])
        #expect(run.status != 0)
        #expect(run.standardError.contains("is a Blip2ForImageTextRetrieval model: captioning needs a Blip2ForConditionalGeneration snapshot such as Salesforce/blip2-opt-2.7b"))
        #expect(run.standardError.split(separator: "\n").count == 1, "one line: \(run.standardError)")
    }

    /// The answer is what the library generates for LAVIS's prompt with the cleaned question.
    @Test func askUsesTheShortAnswerPromptForEveryImage() throws {
        let directory = Fixtures.generationModel("t5-gelu-new")
        let run = try CommandRunner.imgsearch(["ask", "--model", directory.path, "--device", "cpu", "--beams", "1",
                                               "--max-tokens", "10", "--json", astronaut, chelsea, "What is (this)?"])
        #expect(run.status == 0, "\(run.standardError)")
        let answers = try lines(run.standardOutput, as: AnswerLine.self)
        #expect(answers.map(\.path) == [astronaut, chelsea])
        #expect(answers.allSatisfy { $0.question == "What is (this)?" })

        let generator = try Blip2Generator(directory: directory, options: ComputeOptions(device: "cpu"))
        let pixels = try ImagePreprocessor(size: generator.config.visual.imageSize).pixels(path: astronaut)
        let prompt = generator.snapshot.promptIDs("Question: what is this? Short answer:")
        let ids = try generator.generate(pixels: pixels, count: 1, prompts: [prompt], options: .greedy(maxNewTokens: 10))
        #expect(answers.first?.answer == generator.snapshot.text(of: ids[0]))
    }

    @Test func samplingOptionsAreCheckedBeforeTheModelLoads() throws {
        let run = try CommandRunner.imgsearch(["caption", "--model", "/nonexistent", "--top-p", "0.9", astronaut])
        #expect(run.status == 64)
        #expect(run.standardError.contains("--sample"))
        let beams = try CommandRunner.imgsearch(["caption", "--model", "/nonexistent", "--sample", "--beams", "3", astronaut])
        #expect(beams.status == 64)
    }
}
