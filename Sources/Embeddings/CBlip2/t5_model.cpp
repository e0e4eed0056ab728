#include "t5_model.hpp"

#include <cmath>

#include "blip2_error.hpp"

namespace blip2 {

RmsNorm RmsNorm::load(const WeightScope &scope, int64_t size, double eps) {
    return RmsNorm{scope.tensor("weight", {size}), eps};
}

torch::Tensor RmsNorm::operator()(const torch::Tensor &x) const {
    torch::Tensor variance = x.to(torch::kFloat32).pow(2).mean(-1, /*keepdim=*/true);
    torch::Tensor normed = x * torch::rsqrt(variance + eps);
    return weight * normed.to(weight.scalar_type());
}

T5Attention::T5Attention(const WeightScope &scope, const blip2_language_config &config)
    : q_(Linear::load(scope.scope("q"), config.num_heads * config.head_dim, config.hidden_size, false)),
      k_(Linear::load(scope.scope("k"), config.num_heads * config.head_dim, config.hidden_size, false)),
      v_(Linear::load(scope.scope("v"), config.num_heads * config.head_dim, config.hidden_size, false)),
      o_(Linear::load(scope.scope("o"), config.hidden_size, config.num_heads * config.head_dim, false)),
      heads_(config.num_heads) {}

torch::Tensor T5Attention::project_keys(const torch::Tensor &x) const { return split_heads(k_(x), heads_); }

torch::Tensor T5Attention::project_values(const torch::Tensor &x) const { return split_heads(v_(x), heads_); }

torch::Tensor T5Attention::forward(const torch::Tensor &x, const torch::Tensor &keys,
                                   const torch::Tensor &values, const torch::Tensor &bias) const {
    torch::Tensor q = split_heads(q_(x), heads_);
    // transformers computes the softmax in float32 and casts back.
    torch::Tensor scores = torch::matmul(q, keys.transpose(-1, -2)) + bias;
    torch::Tensor weights = torch::softmax(scores.to(torch::kFloat32), -1).to(q.scalar_type());
    return o_(merge_heads(torch::matmul(weights, values)));
}

RelativePositionBias::RelativePositionBias(const WeightScope &scope, const blip2_language_config &config,
                                           bool bidirectional)
    : table_(scope.tensor("weight", {config.relative_buckets, config.num_heads})),
      bidirectional_(bidirectional),
      buckets_(config.relative_buckets),
      max_distance_(config.relative_max_distance) {}

torch::Tensor RelativePositionBias::forward(int64_t first_query, int64_t queries, int64_t keys) const {
    auto options = torch::TensorOptions().dtype(torch::kInt64).device(table_.device());
    torch::Tensor query_positions = torch::arange(first_query, first_query + queries, options).unsqueeze(1);
    torch::Tensor key_positions = torch::arange(keys, options).unsqueeze(0);
    torch::Tensor relative = key_positions - query_positions;  // [queries, keys]

    // _relative_position_bucket, in the same float32 arithmetic and truncation.
    int64_t buckets = buckets_;
    torch::Tensor bucket = torch::zeros_like(relative);
    torch::Tensor distance;
    if (bidirectional_) {
        buckets /= 2;
        bucket = bucket + relative.gt(0).to(torch::kInt64) * buckets;
        distance = relative.abs();
    } else {
        distance = torch::clamp_min(-relative, 0);
    }
    const int64_t max_exact = buckets / 2;
    torch::Tensor is_small = distance.lt(max_exact);
    torch::Tensor large =
        max_exact + (torch::log(distance.to(torch::kFloat32) / max_exact) /
                     std::log(static_cast<double>(max_distance_) / max_exact) * (buckets - max_exact))
                        .to(torch::kInt64);
    large = torch::clamp_max(large, buckets - 1);
    bucket = bucket + torch::where(is_small, distance, large);

    torch::Tensor bias = torch::embedding(table_, bucket);  // [queries, keys, heads]
    return bias.permute({2, 0, 1}).unsqueeze(0);
}

T5FeedForward::T5FeedForward(const WeightScope &scope, const blip2_language_config &config)
    : wo_(Linear::load(scope.scope("wo"), config.hidden_size, config.ffn_size, false)),
      activation_(config.activation) {
    if (config.gated_ffn) {
        wi_0_ = Linear::load(scope.scope("wi_0"), config.ffn_size, config.hidden_size, false);
        wi_1_ = Linear::load(scope.scope("wi_1"), config.ffn_size, config.hidden_size, false);
    } else {
        wi_ = Linear::load(scope.scope("wi"), config.ffn_size, config.hidden_size, false);
    }
}

namespace {

torch::Tensor activate(const torch::Tensor &x, int32_t activation) {
    switch (activation) {
        case BLIP2_ACTIVATION_RELU: return torch::relu(x);
        case BLIP2_ACTIVATION_GELU: return torch::gelu(x);
        default: return torch::gelu(x, "tanh");
    }
}

}  // namespace

torch::Tensor T5FeedForward::forward(const torch::Tensor &x) const {
    if (wi_) return wo_(activate((*wi_)(x), activation_));
    return wo_(activate((*wi_0_)(x), activation_) * (*wi_1_)(x));
}

T5Block::T5Block(const WeightScope &scope, const blip2_language_config &config, bool decoder)
    : self_norm_(RmsNorm::load(scope.scope("layer.0.layer_norm"), config.hidden_size, config.layer_norm_eps)),
      self_attention_(scope.scope("layer.0.SelfAttention"), config),
      feed_forward_norm_(RmsNorm::load(scope.scope(decoder ? "layer.2.layer_norm" : "layer.1.layer_norm"),
                                       config.hidden_size, config.layer_norm_eps)),
      feed_forward_(scope.scope(decoder ? "layer.2.DenseReluDense" : "layer.1.DenseReluDense"), config) {
    if (decoder) {
        cross_norm_ = RmsNorm::load(scope.scope("layer.1.layer_norm"), config.hidden_size, config.layer_norm_eps);
        cross_attention_.emplace(scope.scope("layer.1.EncDecAttention"), config);
    }
}

torch::Tensor T5Block::encode(torch::Tensor h, const torch::Tensor &bias) const {
    torch::Tensor normed = self_norm_(h);
    h = h + self_attention_.forward(normed, self_attention_.project_keys(normed),
                                    self_attention_.project_values(normed), bias);
    return h + feed_forward_.forward(feed_forward_norm_(h));
}

torch::Tensor T5Block::decode(torch::Tensor h, const torch::Tensor &self_bias,
                              const torch::Tensor &cross_bias, torch::Tensor &keys,
                              torch::Tensor &values, const torch::Tensor &cross_keys,
                              const torch::Tensor &cross_values) const {
    torch::Tensor normed = self_norm_(h);
    torch::Tensor k = self_attention_.project_keys(normed);
    torch::Tensor v = self_attention_.project_values(normed);
    keys = keys.defined() ? torch::cat({keys, k}, 2) : k.contiguous();
    values = values.defined() ? torch::cat({values, v}, 2) : v.contiguous();
    h = h + self_attention_.forward(normed, keys, values, self_bias);
    h = h + cross_attention_->forward((*cross_norm_)(h), cross_keys, cross_values, cross_bias);
    return h + feed_forward_.forward(feed_forward_norm_(h));
}

namespace {

/** A stack's blocks; block 0 also owns the relative position table, read separately. */
std::vector<T5Block> load_blocks(const WeightScope &stack, const blip2_language_config &config,
                                 int64_t count, bool decoder) {
    std::vector<T5Block> blocks;
    blocks.reserve(count);
    for (int64_t i = 0; i < count; ++i) blocks.emplace_back(stack.scope("block", i), config, decoder);
    return blocks;
}

/** `{encoder,decoder}.embed_tokens.weight` are copies of `shared` when a file holds them. */
void claim_tied_copy(const WeightScope &stack, const blip2_language_config &config) {
    const WeightScope embed = stack.scope("embed_tokens").checked_only();
    if (embed.contains("weight")) embed.tensor("weight", {config.vocab_size, config.hidden_size});
}

}  // namespace

T5Model::T5Model(const WeightScope &scope, const blip2_language_config &config)
    : shared_(scope.scope("shared").tensor("weight", {config.vocab_size, config.hidden_size})),
      encoder_(load_blocks(scope.scope("encoder"), config, config.num_layers, false)),
      encoder_final_norm_(RmsNorm::load(scope.scope("encoder.final_layer_norm"), config.hidden_size,
                                        config.layer_norm_eps)),
      encoder_bias_(scope.scope("encoder.block.0.layer.0.SelfAttention.relative_attention_bias"), config, true),
      decoder_(load_blocks(scope.scope("decoder"), config, config.num_decoder_layers, true)),
      decoder_final_norm_(RmsNorm::load(scope.scope("decoder.final_layer_norm"), config.hidden_size,
                                        config.layer_norm_eps)),
      decoder_bias_(scope.scope("decoder.block.0.layer.0.SelfAttention.relative_attention_bias"), config, false),
      tied_(config.tie_word_embeddings != 0),
      hidden_size_(config.hidden_size),
      vocab_size_(config.vocab_size) {
    claim_tied_copy(scope.scope("encoder"), config);
    claim_tied_copy(scope.scope("decoder"), config);
    const WeightScope head = scope.scope("lm_head");
    if (tied_) {
        if (head.contains("weight")) head.checked_only().tensor("weight", {config.vocab_size, config.hidden_size});
        lm_head_ = shared_;
    } else {
        lm_head_ = head.tensor("weight", {config.vocab_size, config.hidden_size});
    }
}

torch::Tensor T5Model::embed_tokens(const torch::Tensor &ids) const { return torch::embedding(shared_, ids); }

torch::Tensor T5Model::start(const torch::Tensor &embeds, const torch::Tensor &mask,
                             int64_t decoder_start, KeyValueCache &cache) const {
    const int64_t length = embeds.size(1);
    const torch::Dtype dtype = embeds.scalar_type();
    torch::Tensor encoder_padding = padding_bias(mask, dtype);
    torch::Tensor bias = encoder_bias_.forward(0, length, length).to(dtype) + encoder_padding;
    torch::Tensor h = embeds;
    for (const T5Block &block : encoder_) h = block.encode(h, bias);
    h = encoder_final_norm_(h);

    cache = KeyValueCache();
    cache.self_keys.resize(decoder_.size());
    cache.self_values.resize(decoder_.size());
    for (const T5Block &block : decoder_) {
        cache.cross_keys.push_back(block.cross_attention().project_keys(h));
        cache.cross_values.push_back(block.cross_attention().project_values(h));
    }
    cache.mask = mask;
    cache.length = 0;
    torch::Tensor first = torch::full({embeds.size(0)}, decoder_start,
                                      torch::TensorOptions().dtype(torch::kInt64).device(embeds.device()));
    return step(first, cache);
}

torch::Tensor T5Model::step(const torch::Tensor &tokens, KeyValueCache &cache) const {
    torch::Tensor h = embed_tokens(tokens.unsqueeze(1));
    const torch::Dtype dtype = h.scalar_type();
    const int64_t position = cache.length;
    // One query at a time sees every key so far: no causal mask is needed.
    torch::Tensor self_bias = decoder_bias_.forward(position, 1, position + 1).to(dtype);
    torch::Tensor cross_bias = padding_bias(cache.mask, dtype);
    for (size_t i = 0; i < decoder_.size(); ++i) {
        h = decoder_[i].decode(h, self_bias, cross_bias, cache.self_keys[i], cache.self_values[i],
                               cache.cross_keys[i], cache.cross_values[i]);
    }
    cache.length = position + 1;
    h = decoder_final_norm_(h.select(1, 0));
    if (tied_) h = h * std::pow(static_cast<double>(hidden_size_), -0.5);
    return Linear{lm_head_, torch::Tensor()}(h).to(torch::kFloat32);
}

}  // namespace blip2
