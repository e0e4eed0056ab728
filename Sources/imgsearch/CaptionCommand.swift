import ArgumentParser
import Embeddings
import Foundation
import Store

/// `imgsearch caption`: a sentence describing each image, from BLIP-2 with OPT or Flan-T5.
struct Caption: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe images in a sentence with a BLIP-2 captioning model (OPT or Flan-T5).",
        discussion: """
            Prints "path: caption" per image, or with --json one {"path":P,"caption":C} per line,
            in the order given. Defaults are LAVIS's captioning recipe: 5 beams, 1 to 30 new
            tokens. --beams 1 with no other option is plain greedy decoding, the same ids as
            transformers' generate(max_new_tokens=N). An image that cannot be read is reported
            on standard error and the others are still captioned; the exit status is then 1.
            A photo of the catalog (--db, or the config file's) that `index --captions` captioned
            with the same model and prompt gets that stored caption ("stored": true in JSON);
            --refresh captions it anew.
            Cost on this 2-core CPU with blip2-opt-2.7b in fp32: see README, "Captions and answers".
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var configOption: ConfigOption
    @OptionGroup var decoding: DecodingOptions

    @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
    var images: [String]

    @Option(help: "Text the caption continues (e.g. \"a photo of\", as the COCO-finetuned models were trained); default none.")
    var prompt = ""

    /// A catalog (or PostgreSQL store) whose stored captions (`index --captions`, same model
    /// and prompt) are printed instead of captioning those photos again; used when it exists.
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup(title: "PostgreSQL store") var storeOptions: StoreOptions

    @Flag(help: "Caption every image anew, even one with a stored caption.")
    var refresh = false

    @Flag(help: "Print one JSON object per line.")
    var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
        try decoding.check()
    }

    func run() async throws {
        let config = try configOption.load()
        let generator = try modelOptions.loadGenerator(config: config)
        let options = decoding.options(default: .caption)
        let stored = refresh ? [:] : try storedCaptions(generator: generator, config: config)
        func emit(_ path: String, _ text: String, stored: Bool) throws {
            if json {
                try printJSONLine(CaptionLine(path: path, caption: text, stored: stored ? true : nil))
            } else {
                print("\(path): \(text)")
            }
        }
        // Printed in the order given: stored ones as they come, the others as computed.
        var pending: [String] = []
        var failures = 0
        let session = CaptionSession(generator: generator, batchSize: decoding.batch)
        func flush() throws {
            failures += try session.run(images: pending, prompt: prompt, options: options) { try emit($0, $1, stored: false) }
            pending.removeAll()
        }
        for image in images {
            if let text = stored[Self.absolute(image)] {
                try flush()
                try emit(image, text, stored: true)
            } else {
                pending.append(image)
            }
        }
        try flush()
        if failures > 0 { throw ExitCode.failure }
    }

    /// Captions the catalog holds for these images by this model and prompt, by absolute path.
    private func storedCaptions(generator: Blip2Generator, config: Configuration) throws -> [String: String] {
        let identity = try ModelIdentity(captionSnapshot: generator.snapshot)
        if let store = try storeOptions.postgres(config, besides: catalogOptions, create: false) {
            defer { store.close() }
            return try store.captions(ofPaths: images.map(Self.absolute), captionModelId: identity.id, prompt: prompt)
        }
        let path = catalogOptions.path(config)
        guard FileManager.default.fileExists(atPath: path) else {
            if catalogOptions.db != nil { throw CommandError("no catalog at \(path)") }
            return [:]
        }
        return try Catalog(path: path).captions(ofPaths: images.map(Self.absolute), captionModelId: identity.id, prompt: prompt)
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private struct CaptionLine: Encodable {
        let path: String
        let caption: String
        /// True when the caption was read from the catalog.
        let stored: Bool?
    }
}

/// `imgsearch ask`: a short answer to a question about each image.
struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a question about images with a BLIP-2 captioning model (OPT or Flan-T5).",
        discussion: """
            The question goes into LAVIS's VQA prompt, "Question: … Short answer:", after LAVIS's
            question cleanup (lower case, no . ! " ( ) * # : ; ~, at most 50 words). Prints the
            answer (with "path: " first when several images are given), or with --json one
            {"path":P,"question":Q,"answer":A} per line. Defaults are LAVIS's VQA recipe: 5 beams,
            1 to 10 new tokens, length penalty 0 (OPT) or -1 (T5).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var configOption: ConfigOption
    @OptionGroup var decoding: DecodingOptions

    @Argument(help: ArgumentHelp("Image files, then the question.", valueName: "image... question"))
    var arguments: [String]

    @Flag(help: "Print one JSON object per line.")
    var json = false

    func validate() throws {
        guard arguments.count >= 2 else { throw ValidationError("give one or more images, then the question") }
        if VisualQuestion.cleaned(arguments[arguments.count - 1]).isEmpty {
            throw ValidationError("the question is empty")
        }
        try decoding.check()
    }

    func run() async throws {
        let question = arguments[arguments.count - 1]
        let images = Array(arguments.dropLast())
        let generator = try modelOptions.loadGenerator(config: try configOption.load())
        let options = decoding.options(default: .answer(for: generator.config.language.family))
        let session = CaptionSession(generator: generator, batchSize: decoding.batch)
        let failures = try session.run(images: images, prompt: VisualQuestion.prompt(question), options: options) { path, answer in
            if json {
                try printJSONLine(AnswerLine(path: path, question: question, answer: answer))
            } else {
                print(images.count > 1 ? "\(path): \(answer)" : answer)
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }

    private struct AnswerLine: Encodable {
        let path: String
        let question: String
        let answer: String
    }
}

/// Decoding flags shared by caption and ask; unset ones take the command's recipe.
struct DecodingOptions: ParsableArguments {
    @Option(help: "Beam search width; 1 is greedy (default: 5).")
    var beams: Int?

    @Option(name: .customLong("max-tokens"), help: "At most this many new tokens (default: 30 for captions, 10 for answers).")
    var maxTokens: Int?

    @Option(name: .customLong("min-tokens"), help: "At least this many new tokens before the end (default: 1; 0 with --beams 1).")
    var minTokens: Int?

    @Option(name: .customLong("length-penalty"), help: "Beam score = log-probability / length^penalty (default: the recipe's).")
    var lengthPenalty: Float?

    @Option(name: .customLong("repetition-penalty"), help: "Above 1 discourages repeated tokens (default: 1, off).")
    var repetitionPenalty: Float?

    @Option(name: .customLong("no-repeat-ngram"), help: "Never repeat an n-gram of this size (default: 0, off).")
    var noRepeatNgram: Int?

    @Flag(help: "Sample tokens instead of taking the most likely (one beam; see --temperature, --top-k, --top-p, --seed).")
    var sample = false

    @Option(help: "Sampling temperature (default: 1).")
    var temperature: Float?

    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens, 0 for all (default: 50).")
    var topK: Int?

    @Option(name: .customLong("top-p"), help: "Sample within this cumulative probability (default: 1).")
    var topP: Float?

    @Option(help: "Seed of the sampling; the same seed gives the same text.")
    var seed: UInt64 = 0

    @Option(help: "Images per forward pass.")
    var batch = 4

    func check() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !sample, temperature != nil || topK != nil || topP != nil {
            throw ValidationError("--temperature, --top-k and --top-p need --sample")
        }
        if sample, let beams, beams != 1 { throw ValidationError("--sample works with --beams 1 only") }
        do {
            try options(default: .caption).validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The recipe with the flags given applied. `--beams 1` alone means plain greedy decoding.
    func options(default recipe: GenerationOptions) -> GenerationOptions {
        var options = recipe
        let plainGreedy = beams == 1 || sample
        if plainGreedy {
            options = .greedy(maxNewTokens: recipe.maxNewTokens)
        }
        if let beams { options.beams = beams }
        if let maxTokens { options.maxNewTokens = maxTokens }
        if let minTokens { options.minNewTokens = minTokens }
        options.minNewTokens = min(options.minNewTokens, options.maxNewTokens)
        if let lengthPenalty { options.lengthPenalty = lengthPenalty }
        if let repetitionPenalty { options.repetitionPenalty = repetitionPenalty }
        if let noRepeatNgram { options.noRepeatNgramSize = noRepeatNgram }
        if sample {
            var sampling = GenerationOptions.Sampling(seed: seed)
            if let temperature { sampling.temperature = temperature }
            if let topK { sampling.topK = topK }
            if let topP { sampling.topP = topP }
            options.sampling = sampling
        }
        return options
    }
}

/// Preprocesses images in batches and generates for each; an image that cannot be read is
/// reported and skipped.
struct CaptionSession {
    let generator: Blip2Generator
    let batchSize: Int

    /// Calls `emit` with each readable image's text, in order; returns how many failed.
    func run(images: [String], prompt: String, options: GenerationOptions,
             emit: (String, String) throws -> Void) throws -> Int {
        var failures = 0
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let chunk = Array(images[start..<min(start + batchSize, images.count)])
            for (path, text) in try generator.texts(ofImagesAt: chunk, prompt: prompt, options: options) {
                switch text {
                case .success(let text): try emit(path, text)
                case .failure(let error):
                    log.error("\(error)")
                    failures += 1
                }
            }
        }
        return failures
    }
}

/// Prints one JSON object on its own line, keys sorted, slashes unescaped.
func printJSONLine(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
