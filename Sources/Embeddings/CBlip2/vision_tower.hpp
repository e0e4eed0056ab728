// The ViT image tower (`vision_model.*`): Blip2VisionEmbeddings, Blip2EncoderLayer and
// post_layernorm in transformers' models/blip_2/modeling_blip_2.py.
#pragma once

#include <vector>

#include "blip2.h"
#include "layers.hpp"

namespace blip2 {

/** Blip2Attention: fused qkv projection (bias q|0|v), unmasked softmax attention. */
class VisionAttention {
public:
    VisionAttention(const WeightScope &scope, const blip2_config &config);
    torch::Tensor forward(const torch::Tensor &x) const;
    void append_weights(std::vector<torch::Tensor> &weights) const;

private:
    Linear qkv_;
    Linear projection_;
    int64_t heads_;
    double scale_;
};

/** Blip2EncoderLayer: pre-norm attention and MLP blocks with residuals. */
class VisionLayer {
public:
    VisionLayer(const WeightScope &scope, const blip2_config &config);
    torch::Tensor forward(torch::Tensor x) const;
    void append_weights(std::vector<torch::Tensor> &weights) const;

private:
    LayerNorm layer_norm1_;
    VisionAttention attention_;
    LayerNorm layer_norm2_;
    Linear fc1_;
    Linear fc2_;
};

/**
 * Pixels [B,3,S,S] to the post-layernorm states of all P+1 tokens [B,P+1,H], in two steps:
 * `encode` (embeddings and encoder layers, ~all the cost) and `finish` (post_layernorm).
 * BLIP-2 checkpoints share the frozen ViT but train their own post_layernorm (LAVIS's
 * `ln_vision`), so two models whose `encoder_fingerprint`s are equal can share one `encode`.
 */
class VisionTower {
public:
    VisionTower(const WeightScope &scope, const blip2_config &config);
    torch::Tensor forward(const torch::Tensor &pixels) const { return finish(encode(pixels)); }
    /** Pixels [B,3,S,S] → the last encoder layer's states [B,P+1,H], before post_layernorm. */
    torch::Tensor encode(const torch::Tensor &pixels) const;
    /** `encode`'s states → the tower's output. */
    torch::Tensor finish(const torch::Tensor &encoded) const { return post_layernorm_(encoded); }
    /**
     * A 64-bit hash of every weight `encode` uses (bytes as placed, dtype, shape) and of the
     * device kind: equal fingerprints give interchangeable `encode` outputs. Reads every
     * weight once (about a second for ViT-g); fails when the tower is not loaded.
     */
    uint64_t encoder_fingerprint() const;
    /** Tokens per image (P+1) and hidden size: the shape of one image's `encode` output. */
    int64_t tokens() const { return position_embedding_.size(1); }
    int64_t hidden_size() const { return position_embedding_.size(2); }

private:
    torch::Tensor class_embedding_;
    torch::Tensor position_embedding_;
    torch::Tensor patch_weight_;
    torch::Tensor patch_bias_;
    int64_t patch_size_;
    std::vector<VisionLayer> layers_;
    LayerNorm post_layernorm_;
};

}  // namespace blip2
