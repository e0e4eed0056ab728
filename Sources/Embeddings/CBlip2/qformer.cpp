#include "qformer.hpp"

#include <cmath>

namespace blip2 {
namespace {

/**
 * Added to the attention scores of padded positions. transformers 4.46's Q-Former uses
 * -10000 (get_extended_attention_mask with its legacy constant); it is representable in
 * fp16 and, after softmax, as good as -inf.
 */
constexpr double kPaddingScore = -10000.0;

WeightScope scope_for(const WeightScope &scope, bool needed) {
    return needed ? scope : scope.checked_only();
}

}  // namespace

QFormerAttention::QFormerAttention(const WeightScope &scope, const blip2_config &config,
                                   int64_t context_size)
    : query_(Linear::load(scope.scope("attention.query"), config.qformer_hidden_size,
                          config.qformer_hidden_size)),
      key_(Linear::load(scope.scope("attention.key"), config.qformer_hidden_size, context_size)),
      value_(Linear::load(scope.scope("attention.value"), config.qformer_hidden_size,
                          context_size)),
      dense_(Linear::load(scope.scope("output.dense"), config.qformer_hidden_size,
                          config.qformer_hidden_size)),
      layer_norm_(LayerNorm::load(scope.scope("output.LayerNorm"), config.qformer_hidden_size,
                                  config.qformer_layer_norm_eps)),
      heads_(config.qformer_num_heads),
      scale_(1.0 / std::sqrt(static_cast<double>(config.qformer_hidden_size /
                                                 config.qformer_num_heads))) {}

torch::Tensor QFormerAttention::forward(const torch::Tensor &hidden, const torch::Tensor &context,
                                        const torch::Tensor &mask) const {
    torch::Tensor q = split_heads(query_(hidden), heads_);
    torch::Tensor k = split_heads(key_(context), heads_);
    torch::Tensor v = split_heads(value_(context), heads_);
    torch::Tensor attended = merge_heads(attention(q, k, v, mask, scale_));
    return layer_norm_(dense_(attended) + hidden);
}

QFormerFeedForward::QFormerFeedForward(const WeightScope &intermediate,
                                       const WeightScope &output, const blip2_config &config)
    : intermediate_(Linear::load(intermediate.scope("dense"), config.qformer_intermediate_size,
                                 config.qformer_hidden_size)),
      output_(Linear::load(output.scope("dense"), config.qformer_hidden_size,
                           config.qformer_intermediate_size)),
      layer_norm_(LayerNorm::load(output.scope("LayerNorm"), config.qformer_hidden_size,
                                  config.qformer_layer_norm_eps)) {}

torch::Tensor QFormerFeedForward::forward(const torch::Tensor &x) const {
    return layer_norm_(output_(torch::gelu(intermediate_(x))) + x);
}

QFormerLayer::QFormerLayer(const WeightScope &scope, const blip2_config &config, int64_t index,
                           QFormerPaths paths)
    : self_attention_(scope.scope("attention"), config, config.qformer_hidden_size),
      query_feed_forward_(scope_for(scope, paths.query).scope("intermediate_query"),
                          scope_for(scope, paths.query).scope("output_query"), config) {
    if (paths.text_weights_present) {
        text_feed_forward_.emplace(scope_for(scope, paths.text).scope("intermediate"),
                                   scope_for(scope, paths.text).scope("output"), config);
    }
    if (index % config.qformer_cross_attention_frequency == 0) {
        cross_attention_.emplace(scope_for(scope, paths.query).scope("crossattention"), config,
                                 config.qformer_encoder_hidden_size);
    }
}

torch::Tensor QFormerLayer::forward(const torch::Tensor &x, const torch::Tensor &mask,
                                    const torch::Tensor &image_states,
                                    int64_t query_length) const {
    torch::Tensor attended = self_attention_.forward(x, x, mask);
    if (query_length == 0) return text_feed_forward_->forward(attended);

    torch::Tensor queries = attended.slice(1, 0, query_length);
    if (cross_attention_) {
        queries = cross_attention_->forward(queries, image_states, torch::Tensor());
    }
    torch::Tensor out = query_feed_forward_.forward(queries);
    if (attended.size(1) > query_length) {
        torch::Tensor text = text_feed_forward_->forward(attended.slice(1, query_length));
        out = torch::cat({out, text}, 1);
    }
    return out;
}

QFormer::QFormer(const WeightScope &scope, const blip2_config &config, QFormerPaths paths)
    : layernorm_(LayerNorm::load(scope.scope("layernorm"), config.qformer_hidden_size,
                                 config.qformer_layer_norm_eps)) {
    layers_.reserve(config.qformer_num_layers);
    for (int64_t i = 0; i < config.qformer_num_layers; ++i) {
        layers_.emplace_back(scope.scope("encoder.layer", i).quantizable(), config, i, paths);
    }
}

torch::Tensor QFormer::forward(const torch::Tensor &embeds, const torch::Tensor &padding_mask,
                               const torch::Tensor &image_states, int64_t query_length) const {
    torch::Tensor x = layernorm_(embeds);
    torch::Tensor additive_mask;
    if (padding_mask.defined()) {
        torch::Tensor keep = padding_mask.to(x.dtype()).unsqueeze(1).unsqueeze(2);  // [B,1,1,T]
        additive_mask = (1.0 - keep) * kPaddingScore;
    }
    for (const QFormerLayer &layer : layers_) {
        x = layer.forward(x, additive_mask, image_states, query_length);
    }
    return x;
}

}  // namespace blip2
