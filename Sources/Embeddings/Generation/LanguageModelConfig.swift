import Foundation
internal import CBlip2

/// The language model of a captioning snapshot (`text_config`), read with the defaults of
/// transformers' OPTConfig or T5Config for keys a config leaves out, and checked against
/// what the native engine implements.
public struct LanguageModelConfig: Sendable, Equatable {
    /// The two language model families BLIP-2 was released with.
    public enum Family: String, Sendable {
        case opt, t5
    }

    /// A feed-forward activation the engine implements.
    public enum Activation: String, Sendable {
        case relu, gelu
        /// The tanh approximation (`gelu_new`, also named `gelu_pytorch_tanh`).
        case geluTanh = "gelu_new"
    }

    public var family: Family
    public var vocabularySize: Int
    public var hiddenSize: Int
    /// OPT: decoder layers; T5: encoder layers.
    public var layers: Int
    /// T5 only.
    public var decoderLayers: Int
    public var heads: Int
    public var headSize: Int
    public var feedForwardSize: Int
    /// OPT only: the learned position table's length.
    public var maxPositions: Int
    public var relativeBuckets: Int
    public var relativeMaxDistance: Int
    public var layerNormEps: Double
    public var activation: Activation
    public var gatedFeedForward: Bool
    public var tiedWordEmbeddings: Bool
    /// The token generation stops at (OPT: 50118, "\n"; T5: 1).
    public var eosTokenID: Int
    public var padTokenID: Int
    public var bosTokenID: Int
    /// T5: the decoder's first input.
    public var decoderStartTokenID: Int

