internal import CBlip2
import Foundation

/// A loaded BLIP-2 retrieval model: the native libtorch engine behind a Swift owner that
/// frees it. Image pixels must already be preprocessed (see `ImagePreprocessor`).
///
/// Sendable: the native model is immutable once loaded and `blip2.h` documents its embed
/// functions as safe to call from several threads at once; the handle is never exposed.
public final class Blip2Model: @unchecked Sendable {
    private let handle: OpaquePointer
    public let snapshot: ModelSnapshot
    /// The device it runs on, e.g. "cpu" or "cuda:0".
    public let device: String
    /// The compute precision actually used ("fp32", "fp16", "bf16").
    public let precision: String

    public var config: ModelConfig { snapshot.config }

    public init(snapshot: ModelSnapshot, options: ComputeOptions = ComputeOptions()) throws(ModelError) {
        var native = snapshot.config.native
        let loaded = try options.loadNative { params, error in
            params.parts = options.parts.rawValue
            return blip2_model_load(snapshot.directory.path, &native, &params, &error)
        }
        handle = loaded
        self.snapshot = snapshot
        (device, precision) = NativePlacement.describe { blip2_model_describe(loaded, $0, $1, $2, $3) }
    }

    /// Loads the snapshot in `directory`.
    public convenience init(directory: URL, options: ComputeOptions = ComputeOptions()) throws(ModelError) {
        try self.init(snapshot: ModelSnapshot(directory: directory), options: options)
    }

    deinit {
        blip2_model_free(handle)
    }

    /// Number of floats one preprocessed image occupies: 3 × image_size².
    public var pixelsPerImage: Int { 3 * config.imageSize * config.imageSize }

    /// `pixels`: `count` preprocessed images, CHW float32 each, back to back.
    public func embedImages(pixels: [Float], count: Int) throws(ModelError) -> [ImageEmbedding] {
        try checkPixelBatch(pixels, count: count, pixelsPerImage: pixelsPerImage)
        let stride = config.queryTokenCount * config.embeddingDimension
        var output = [Float](repeating: 0, count: count * stride)
        var error = blip2_error()
        let status = blip2_embed_images(handle, pixels, Int64(count), &output, &error)
        guard status == 0 else { throw .inferenceFailed(code: error.code, message: error.text) }
        return (0..<count).map { index in
            ImageEmbedding(queryCount: config.queryTokenCount, dimension: config.embeddingDimension,
                           values: Array(output[(index * stride)..<((index + 1) * stride)]))
        }
    }

