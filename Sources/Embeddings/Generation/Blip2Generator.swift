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
    public func generate(pixels: [Float], count: Int, prompts: [[Int32]], options: GenerationOptions,
                         cancellation: Cancellation? = nil) throws(ModelError) -> [[Int32]] {
        try checkPixelBatch(pixels, count: count, pixelsPerImage: pixelsPerImage)
        return try generate(count: count, prompts: prompts, options: options, cancellation: cancellation) { ids, mask, length, params, tokens, lengths, error in
            blip2_generate(handle, pixels, Int64(count), ids, mask, length, &params, tokens, lengths, &error)
        }
    }

    /// As `generate(pixels:…)`, from a vision pass shared with a retrieval model whose
    /// `visionFingerprint()` equals this model's (`Blip2Model.encodeImages`).
    public func generate(encoded: EncodedImages, prompts: [[Int32]], options: GenerationOptions,
                         cancellation: Cancellation? = nil) throws(ModelError) -> [[Int32]] {
        try generate(count: encoded.count, prompts: prompts, options: options, cancellation: cancellation) { ids, mask, length, params, tokens, lengths, error in
            blip2_generate_from_encoded(handle, encoded.states, Int64(encoded.count), ids, mask, length, &params, tokens,
                                        lengths, &error)
        }
    }

    /// The text of each image of `encoded`, generated in one batch from `prompt`.
    public func texts(of encoded: EncodedImages, prompt: String, options: GenerationOptions) throws(ModelError) -> [String] {
        try generate(encoded: encoded, prompts: Array(repeating: snapshot.promptIDs(prompt), count: encoded.count),
                     options: options).map(snapshot.text(of:))
    }

    /// Whether `model` can run the vision pass for this model too (`generate(encoded:…)`):
    /// the same input size, device and precision, and vision encoders whose weights hash
    /// the same (compared once, reading every vision weight of both).
    public func sharesVisionPass(with model: Blip2Model) throws(ModelError) -> Bool {
        guard model.config.imageSize == config.visual.imageSize, model.device == device, model.precision == precision else {
            return false
        }
        return try model.visionFingerprint() == visionFingerprint()
    }

    /// The vision encoder's fingerprint, as `Blip2Model.visionFingerprint()`.
    public func visionFingerprint() throws(ModelError) -> UInt64 {
        var fingerprint: UInt64 = 0
        var error = blip2_error()
        guard blip2_generator_vision_fingerprint(handle, &fingerprint, &error) == 0 else {
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        return fingerprint
    }

    private typealias NativeGenerate = (_ ids: [Int64], _ mask: [Int64], _ length: Int64,
                                        _ params: inout blip2_generation_params, _ tokens: UnsafeMutablePointer<Int64>,
                                        _ lengths: UnsafeMutablePointer<Int64>, _ error: inout blip2_error) -> Int32

    private func generate(count: Int, prompts: [[Int32]], options: GenerationOptions,
                          cancellation: Cancellation?, native: NativeGenerate) throws(ModelError) -> [[Int32]] {
        try options.validate()
        let batch = try PromptBatch(prompts, count: count, language: config.language)
        var params = options.native(language: config.language)
        if let cancellation {
            params.should_stop = { context in
                Unmanaged<Cancellation>.fromOpaque(context!).takeUnretainedValue().isCancelled ? 1 : 0
            }
            params.should_stop_context = Unmanaged.passUnretained(cancellation).toOpaque()
        }
        var tokens = [Int64](repeating: 0, count: count * options.maxNewTokens)
        var lengths = [Int64](repeating: 0, count: count)
        var error = blip2_error()
        let status = withExtendedLifetime(cancellation) {
            tokens.withUnsafeMutableBufferPointer { tokenBuffer in
                lengths.withUnsafeMutableBufferPointer { lengthBuffer in
                    native(batch.ids, batch.mask, Int64(batch.length), &params, tokenBuffer.baseAddress!,
                           lengthBuffer.baseAddress!, &error)
                }
            }
        }
        guard status == 0 else {
            if error.code == Int32(BLIP2_ERROR_CANCELLED.rawValue) { throw .cancelled }
            throw .inferenceFailed(code: error.code, message: error.text)
        }
        return (0..<count).map { row in
            let start = row * options.maxNewTokens
            return tokens[start..<(start + Int(lengths[row]))].map { Int32($0) }
        }
    }

    /// The text of each image file, generated in one batch from `prompt`; a file that cannot
    /// be read or decoded gets its error instead, and the others are still described.
    public func texts(ofImagesAt paths: [String], prompt: String, options: GenerationOptions,
                      cancellation: Cancellation? = nil) throws(ModelError) -> [(path: String, text: Result<String, ImageError>)] {
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
                                      prompts: Array(repeating: snapshot.promptIDs(prompt), count: readable.count), options: options,
                                      cancellation: cancellation)
            for (path, ids) in zip(readable, tokens) { texts[path] = snapshot.text(of: ids) }
        }
        return paths.map { path in (path, texts[path].map(Result.success) ?? .failure(failures[path]!)) }
    }

    /// The language model's logits [count][vocabulary] for the first new token, before any
    /// logits processor: what parity with transformers is checked on.
    public func firstTokenLogits(pixels: [Float], count: Int, prompts: [[Int32]]) throws(ModelError) -> [[Float]] {
        try checkPixelBatch(pixels, count: count, pixelsPerImage: pixelsPerImage)
        let batch = try PromptBatch(prompts, count: count, language: config.language)
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

    init(_ prompts: [[Int32]], count: Int, language: LanguageModelConfig) throws(ModelError) {
        guard count > 0, prompts.count == count, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw .inferenceFailed(code: Int32(BLIP2_ERROR_INVALID_ARGUMENT.rawValue),
                                   message: "expected one non-empty prompt per image")
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
