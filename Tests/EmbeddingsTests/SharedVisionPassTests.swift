import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// One vision pass for a retrieval and a captioning model: allowed only when their vision
/// encoders are identical, and then giving exactly what each model gives on its own.
@Suite(.serialized) struct SharedVisionPassTests {
    static let options = ComputeOptions(device: "cpu", precision: .fp32)

    /// Four held-out pictures, preprocessed at the toy models' input size.
    static func pixels(size: Int) throws -> [Float] {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.shapesHoldout.path)
            .filter { !$0.hasSuffix(".json") && !$0.hasSuffix(".md") }.sorted().prefix(4)
        let preprocessor = ImagePreprocessor(size: size)
        return try files.flatMap { try preprocessor.pixels(path: Fixtures.shapesHoldout.appendingPathComponent($0).path) }
    }

    @Test func theToyModelsShareTheirVisionPassAndGiveWhatEachGivesAlone() throws {
        let model = try Blip2Model(directory: Fixtures.resource("toy-model"), options: Self.options)
        let generator = try Blip2Generator(directory: Fixtures.resource("toy-captioner"), options: Self.options)
        #expect(try generator.sharesVisionPass(with: model))

        let pixels = try Self.pixels(size: model.config.imageSize)
        let encoded = try model.encodeImages(pixels: pixels, count: 4)
        #expect(encoded.count == 4 && encoded.tokens == 65 && encoded.hidden == 128)
        let alone = try model.embedImages(pixels: pixels, count: 4)
        let shared = try model.embedImages(encoded: encoded)
        #expect(zip(alone, shared).allSatisfy { $0.values == $1.values })

        let options = GenerationOptions.greedy(maxNewTokens: 10)
        let prompts = Array(repeating: generator.snapshot.promptIDs(""), count: 4)
        let captionsAlone = try generator.generate(pixels: pixels, count: 4, prompts: prompts, options: options)
        #expect(try generator.generate(encoded: encoded, prompts: prompts, options: options) == captionsAlone)
        #expect(captionsAlone.allSatisfy { $0.count >= 2 })
        // A subset keeps each image's own states.
        #expect(try generator.generate(encoded: encoded.selecting([2]), prompts: [prompts[0]], options: options)
            == [captionsAlone[2]])
    }

    @Test func aChangedVisionWeightOrAnotherSizeIsNotShared() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let captioner = directory.appendingPathComponent("toy-captioner")
        try FileManager.default.copyItem(at: Fixtures.resource("toy-captioner"), to: captioner)
        // Flip one byte of one encoder weight (the last layer's fc2 bias).
        let weights = captioner.appendingPathComponent("model.safetensors")
        let entry = try SafetensorsEditor(url: weights).header["vision_model.encoder.layers.2.mlp.fc2.bias"] as! [String: Any]
        let start = (entry["data_offsets"] as! [Int])[0]
        var data = try Data(contentsOf: weights)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        data[8 + headerLength + start] ^= 0x01
        try data.write(to: weights)

        let model = try Blip2Model(directory: Fixtures.resource("toy-model"), options: Self.options)
        let changed = try Blip2Generator(directory: captioner, options: Self.options)
        #expect(try !changed.sharesVisionPass(with: model))
        let otherSize = try Blip2Generator(directory: Fixtures.generationModel("opt-legacy"), options: Self.options)
        #expect(try !otherSize.sharesVisionPass(with: model))
    }

    @Test func aTextOnlyModelHasNoVisionToShare() throws {
        let model = try Blip2Model(directory: Fixtures.resource("toy-model"),
                                   options: ComputeOptions(device: "cpu", precision: .fp32, parts: .text))
        #expect(throws: ModelError.self) { try model.visionFingerprint() }
    }
}
