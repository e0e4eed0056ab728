internal import CBlip2

/// How tokens are chosen; transformers' `generate` semantics (4.46), so that the same
/// options give the same ids.
public struct GenerationOptions: Sendable, Equatable {
    /// Seeded sampling in place of the most likely token (one beam only).
    public struct Sampling: Sendable, Equatable {
        public var temperature: Float = 1
        /// 0 keeps every token; transformers' default is 50.
        public var topK: Int = 50
        public var topP: Float = 1
        public var seed: UInt64 = 0

        public init(temperature: Float = 1, topK: Int = 50, topP: Float = 1, seed: UInt64 = 0) {
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.seed = seed
        }
    }

    public var maxNewTokens: Int
    public var minNewTokens: Int = 0
    public var beams: Int = 1
    public var lengthPenalty: Float = 1
    public var repetitionPenalty: Float = 1
    public var noRepeatNgramSize: Int = 0
    public var sampling: Sampling?

    public init(maxNewTokens: Int, minNewTokens: Int = 0, beams: Int = 1, lengthPenalty: Float = 1,
                repetitionPenalty: Float = 1, noRepeatNgramSize: Int = 0, sampling: Sampling? = nil) {
        self.maxNewTokens = maxNewTokens
        self.minNewTokens = minNewTokens
        self.beams = beams
        self.lengthPenalty = lengthPenalty
        self.repetitionPenalty = repetitionPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.sampling = sampling
    }

    /// Plain greedy decoding: no penalties, no minimum length; what
    /// `generate(max_new_tokens=N)` does.
    public static func greedy(maxNewTokens: Int) -> GenerationOptions {
        GenerationOptions(maxNewTokens: maxNewTokens)
    }

    /// LAVIS's captioning recipe: 5 beams, up to 30 tokens, at least 1.
    public static let caption = GenerationOptions(maxNewTokens: 30, minNewTokens: 1, beams: 5)

    /// LAVIS's VQA recipe: 5 beams, up to 10 tokens, at least 1, length penalty 0 (OPT) or -1 (T5).
    public static func answer(for family: LanguageModelConfig.Family) -> GenerationOptions {
        GenerationOptions(maxNewTokens: 10, minNewTokens: 1, beams: 5, lengthPenalty: family == .opt ? 0 : -1)
    }

    /// Fails on a value the engine would refuse, naming the option.
    public func validate() throws(ModelError) {
        func invalid(_ name: String, _ value: Any, _ reason: String) -> ModelError {
            .invalidOption(name: name, value: "\(value)", reason: reason)
        }
        guard (1...4096).contains(maxNewTokens) else { throw invalid("max new tokens", maxNewTokens, "must be 1…4096") }
        guard (0...maxNewTokens).contains(minNewTokens) else { throw invalid("min new tokens", minNewTokens, "must be 0…max new tokens") }
        guard (1...64).contains(beams) else { throw invalid("beams", beams, "must be 1…64") }
        guard lengthPenalty.isFinite else { throw invalid("length penalty", lengthPenalty, "must be finite") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else { throw invalid("repetition penalty", repetitionPenalty, "must be positive") }
        guard noRepeatNgramSize >= 0 else { throw invalid("no-repeat n-gram size", noRepeatNgramSize, "must not be negative") }
        if let sampling {
            guard beams == 1 else { throw invalid("beams", beams, "sampling works with one beam") }
            guard sampling.temperature.isFinite, sampling.temperature > 0 else { throw invalid("temperature", sampling.temperature, "must be positive") }
            guard sampling.topK >= 0 else { throw invalid("top-k", sampling.topK, "must not be negative") }
            guard sampling.topP > 0, sampling.topP <= 1 else { throw invalid("top-p", sampling.topP, "must be in (0, 1]") }
        }
    }

    func native(language: LanguageModelConfig) -> blip2_generation_params {
        var params = blip2_default_generation_params()
        params.max_new_tokens = Int32(maxNewTokens)
        params.min_new_tokens = Int32(minNewTokens)
        params.num_beams = Int32(beams)
        params.length_penalty = lengthPenalty
        params.repetition_penalty = repetitionPenalty
        params.no_repeat_ngram_size = Int32(noRepeatNgramSize)
        if let sampling {
            params.do_sample = 1
            params.temperature = sampling.temperature
            params.top_k = Int32(sampling.topK)
            params.top_p = sampling.topP
            params.seed = sampling.seed
        }
        params.eos_token_id = Int64(language.eosTokenID)
        params.pad_token_id = Int64(language.padTokenID)
        params.decoder_start_token_id = Int64(language.decoderStartTokenID)
        return params
    }
}
