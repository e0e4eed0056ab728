internal import CBlip2
import Foundation

/// A loaded BLIP-2 captioning model (`Blip2ForConditionalGeneration`): the native libtorch
/// engine behind a Swift owner that frees it. Pixels must already be preprocessed
/// (`ImagePreprocessor` at `config.visual.imageSize`).
///
/// Sendable: the native model is immutable once loaded and its calls may run concurrently.
public final class Blip2Generator: @unchecked Sendable {
    private let handle: OpaquePointer
    public let snapshot: CaptionModelSnapshot
    /// The device it runs on, e.g. "cpu" or "cuda:0".
    public let device: String
    /// The compute precision actually used ("fp32", "fp16", "bf16").
    public let precision: String

    public var config: CaptionModelConfig { snapshot.config }

    public init(snapshot: CaptionModelSnapshot, options: ComputeOptions = ComputeOptions()) throws(ModelError) {
        var visual = snapshot.config.visual.native
        var language = snapshot.config.native
        let loaded = try options.loadNative { params, error in
            blip2_generator_load(snapshot.directory.path, &visual, &language, &params, &error)
        }
        handle = loaded
        self.snapshot = snapshot
        (device, precision) = NativePlacement.describe { blip2_generator_describe(loaded, $0, $1, $2, $3) }
    }

    public convenience init(directory: URL, options: ComputeOptions = ComputeOptions()) throws(ModelError) {
        try self.init(snapshot: CaptionModelSnapshot(directory: directory), options: options)
    }

    deinit {
        blip2_generator_free(handle)
    }

    /// Number of floats one preprocessed image occupies: 3 × image_size².
    public var pixelsPerImage: Int { 3 * config.visual.imageSize * config.visual.imageSize }

    /// New token ids for each of `count` images with its prompt row (`prompts[i]`, e.g.
    /// from `snapshot.promptIDs`); a row ends with its EOS when one was generated.
    public func generate(pixels: [Float], count: Int, prompts: [[Int32]],
                         options: GenerationOptions) throws(ModelError) -> [[Int32]] {
        try options.validate()
        let batch = try PromptBatch(prompts, count: count, pixels: pixels.count, pixelsPerImage: pixelsPerImage,
                                    language: config.language)
        var params = options.native(language: config.language)
        var tokens = [Int64](repeating: 0, count: count * options.maxNewTokens)
        var lengths = [Int64](repeating: 0, count: count)
        var error = blip2_error()
        let status = blip2_generate(handle, pixels, Int64(count), batch.ids, batch.mask, Int64(batch.length), &params,
                                    &tokens, &lengths, &error)
        guard status == 0 else { throw .inferenceFailed(code: error.code, message: error.text) }
        return (0..<count).map { row in
            let start = row * options.maxNewTokens
            return tokens[start..<(start + Int(lengths[row]))].map { Int32($0) }
        }
    }

    /// The text of each image file, generated in one batch from `prompt`; a file that cannot
    /// be read or decoded gets its error instead, and the others are still described.
    public func texts(ofImagesAt paths: [String], prompt: String,
                      options: GenerationOptions) throws(ModelError) -> [(path: String, text: Result<String, ImageError>)] {
        let preprocessor = ImagePreprocessor(size: config.visual.imageSize)
        var pixels: [Float] = []
        var readable: [String] = []
        var failures: [String: ImageError] = [:]
        for path in paths {
            do {
                pixels += try preprocessor.pixels(path: path)
                readable.append(path)
            } catch {
                failures[path] = error
            }
        }
        var texts: [String: String] = [:]
        if !readable.isEmpty {
            let tokens = try generate(pixels: pixels, count: readable.count,
                                      prompts: Array(repeating: snapshot.promptIDs(prompt), count: readable.count), options: options)
            for (path, ids) in zip(readable, tokens) { texts[path] = snapshot.text(of: ids) }
        }
        return paths.map { path in (path, texts[path].map(Result.success) ?? .failure(failures[path]!)) }
    }

    /// The language model's logits [count][vocabulary] for the first new token, before any
    /// logits processor: what parity with transformers is checked on.
    public func firstTokenLogits(pixels: [Float], count: Int, prompts: [[Int32]]) throws(ModelError) -> [[Float]] {
        let batch = try PromptBatch(prompts, count: count, pixels: pixels.count, pixelsPerImage: pixelsPerImage,
                                    language: config.language)
        let vocabulary = config.language.vocabularySize
        var logits = [Float](repeating: 0, count: count * vocabulary)
        var error = blip2_error()
        let status = blip2_generator_first_logits(handle, pixels, Int64(count), batch.ids, batch.mask, Int64(batch.length),
                                                  Int64(config.language.decoderStartTokenID), &logits, &error)
        guard status == 0 else { throw .inferenceFailed(code: error.code, message: error.text) }
        return (0..<count).map { Array(logits[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }
}

/// Prompt rows brought to one length as transformers' processor pads them: on the left for
/// OPT (positions count only real tokens, and the next token follows the last column), on
/// the right for T5 (its relative positions would see pads between the image and the text).
private struct PromptBatch {
    let ids: [Int64]
    let mask: [Int64]
    let length: Int

    init(_ prompts: [[Int32]], count: Int, pixels: Int, pixelsPerImage: Int, language: LanguageModelConfig) throws(ModelError) {
        let invalid = Int32(BLIP2_ERROR_INVALID_ARGUMENT.rawValue)
        guard count > 0, pixels == count * pixelsPerImage else {
            throw .inferenceFailed(code: invalid, message: "expected \(count) images of \(pixelsPerImage) floats, got \(pixels) floats")
        }
        guard prompts.count == count, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw .inferenceFailed(code: invalid, message: "expected one non-empty prompt per image")
        }
        length = prompts.map(\.count).max() ?? 0
        var ids = [Int64](repeating: Int64(language.padTokenID), count: count * length)
        var mask = [Int64](repeating: 0, count: count * length)
        for (row, prompt) in prompts.enumerated() {
            let offset = row * length + (language.family == .opt ? length - prompt.count : 0)
            for (column, id) in prompt.enumerated() {
                ids[offset + column] = Int64(id)
                mask[offset + column] = 1
            }
        }
        self.ids = ids
        self.mask = mask
    }
}
