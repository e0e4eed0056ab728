#include "opt_decoder.hpp"

#include <cmath>

#include "blip2_error.hpp"

namespace blip2 {
namespace {

/** OPTLearnedPositionalEmbedding's offset: row p + 2 holds position p. */
constexpr int64_t kPositionOffset = 2;

}  // namespace

OptAttention::OptAttention(const WeightScope &scope, const blip2_language_config &config)
    : q_proj_(Linear::load(scope.scope("q_proj"), config.hidden_size, config.hidden_size)),
      k_proj_(Linear::load(scope.scope("k_proj"), config.hidden_size, config.hidden_size)),
      v_proj_(Linear::load(scope.scope("v_proj"), config.hidden_size, config.hidden_size)),
      out_proj_(Linear::load(scope.scope("out_proj"), config.hidden_size, config.hidden_size)),
      heads_(config.num_heads),
      scale_(1.0 / std::sqrt(static_cast<double>(config.head_dim))) {}

torch::Tensor OptAttention::forward(const torch::Tensor &x, const torch::Tensor &bias,
                                    torch::Tensor &keys, torch::Tensor &values) const {
    torch::Tensor q = split_heads(q_proj_(x), heads_);
    torch::Tensor k = split_heads(k_proj_(x), heads_);
    torch::Tensor v = split_heads(v_proj_(x), heads_);
    keys = keys.defined() ? torch::cat({keys, k}, 2) : k.contiguous();
    values = values.defined() ? torch::cat({values, v}, 2) : v.contiguous();
    return out_proj_(merge_heads(attention(q, keys, values, bias, scale_)));
}

OptLayer::OptLayer(const WeightScope &scope, const blip2_language_config &config)
    : self_attn_layer_norm_(LayerNorm::load(scope.scope("self_attn_layer_norm"),
                                            config.hidden_size, config.layer_norm_eps)),
      self_attn_(scope.scope("self_attn"), config),
      final_layer_norm_(LayerNorm::load(scope.scope("final_layer_norm"), config.hidden_size,
                                        config.layer_norm_eps)),
      fc1_(Linear::load(scope.scope("fc1"), config.ffn_size, config.hidden_size)),
      fc2_(Linear::load(scope.scope("fc2"), config.hidden_size, config.ffn_size)) {}

torch::Tensor OptLayer::forward(torch::Tensor x, const torch::Tensor &bias, torch::Tensor &keys,
                                torch::Tensor &values) const {
    x = x + self_attn_.forward(self_attn_layer_norm_(x), bias, keys, values);
    return x + fc2_(torch::relu(fc1_(final_layer_norm_(x))));
}

OptDecoder::OptDecoder(const WeightScope &scope, const blip2_language_config &config)
    : vocab_size_(config.vocab_size), max_positions_(config.max_position_embeddings) {
    const WeightScope decoder = scope.scope("model.decoder");
    embed_tokens_ = decoder.scope("embed_tokens").tensor("weight", {config.vocab_size, config.hidden_size});
    embed_positions_ = decoder.scope("embed_positions")
                           .tensor("weight", {config.max_position_embeddings + kPositionOffset,
                                              config.hidden_size});
    final_layer_norm_ = LayerNorm::load(decoder.scope("final_layer_norm"), config.hidden_size,
                                        config.layer_norm_eps);
    layers_.reserve(config.num_layers);
    for (int64_t i = 0; i < config.num_layers; ++i) layers_.emplace_back(decoder.scope("layers", i), config);
    // Files saved by transformers >= 4.4x leave out the tied head; older ones hold a copy.
    const WeightScope head = scope.scope("lm_head");
    lm_head_ = head.contains("weight") ? head.tensor("weight", {config.vocab_size, config.hidden_size})
                                       : embed_tokens_;
}

torch::Tensor OptDecoder::embed_tokens(const torch::Tensor &ids) const {
    return torch::embedding(embed_tokens_, ids);
}

torch::Tensor OptDecoder::start(const torch::Tensor &embeds, const torch::Tensor &mask,
                                int64_t /*decoder_start*/, KeyValueCache &cache) const {
    cache = KeyValueCache();
    cache.self_keys.resize(layers_.size());
    cache.self_values.resize(layers_.size());
    cache.mask = mask;
    return forward(embeds, cache);
}

torch::Tensor OptDecoder::step(const torch::Tensor &tokens, KeyValueCache &cache) const {
    cache.mask = torch::cat({cache.mask, torch::ones({tokens.size(0), 1}, cache.mask.options())}, 1);
    return forward(embed_tokens(tokens.unsqueeze(1)), cache);
}

torch::Tensor OptDecoder::forward(torch::Tensor x, KeyValueCache &cache) const {
    const int64_t rows = x.size(0);
    const int64_t fresh = x.size(1);
    const int64_t total = cache.mask.size(1);
    const int64_t past = total - fresh;
    if (total > max_positions_) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "the image queries, prompt and new tokens need " + std::to_string(total) +
                        " positions; the language model has " + std::to_string(max_positions_));
    }
    // Left padding shifts positions: a token's position counts the real tokens before it.
    torch::Tensor mask = cache.mask.to(torch::kInt64);
    torch::Tensor positions = (mask.cumsum(1) * mask - 1).slice(1, past);
    x = x + torch::embedding(embed_positions_, positions + kPositionOffset);

    torch::Tensor key_positions = torch::arange(total, mask.options()).unsqueeze(0);
    torch::Tensor query_positions = torch::arange(past, total, mask.options()).unsqueeze(1);
    torch::Tensor allowed = key_positions.le(query_positions).unsqueeze(0).unsqueeze(0) &
                            mask.ne(0).view({rows, 1, 1, total});
    torch::Tensor bias = torch::zeros(allowed.sizes(), x.options())
                             .masked_fill(allowed.logical_not(), lowest_score(x.scalar_type()));
    for (size_t i = 0; i < layers_.size(); ++i) {
        x = layers_[i].forward(x, bias, cache.self_keys[i], cache.self_values[i]);
    }
    cache.length = total;
    torch::Tensor last = final_layer_norm_(x.select(1, fresh - 1));
    return Linear{lm_head_, torch::Tensor()}(last).to(torch::kFloat32);
}

}  // namespace blip2