    init(reading text: ConfigReader) throws(ModelError) {
        let modelType: String? = try text.value("model_type")
        switch modelType {
        case "opt"?: try self.init(opt: text)
        case "t5"?: try self.init(t5: text)
        default:
            throw text.invalid("model_type", "is \(modelType.map { "\"\($0)\"" } ?? "missing"): only \"opt\" and \"t5\" language models are implemented")
        }
        try checkSizes(text)
    }

    /// OPTConfig defaults; the engine runs the pre-LayerNorm, ReLU, biased layout of every
    /// OPT that BLIP-2 uses.
    private init(opt text: ConfigReader) throws(ModelError) {
        family = .opt
        vocabularySize = try text.value("vocab_size") ?? 50272
        hiddenSize = try text.value("hidden_size") ?? 768
        layers = try text.value("num_hidden_layers") ?? 12
        decoderLayers = 0
        heads = try text.value("num_attention_heads") ?? 12
        headSize = heads > 0 ? hiddenSize / heads : 0
        feedForwardSize = try text.value("ffn_dim") ?? 3072
        maxPositions = try text.value("max_position_embeddings") ?? 2048
        relativeBuckets = 0
        relativeMaxDistance = 0
        layerNormEps = 1e-5  // nn.LayerNorm's default: OPT has no config key for it
        activation = .relu
        gatedFeedForward = false
        tiedWordEmbeddings = try text.value("tie_word_embeddings") ?? true
        eosTokenID = try text.value("eos_token_id") ?? 2
        padTokenID = try text.value("pad_token_id") ?? 1
        bosTokenID = try text.value("bos_token_id") ?? 2
        decoderStartTokenID = bosTokenID
        try text.require("activation_function", equals: "relu")
        try text.require("do_layer_norm_before", equals: true)
        try text.require("enable_bias", equals: true)
        try text.require("layer_norm_elementwise_affine", equals: true)
        try text.require("_remove_final_layer_norm", equals: false)
        try text.require("tie_word_embeddings", equals: true)
        let projection: Int? = try text.value("word_embed_proj_dim")
        if let projection, projection != hiddenSize {
            throw text.invalid("word_embed_proj_dim", "\(projection) differs from hidden_size \(hiddenSize): project_in/project_out are not implemented (no BLIP-2 checkpoint uses them)")
        }
        if heads > 0, hiddenSize % heads != 0 {
            throw text.invalid("num_attention_heads", "\(heads) does not divide hidden_size \(hiddenSize)")
        }
    }

    /// T5Config defaults, with its rule for `feed_forward_proj` and the `dense_act_fn` and
    /// `is_gated_act` keys that override it (BLIP-2's Flan-T5 sets dense_act_fn "gelu").
    private init(t5 text: ConfigReader) throws(ModelError) {
        family = .t5
        vocabularySize = try text.value("vocab_size") ?? 32128
        hiddenSize = try text.value("d_model") ?? 512
        layers = try text.value("num_layers") ?? 6
        decoderLayers = try text.value("num_decoder_layers") ?? layers
        heads = try text.value("num_heads") ?? 8
        headSize = try text.value("d_kv") ?? 64
        feedForwardSize = try text.value("d_ff") ?? 2048
        maxPositions = 0
        relativeBuckets = try text.value("relative_attention_num_buckets") ?? 32
        relativeMaxDistance = try text.value("relative_attention_max_distance") ?? 128
        layerNormEps = try text.value("layer_norm_epsilon") ?? 1e-6
        tiedWordEmbeddings = try text.value("tie_word_embeddings") ?? true
        eosTokenID = try text.value("eos_token_id") ?? 1
        padTokenID = try text.value("pad_token_id") ?? 0
        bosTokenID = try text.value("bos_token_id") ?? padTokenID
        decoderStartTokenID = try text.value("decoder_start_token_id") ?? padTokenID

        let projection: String = try text.value("feed_forward_proj") ?? "relu"
        let parts = projection.split(separator: "-").map(String.init)
        guard (parts.count == 1) || (parts.count == 2 && parts[0] == "gated") else {
            throw text.invalid("feed_forward_proj", "\"\(projection)\" is not of the form ACT or gated-ACT")
        }
        var activationName = projection == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]
        gatedFeedForward = parts.count == 2
        activationName = try text.value("dense_act_fn") ?? activationName
        gatedFeedForward = try text.value("is_gated_act") ?? gatedFeedForward
        switch activationName {
        case "relu": activation = .relu
        case "gelu": activation = .gelu
        case "gelu_new", "gelu_pytorch_tanh": activation = .geluTanh
        default:
            throw text.invalid("dense_act_fn", "\"\(activationName)\" is not implemented (relu, gelu, gelu_new)")
        }
    }

    private func checkSizes(_ text: ConfigReader) throws(ModelError) {
        var positive: [(String, Int)] = [("vocab_size", vocabularySize), ("hidden size", hiddenSize), ("layers", layers),
                                         ("heads", heads), ("head size", headSize), ("feed-forward size", feedForwardSize)]
        switch family {
        case .opt: positive.append(("max_position_embeddings", maxPositions))
        case .t5: positive += [("num_decoder_layers", decoderLayers), ("relative_attention_num_buckets", relativeBuckets),
                               ("relative_attention_max_distance", relativeMaxDistance)]
        }
        for (key, value) in positive where value <= 0 {
            throw text.invalid(key, "must be positive, found \(value)")
        }
        for (key, id) in [("eos_token_id", eosTokenID), ("pad_token_id", padTokenID), ("decoder_start_token_id", decoderStartTokenID)]
        where id < 0 || id >= vocabularySize {
            throw text.invalid(key, "\(id) is outside the vocabulary of \(vocabularySize)")
        }
        if family == .t5, relativeBuckets < 4 || relativeMaxDistance <= relativeBuckets / 4 {
            throw text.invalid("relative_attention_max_distance", "\(relativeMaxDistance) is too small for \(relativeBuckets) buckets")
        }
    }

    func native(imageTokenIndex: Int?) -> blip2_language_config {
        let activationCode: blip2_activation = switch activation {
        case .relu: BLIP2_ACTIVATION_RELU
        case .gelu: BLIP2_ACTIVATION_GELU
        case .geluTanh: BLIP2_ACTIVATION_GELU_NEW
        }
        return blip2_language_config(
            kind: Int32(family == .opt ? BLIP2_LANGUAGE_OPT.rawValue : BLIP2_LANGUAGE_T5.rawValue),
            vocab_size: Int64(vocabularySize), hidden_size: Int64(hiddenSize), num_layers: Int64(layers),
            num_decoder_layers: Int64(decoderLayers), num_heads: Int64(heads), head_dim: Int64(headSize),
            ffn_size: Int64(feedForwardSize), max_position_embeddings: Int64(maxPositions),
            relative_buckets: Int64(relativeBuckets), relative_max_distance: Int64(relativeMaxDistance),
            layer_norm_eps: layerNormEps, activation: Int32(activationCode.rawValue),
            gated_ffn: gatedFeedForward ? 1 : 0, tie_word_embeddings: tiedWordEmbeddings ? 1 : 0,
            image_token_index: Int64(imageTokenIndex ?? -1))
    }
}

/// The `config.json` of a `Blip2ForConditionalGeneration` snapshot.
public struct CaptionModelConfig: Sendable, Equatable {
    /// Vision tower and Q-Former sizes (the Q-Former is its query path only).
    public var visual: ModelConfig
    public var language: LanguageModelConfig
    /// The `<image>` placeholder id the prompt starts with, or nil when the image queries
    /// are prepended to the prompt (older configs, LAVIS conversions).
    public var imageTokenIndex: Int?

    public init(contentsOf url: URL) throws(ModelError) {
        let top = try ConfigReader(contentsOf: url)
        let architecture = try ModelArchitecture(config: top)
        guard architecture == .generation else {
            throw .invalidConfig(path: url.path, key: nil, reason: architecture.mismatch(wanted: .generation))
        }
        visual = try ModelConfig(reading: top, textPath: false)
        language = try LanguageModelConfig(reading: try top.section("text_config"))
        imageTokenIndex = try top.value("image_token_index")
        if let imageTokenIndex, imageTokenIndex < 0 || imageTokenIndex >= language.vocabularySize {
            throw top.invalid("image_token_index", "\(imageTokenIndex) is outside text_config.vocab_size \(language.vocabularySize)")
        }
    }

    var native: blip2_language_config { language.native(imageTokenIndex: imageTokenIndex) }
}
