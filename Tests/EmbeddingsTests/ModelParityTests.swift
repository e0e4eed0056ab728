import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// Parity with transformers' Blip2ForImageTextRetrieval on the random tiny checkpoints of
/// `tools/make_fixtures.py`: two architectures (tiny-a: 32 queries, cross-attention every
/// 2nd layer; tiny-b: 8 queries, every layer), stored as fp32, fp16, bf16, sharded and
/// with LAVIS-style split q/v biases. The reference ran in fp32 on the upcast weights.
@Suite(.serialized) struct ModelParityTests {
    static let models = ["tiny-a", "tiny-b", "tiny-a-sharded", "tiny-a-bf16", "tiny-a-split-bias"]
    static let tolerance: Float = 1e-4

    @Test(arguments: models)
    func imageEmbeddingsMatchTransformers(model name: String) throws {
        let expected = try ExpectedOutputs.load(model: name)
        let model = try Blip2Model(directory: Fixtures.model(name), options: ComputeOptions(device: "cpu", parts: .image))
        let pixels = try Fixtures.readFloats(Fixtures.model(name).appendingPathComponent("pixels.f32"))
        let images = try model.embedImages(pixels: pixels, count: expected.pixels_shape[0])
        #expect(images.count == expected.image_embeddings.count)
        for (ours, reference) in zip(images, expected.image_embeddings) {
            #expect(ours.queryCount == reference.count)
            let difference = maxAbsoluteDifference(ours.values, reference.flatMap { $0 })
            #expect(difference <= Self.tolerance, "\(name): image embedding differs by \(difference)")
        }
    }

    @Test(arguments: models)
    func textEmbeddingsAndTokensMatchTransformers(model name: String) throws {
        let expected = try ExpectedOutputs.load(model: name)
        let model = try Blip2Model(directory: Fixtures.model(name), options: ComputeOptions(device: "cpu", parts: .text))
        let tokens = try expected.texts.map { try model.snapshot.tokenize($0) }
        for (index, tokenized) in tokens.enumerated() {
            #expect(tokenized.ids == expected.unpaddedIDs(index), "tokens of \(expected.texts[index])")
        }
        let texts = try model.embedTexts(tokens)
        for (ours, reference) in zip(texts, expected.text_embeddings) {
            let difference = maxAbsoluteDifference(ours.values, reference)
            #expect(difference <= Self.tolerance, "\(name): text embedding differs by \(difference)")
        }
    }

    @Test(arguments: models)
    func itcAndItmScoresMatchTransformers(model name: String) throws {
        let expected = try ExpectedOutputs.load(model: name)
        let model = try Blip2Model(directory: Fixtures.model(name), options: ComputeOptions(device: "cpu"))
        let pixels = try Fixtures.readFloats(Fixtures.model(name).appendingPathComponent("pixels.f32"))
        let imageCount = expected.pixels_shape[0]
        let images = try model.embedImages(pixels: pixels, count: imageCount)
        let tokens = try expected.texts.map { try model.snapshot.tokenize($0) }
        let texts = try model.embedTexts(tokens)
        for image in 0..<imageCount {
            let itc = texts.map { images[image].maxOverQueries($0) }
            #expect(maxAbsoluteDifference(itc, expected.itc[image]) <= Self.tolerance, "\(name): ITC of image \(image)")
            let one = Array(pixels[(image * model.pixelsPerImage)..<((image + 1) * model.pixelsPerImage)])
            let match = try model.match(pixels: one, texts: tokens)
            #expect(maxAbsoluteDifference(match.probabilities, expected.itm[image]) <= Self.tolerance, "\(name): ITM of image \(image)")
            #expect(maxAbsoluteDifference(match.image.values, images[image].values) <= 1e-5, "\(name): embedding from the ITM pass")
        }
    }

    @Test func textOnlyModelRefusesImages() throws {
        let model = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu", parts: .text))
        #expect {
            _ = try model.embedImages(pixels: [Float](repeating: 0, count: model.pixelsPerImage), count: 1)
        } throws: { error in
            "\(error)".contains("not loaded")
        }
    }

    @Test func batchesGiveTheSameEmbeddingsAsSingleImages() throws {
        let model = try Blip2Model(directory: Fixtures.model("tiny-b"), options: ComputeOptions(device: "cpu", parts: .image))
        let pixels = try Fixtures.readFloats(Fixtures.model("tiny-b").appendingPathComponent("pixels.f32"))
        let batch = try model.embedImages(pixels: pixels, count: 3)
        let second = try model.embedImages(pixels: Array(pixels[model.pixelsPerImage..<(2 * model.pixelsPerImage)]), count: 1)
        #expect(maxAbsoluteDifference(batch[1].values, second[0].values) <= 1e-5)
    }
}
