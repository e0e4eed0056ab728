// T5ForConditionalGeneration (`language_model.*` of a BLIP-2 Flan-T5 checkpoint): RMSNorm,
// unscaled attention with a bucketed relative position bias from block 0 of each stack,
// a gated or plain feed-forward, an encoder read once and a decoder with self- and
// cross-attention caches (transformers' models/t5/modeling_t5.py; the spec's §3).
#pragma once

#include <optional>
#include <vector>

#include "language_model.hpp"

namespace blip2 {

/** T5LayerNorm: w · x / sqrt(mean(x²) + eps), no mean, no bias; variance in float32. */
struct RmsNorm {
    torch::Tensor weight;
    double eps = 1e-6;

    static RmsNorm load(const WeightScope &scope, int64_t size, double eps);
    torch::Tensor operator()(const torch::Tensor &x) const;
};

/** T5Attention: bias-free q/k/v/o, no 1/sqrt(d) scaling. */
class T5Attention {
public:
    T5Attention(const WeightScope &scope, const blip2_language_config &config);
    torch::Tensor project_keys(const torch::Tensor &x) const;
    torch::Tensor project_values(const torch::Tensor &x) const;
    /** Attends `x` over `keys`/`values` [B,heads,S,d] with the additive `bias`. */
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &keys,
                          const torch::Tensor &values, const torch::Tensor &bias) const;

private:
    Linear q_, k_, v_, o_;
    int64_t heads_;
};

/** The bucketed relative position bias (`relative_attention_bias`, block 0 only). */
class RelativePositionBias {
public:
    RelativePositionBias(const WeightScope &scope, const blip2_language_config &config,
                         bool bidirectional);
    /** [1, heads, queries, keys] for query positions first_query… and key positions 0…keys-1. */
    torch::Tensor forward(int64_t first_query, int64_t queries, int64_t keys) const;

private:
    torch::Tensor table_;
    bool bidirectional_;
    int64_t buckets_;
    int64_t max_distance_;
};

/** T5DenseGatedActDense (wo(act(wi_0 x) · wi_1 x)) or T5DenseActDense (wo(act(wi x))). */
class T5FeedForward {
public:
    T5FeedForward(const WeightScope &scope, const blip2_language_config &config);
    torch::Tensor forward(const torch::Tensor &x) const;

private:
    std::optional<Linear> wi_;
    std::optional<Linear> wi_0_, wi_1_;
    Linear wo_;
    int32_t activation_;
};

/** An encoder block (self-attention, feed-forward) or a decoder block (plus cross-attention). */
class T5Block {
public:
    T5Block(const WeightScope &scope, const blip2_language_config &config, bool decoder);
    torch::Tensor encode(torch::Tensor h, const torch::Tensor &bias) const;
    torch::Tensor decode(torch::Tensor h, const torch::Tensor &self_bias,
                         const torch::Tensor &cross_bias, torch::Tensor &keys,
                         torch::Tensor &values, const torch::Tensor &cross_keys,
                         const torch::Tensor &cross_values) const;
    const T5Attention &cross_attention() const { return *cross_attention_; }

private:
    RmsNorm self_norm_;
    T5Attention self_attention_;
    std::optional<RmsNorm> cross_norm_;
    std::optional<T5Attention> cross_attention_;
    RmsNorm feed_forward_norm_;
    T5FeedForward feed_forward_;
};

class T5Model final : public LanguageModel {
public:
    T5Model(const WeightScope &scope, const blip2_language_config &config);

    torch::Tensor embed_tokens(const torch::Tensor &ids) const override;
    torch::Tensor start(const torch::Tensor &embeds, const torch::Tensor &mask,
                        int64_t decoder_start, KeyValueCache &cache) const override;
    torch::Tensor step(const torch::Tensor &tokens, KeyValueCache &cache) const override;
    bool has_decoder_start() const override { return true; }
    int64_t vocab_size() const override { return vocab_size_; }

private:
    torch::Tensor shared_;
    torch::Tensor lm_head_;
    std::vector<T5Block> encoder_;
    RmsNorm encoder_final_norm_;
    RelativePositionBias encoder_bias_;
    std::vector<T5Block> decoder_;
    RmsNorm decoder_final_norm_;
    RelativePositionBias decoder_bias_;
    bool tied_;
    int64_t hidden_size_;
    int64_t vocab_size_;
};

}  // namespace blip2
