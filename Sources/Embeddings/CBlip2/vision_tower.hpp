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
    /** On the CPU the MLP runs this many images' tokens at a time. */
    static constexpr int64_t kMlpImages = 2;
    /** With bf16 weights it runs this many hidden features at a time (widened_mlp). */
    static constexpr int64_t kWidenedMlpBlock = 1024;

    /**
     * fc2(gelu(fc1(x))). On the CPU a few images at a time, so fc1's output, the layer's
     * largest activation, is never the whole batch's (50 MB for ViT-g at batch 8). bf16
     * weights would then be widened once per chunk (bf16 measured 1.16x fp32's time): they
     * go a block of hidden features at a time instead.
     */
    torch::Tensor mlp(const torch::Tensor &x) const;

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