    /// The vision encoder's fingerprint (`blip2_model_vision_fingerprint`): a hash of every
    /// vision weight but post_layernorm, read once (about a second for ViT-g).
    public func visionFingerprint() throws(ModelError) -> UInt64 {
        var fingerprint: UInt64 = 0
        var error = blip2_error()
        guard blip2_model_vision_fingerprint(handle, &fingerprint, &error) == 0 else {
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        return fingerprint
    }

    /// One vision pass over `count` preprocessed images, for `embedImages(encoded:)` and a
    /// captioning model with the same vision fingerprint (`Blip2Generator.generate(encoded:…)`).
    public func encodeImages(pixels: [Float], count: Int) throws(ModelError) -> EncodedImages {
        try checkPixelBatch(pixels, count: count, pixelsPerImage: pixelsPerImage)
        var tokens: Int64 = 0
        var hidden: Int64 = 0
        var error = blip2_error()
        guard blip2_model_vision_shape(handle, &tokens, &hidden, &error) == 0 else {
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        var states = [Float](repeating: 0, count: count * Int(tokens * hidden))
        guard blip2_encode_vision(handle, pixels, Int64(count), &states, &error) == 0 else {
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        return EncodedImages(states: states, count: count, tokens: Int(tokens), hidden: Int(hidden))
    }

    /// The ITC embeddings of images from `encodeImages`.
    public func embedImages(encoded: EncodedImages) throws(ModelError) -> [ImageEmbedding] {
        let stride = config.queryTokenCount * config.embeddingDimension
        var output = [Float](repeating: 0, count: encoded.count * stride)
        var error = blip2_error()
        guard blip2_embed_encoded_images(handle, encoded.states, Int64(encoded.count), &output, &error) == 0 else {
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        return (0..<encoded.count).map { index in
            ImageEmbedding(queryCount: config.queryTokenCount, dimension: config.embeddingDimension,
                           values: Array(output[(index * stride)..<((index + 1) * stride)]))
        }
    }

    public func embedTexts(_ texts: [TokenizedText]) throws(ModelError) -> [TextEmbedding] {
        let batch = try PaddedTokens(texts)
        let dimension = config.embeddingDimension
        var output = [Float](repeating: 0, count: texts.count * dimension)
        var error = blip2_error()
        let status = blip2_embed_texts(handle, batch.ids, batch.mask, Int64(texts.count), Int64(batch.length),
                                       &output, &error)
        guard status == 0 else { throw .inferenceFailed(code: error.code, message: error.text) }
        return (0..<texts.count).map { index in
            TextEmbedding(values: Array(output[(index * dimension)..<((index + 1) * dimension)]))
        }
    }

    /// Tokenizes and embeds texts; an empty text is an error.
    public func embedTexts(_ texts: [String]) throws(ModelError) -> [TextEmbedding] {
        var tokenized: [TokenizedText] = []
        for text in texts { tokenized.append(try snapshot.tokenize(text)) }
        return try embedTexts(tokenized)
    }

    /// One image against texts, from a single vision pass: its ITC embedding, and the ITM
    /// probability that each text describes it.
    public struct ImageTextMatch: Sendable {
        public let image: ImageEmbedding
        public let probabilities: [Float]
    }

    /// ITM of the one preprocessed image in `pixels` against `texts`, with the image's ITC
    /// embedding (needs the image and matching parts loaded).
    public func match(pixels: [Float], texts: [TokenizedText]) throws(ModelError) -> ImageTextMatch {
        guard pixels.count == pixelsPerImage else {
            throw .inferenceFailed(code: Int32(BLIP2_ERROR_INVALID_ARGUMENT.rawValue),
                                   message: "expected one image of \(pixelsPerImage) floats, got \(pixels.count) floats")
        }
        let batch = try PaddedTokens(texts)
        var probabilities = [Float](repeating: 0, count: texts.count)
        var image = [Float](repeating: 0, count: config.queryTokenCount * config.embeddingDimension)
        var error = blip2_error()
        let status = blip2_match(handle, pixels, batch.ids, batch.mask, Int64(texts.count), Int64(batch.length),
                                 &probabilities, &image, &error)
        guard status == 0 else { throw .inferenceFailed(code: error.code, message: error.text) }
        return ImageTextMatch(image: ImageEmbedding(queryCount: config.queryTokenCount, dimension: config.embeddingDimension,
                                                    values: image),
                              probabilities: probabilities)
    }
}

/// Fails unless `pixels` holds `count` (at least one) preprocessed images of `pixelsPerImage` floats.
func checkPixelBatch(_ pixels: [Float], count: Int, pixelsPerImage: Int) throws(ModelError) {
    guard count > 0, pixels.count == count * pixelsPerImage else {
        throw .inferenceFailed(code: Int32(BLIP2_ERROR_INVALID_ARGUMENT.rawValue),
                               message: "expected \(count) images of \(pixelsPerImage) floats, got \(pixels.count) floats")
    }
}

/// Texts right-padded to one length with [PAD] = 0 and mask 0, as the reference batches them.
private struct PaddedTokens {
    let ids: [Int64]
    let mask: [Int64]
    let length: Int

    init(_ texts: [TokenizedText]) throws(ModelError) {
        guard !texts.isEmpty else {
            throw .inferenceFailed(code: Int32(BLIP2_ERROR_INVALID_ARGUMENT.rawValue), message: "no texts given")
        }
        length = texts.map(\.ids.count).max() ?? 0
        var ids = [Int64](repeating: 0, count: texts.count * length)
        var mask = [Int64](repeating: 0, count: texts.count * length)
        for (row, text) in texts.enumerated() {
            for (column, id) in text.ids.enumerated() {
                ids[row * length + column] = Int64(id)
                mask[row * length + column] = 1
            }
        }
        self.ids = ids
        self.mask = mask
    }
}

extension blip2_error {
    /// The engine's message as a Swift string.
    var text: String { fixedCString(message) }
}
