// OPTForCausalLM (`language_model.*` of a BLIP-2 OPT checkpoint): a pre-LayerNorm decoder
// with learned positions offset by 2 and a head tied to the token embeddings
// (transformers' models/opt/modeling_opt.py; ../shared/blip2-generation-spec.md §2).
#pragma once

#include <vector>

#include "language_model.hpp"

namespace blip2 {

/** OPTAttention: biased q/k/v/out projections, q scaled by head_dim^-0.5. */
class OptAttention {
public:
    OptAttention(const WeightScope &scope, const blip2_language_config &config);
    /** Appends this call's keys and values to `keys`/`values` and attends over all of them. */
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &bias, torch::Tensor &keys,
                          torch::Tensor &values) const;

private:
    Linear q_proj_, k_proj_, v_proj_, out_proj_;
    int64_t heads_;
    double scale_;
};

/** OPTDecoderLayer with do_layer_norm_before: residual attention, then residual ReLU MLP. */
class OptLayer {
public:
    OptLayer(const WeightScope &scope, const blip2_language_config &config);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor &bias, torch::Tensor &keys,
                          torch::Tensor &values) const;

private:
    LayerNorm self_attn_layer_norm_;
    OptAttention self_attn_;
    LayerNorm final_layer_norm_;
    Linear fc1_, fc2_;
};

class OptDecoder final : public LanguageModel {
public:
    OptDecoder(const WeightScope &scope, const blip2_language_config &config);

    torch::Tensor embed_tokens(const torch::Tensor &ids) const override;
    torch::Tensor start(const torch::Tensor &embeds, const torch::Tensor &mask,
                        int64_t decoder_start, KeyValueCache &cache) const override;
    torch::Tensor step(const torch::Tensor &tokens, KeyValueCache &cache) const override;
    bool has_decoder_start() const override { return false; }
    int64_t vocab_size() const override { return vocab_size_; }

private:
    /** Runs `x` [B,T,H] whose columns are the last T of `cache.mask`; logits of the last one. */
    torch::Tensor forward(torch::Tensor x, KeyValueCache &cache) const;

    torch::Tensor embed_tokens_;
    torch::Tensor embed_positions_;
    torch::Tensor lm_head_;
    LayerNorm final_layer_norm_;
    std::vector<OptLayer> layers_;
    int64_t vocab_size_;
    int64_t max_positions_;
};

}  // namespace blip2
