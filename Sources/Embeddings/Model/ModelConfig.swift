internal import CBlip2
import Foundation

/// The architecture sizes of a `Blip2ForImageTextRetrieval` snapshot, read from its
/// `config.json`. Keys a config leaves out take transformers' class defaults (the hub's
/// `Salesforce/blip2-itm-vit-g` config lists only what differs), so the real model and the
/// tiny test models are read the same way.
public struct ModelConfig: Sendable, Equatable {
    public var visionHiddenSize = 1408
    public var visionIntermediateSize = 6144
    public var visionLayers = 39
    public var visionHeads = 16
    public var imageSize = 224
    public var patchSize = 14
    public var visionLayerNormEps = 1e-6
    public var visionQKVBias = true

    public var qformerHiddenSize = 768
    public var qformerIntermediateSize = 3072
    public var qformerLayers = 12
    public var qformerHeads = 12
    public var vocabularySize = 30522
    public var maxPositionEmbeddings = 512
    public var crossAttentionFrequency = 2
    public var qformerLayerNormEps = 1e-12

    /// Learned queries per image: each image is embedded as this many vectors.
    public var queryTokenCount = 32
    /// Dimension of the shared image-text space.
    public var embeddingDimension = 256

    public init() {}

    /// Reads and checks the `config.json` of a retrieval snapshot; every failure names the
    /// file and the key. A captioning snapshot is refused with a message saying so.
    public init(contentsOf url: URL) throws(ModelError) {
        let top = try ConfigReader(contentsOf: url)
        switch try ModelArchitecture(config: top) {
        case .retrieval:
            break
        case .generation:
            throw .invalidConfig(path: url.path, key: nil, reason: ModelArchitecture.generation.mismatch(wanted: .retrieval))
        }
        try self.init(reading: top, textPath: true)
    }

    /// The vision and Q-Former sizes of `top`; `textPath` requires the Q-Former's text input
    /// (retrieval), without it the Q-Former is the query path only (captioning).
    init(reading top: ConfigReader, textPath: Bool) throws(ModelError) {
        let path = top.path
        let vision = try top.section("vision_config")
        let qformer = try top.section("qformer_config")

        visionHiddenSize = try vision.value("hidden_size") ?? visionHiddenSize
        visionIntermediateSize = try vision.value("intermediate_size") ?? visionIntermediateSize
        visionLayers = try vision.value("num_hidden_layers") ?? visionLayers
        visionHeads = try vision.value("num_attention_heads") ?? visionHeads
        imageSize = try vision.value("image_size") ?? imageSize
        patchSize = try vision.value("patch_size") ?? patchSize
        visionLayerNormEps = try vision.value("layer_norm_eps") ?? visionLayerNormEps
        visionQKVBias = try vision.value("qkv_bias") ?? visionQKVBias
        try vision.require("hidden_act", equals: "gelu")

        qformerHiddenSize = try qformer.value("hidden_size") ?? qformerHiddenSize
        qformerIntermediateSize = try qformer.value("intermediate_size") ?? qformerIntermediateSize
        qformerLayers = try qformer.value("num_hidden_layers") ?? qformerLayers
        qformerHeads = try qformer.value("num_attention_heads") ?? qformerHeads
        vocabularySize = try qformer.value("vocab_size") ?? vocabularySize
        maxPositionEmbeddings = try qformer.value("max_position_embeddings") ?? maxPositionEmbeddings
        crossAttentionFrequency = try qformer.value("cross_attention_frequency") ?? crossAttentionFrequency
        qformerLayerNormEps = try qformer.value("layer_norm_eps") ?? qformerLayerNormEps
        try qformer.require("hidden_act", equals: "gelu")
        try qformer.require("position_embedding_type", equals: "absolute")
        if textPath {
            let textInput: Bool? = try qformer.value("use_qformer_text_input")
            guard textInput == true else {
                throw .invalidConfig(path: path, key: "qformer_config.use_qformer_text_input",
                                     reason: "must be true: without the Q-Former text path there are no text embeddings (is this an ITM/retrieval checkpoint?)")
            }
        }

        queryTokenCount = try top.value("num_query_tokens") ?? queryTokenCount
        embeddingDimension = try top.value("image_text_hidden_size") ?? embeddingDimension
        try checkSizes(path: path)
    }

    private func checkSizes(path: String) throws(ModelError) {
        let positive: [(String, Int)] = [
            ("vision_config.hidden_size", visionHiddenSize), ("vision_config.intermediate_size", visionIntermediateSize),
            ("vision_config.num_hidden_layers", visionLayers), ("vision_config.num_attention_heads", visionHeads),
            ("vision_config.image_size", imageSize), ("vision_config.patch_size", patchSize),
            ("qformer_config.hidden_size", qformerHiddenSize), ("qformer_config.intermediate_size", qformerIntermediateSize),
            ("qformer_config.num_hidden_layers", qformerLayers), ("qformer_config.num_attention_heads", qformerHeads),
            ("qformer_config.vocab_size", vocabularySize), ("qformer_config.max_position_embeddings", maxPositionEmbeddings),
            ("qformer_config.cross_attention_frequency", crossAttentionFrequency),
            ("num_query_tokens", queryTokenCount), ("image_text_hidden_size", embeddingDimension),
        ]
        for (key, value) in positive where value <= 0 {
            throw .invalidConfig(path: path, key: key, reason: "must be positive, found \(value)")
        }
        if visionHiddenSize % visionHeads != 0 {
            throw .invalidConfig(path: path, key: "vision_config.num_attention_heads",
                                 reason: "\(visionHeads) does not divide hidden_size \(visionHiddenSize)")
        }
        if qformerHiddenSize % qformerHeads != 0 {
            throw .invalidConfig(path: path, key: "qformer_config.num_attention_heads",
                                 reason: "\(qformerHeads) does not divide hidden_size \(qformerHiddenSize)")
        }
        if imageSize % patchSize != 0 {
            throw .invalidConfig(path: path, key: "vision_config.patch_size",
                                 reason: "\(patchSize) does not divide image_size \(imageSize)")
        }
    }

    /// The same sizes in the native engine's C struct. The Q-Former's cross-attention reads
    /// the vision tower's states, so its encoder width is the vision width (as Blip2Config sets it).
    var native: blip2_config {
        blip2_config(
            vision_hidden_size: Int64(visionHiddenSize), vision_intermediate_size: Int64(visionIntermediateSize),
            vision_num_layers: Int64(visionLayers), vision_num_heads: Int64(visionHeads),
            image_size: Int64(imageSize), patch_size: Int64(patchSize),
            vision_layer_norm_eps: visionLayerNormEps, vision_qkv_bias: visionQKVBias ? 1 : 0,
            qformer_hidden_size: Int64(qformerHiddenSize), qformer_intermediate_size: Int64(qformerIntermediateSize),
            qformer_num_layers: Int64(qformerLayers), qformer_num_heads: Int64(qformerHeads),
            qformer_vocab_size: Int64(vocabularySize),
            qformer_max_position_embeddings: Int64(maxPositionEmbeddings),
            qformer_cross_attention_frequency: Int64(crossAttentionFrequency),
            qformer_encoder_hidden_size: Int64(visionHiddenSize),
            qformer_layer_norm_eps: qformerLayerNormEps,
            num_query_tokens: Int64(queryTokenCount), image_text_hidden_size: Int64(embeddingDimension))
    }
}
