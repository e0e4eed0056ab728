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

private:
    LayerNorm layer_norm1_;
    VisionAttention attention_;
    LayerNorm layer_norm2_;
    Linear fc1_;
    Linear fc2_;
};

/** Pixels [B,3,S,S] to the post-layernorm states of all P+1 tokens [B,P+1,H]. */
class VisionTower {
public:
    VisionTower(const WeightScope &scope, const blip2_config &config);
    torch::Tensor forward(const torch::Tensor &pixels) const;

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
