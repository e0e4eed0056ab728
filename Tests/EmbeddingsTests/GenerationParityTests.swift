import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// The captioning engine against transformers 4.46.3 on tiny random
/// Blip2ForConditionalGeneration checkpoints (`tools/make_generation_fixtures.py`): OPT with
/// the image queries prepended (fp32, an explicit lm_head copy) and with placeholders (fp16
/// in four shards), Flan-T5 with erf GELU (fp32) and with gelu_new (bf16, embed_tokens copies).
@Suite(.serialized) struct GenerationParityTests {
    static let models = ["opt-legacy", "opt-placeholder", "opt-eos", "t5-gelu", "t5-gelu-new"]

    struct Loaded {
        let generator: Blip2Generator
        let expected: ExpectedGeneration
        let pixels: [Float]
    }

    static func load(_ name: String) throws -> Loaded {
        let directory = Fixtures.generationModel(name)
        let generator = try Blip2Generator(directory: directory, options: ComputeOptions(device: "cpu", precision: .fp32))
        return Loaded(generator: generator, expected: try ExpectedGeneration.load(model: name),
                      pixels: try Fixtures.readFloats(directory.appendingPathComponent("pixels.f32")))
    }

    static func options(_ settings: ExpectedGeneration.Settings) -> GenerationOptions {
        GenerationOptions(maxNewTokens: settings.max_new_tokens, minNewTokens: settings.min_new_tokens ?? 0,
                          beams: settings.num_beams, lengthPenalty: settings.length_penalty ?? 1,
                          repetitionPenalty: settings.repetition_penalty ?? 1,
                          noRepeatNgramSize: settings.no_repeat_ngram_size ?? 0)
    }

    @Test(arguments: models) func firstStepLogitsMatchWithin1e4(name: String) throws {
        let model = try Self.load(name)
        let reference = model.expected.first_logits
        let prompts = zip(reference.ids, reference.mask).map { ids, mask in zip(ids, mask).filter { $0.1 == 1 }.map(\.0) }
        let logits = try model.generator.firstTokenLogits(pixels: model.pixels, count: 2, prompts: prompts)
        for row in 0..<2 {
            let difference = maxAbsoluteDifference(logits[row], reference.logits[row])
            #expect(difference < 1e-4, "\(name) row \(row): max |Δlogit| \(difference)")
            // Not a vacuous match: the logits spread over a real range.
            #expect((reference.logits[row].max() ?? 0) - (reference.logits[row].min() ?? 0) > 1)
        }
    }

    @Test(arguments: models) func everyGenerateCallGivesTheSameIDs(name: String) throws {
        let model = try Self.load(name)
        for run in model.expected.runs {
            let prompts = (0..<run.ids.count).map { run.unpaddedIDs($0) }
            let tokens = try model.generator.generate(pixels: model.pixels, count: prompts.count, prompts: prompts,
                                                      options: Self.options(run.generate))
            #expect(tokens == run.tokens, "\(name) \(run.label)")
        }
    }

    @Test(arguments: models) func batchedEqualsOneByOne(name: String) throws {
        let model = try Self.load(name)
        let perImage = model.generator.pixelsPerImage
        for run in model.expected.runs where run.label.hasSuffix("mixed") {
            let prompts = (0..<run.ids.count).map { run.unpaddedIDs($0) }
            let options = Self.options(run.generate)
            let batched = try model.generator.generate(pixels: model.pixels, count: 2, prompts: prompts, options: options)
            for row in 0..<2 {
                let pixels = Array(model.pixels[(row * perImage)..<((row + 1) * perImage)])
                let single = try model.generator.generate(pixels: pixels, count: 1, prompts: [prompts[row]], options: options)
                #expect(single[0] == batched[row], "\(name) \(run.label) row \(row)")
            }
        }
    }

    @Test(arguments: models) func promptsTokenizeAsTheProcessorDoes(name: String) throws {
        let model = try Self.load(name)
        for run in model.expected.runs {
            for (row, prompt) in run.prompts.enumerated() {
                #expect(model.generator.snapshot.promptIDs(prompt) == run.unpaddedIDs(row), "\(name) \(prompt.debugDescription)")
            }
        }
    }

    @Test(arguments: models) func generatedIDsDecodeAsTransformersDoes(name: String) throws {
        let model = try Self.load(name)
        let vocabulary = Int32(model.generator.config.language.vocabularySize)
        for (run, expected) in zip(model.expected.runs, model.expected.decoded) {
            let text = model.generator.snapshot.text(of: run.tokens[0].filter { $0 < vocabulary })
            #expect(text == expected.trimmingCharacters(in: .whitespacesAndNewlines), "\(name) \(run.label)")
        }
    }

    @Test func greedyIsDeterministicAndSamplingFollowsItsSeed() throws {
        let model = try Self.load("opt-legacy")
        let prompt = [model.generator.snapshot.promptIDs("a photo of")]
        let pixels = Array(model.pixels.prefix(model.generator.pixelsPerImage))
        func sample(_ seed: UInt64) throws -> [Int32] {
            var options = GenerationOptions.greedy(maxNewTokens: 20)
            options.sampling = .init(temperature: 1.5, topK: 0, topP: 0.95, seed: seed)
            return try model.generator.generate(pixels: pixels, count: 1, prompts: prompt, options: options)[0]
        }
        #expect(try sample(7) == sample(7))
        let seeds = try (1...4).map { try sample($0) }
        #expect(Set(seeds.map { $0.description }).count > 1, "different seeds should not all give the same text")
    }

    @Test func aRetrievalSnapshotIsRefusedWithWhatToUseInstead() throws {
        #expect {
            _ = try CaptionModelSnapshot(directory: Fixtures.model("tiny-a"))
        } throws: { error in
            "\(error)".contains("is a Blip2ForImageTextRetrieval model: captioning needs a Blip2ForConditionalGeneration snapshot such as Salesforce/blip2-opt-2.7b")
        }
        #expect {
            _ = try ModelSnapshot(directory: Fixtures.generationModel("opt-legacy"))
        } throws: { error in
            "\(error)".contains("is a Blip2ForConditionalGeneration model") && "\(error)".contains("Salesforce/blip2-itm-vit-g")
        }
    }

    @Test func missingTokenizerAndTruncatedShardAreNamed() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = Fixtures.generationModel("opt-placeholder")
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: directory.appendingPathComponent(file))
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("merges.txt"))
        #expect { _ = try CaptionModelSnapshot(directory: directory) } throws: { "\($0)".contains("merges.txt") }
        try FileManager.default.copyItem(at: source.appendingPathComponent("merges.txt"), to: directory.appendingPathComponent("merges.txt"))

        let shard = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".safetensors") }.sorted()[1]
        let url = directory.appendingPathComponent(shard)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 100).write(to: url)
        #expect { _ = try Blip2Generator(directory: directory, options: ComputeOptions(device: "cpu")) } throws: { "\($0)".contains(shard) }
    }

    @Test func flanT5IsRefusedInFP16() throws {
        guard ComputeThreads.cudaAvailable else { return }
        #expect { _ = try Blip2Generator(directory: Fixtures.generationModel("t5-gelu"),
                                         options: ComputeOptions(device: "cuda", precision: .fp16)) } throws: { "\($0)".contains("bf16") }
    }
}
