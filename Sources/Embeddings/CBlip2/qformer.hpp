// The Q-Former (`qformer.*`), a post-norm BERT whose first `num_query_tokens` positions
// are learned queries that cross-attend to the image every `cross_attention_frequency`
// layers: Blip2QFormerModel / Blip2QFormerLayer in transformers' modeling_blip_2.py.
#pragma once

#include <optional>
#include <vector>

#include "blip2.h"
#include "layers.hpp"

namespace blip2 {

/** Which Q-Former paths a loaded model can run. */
struct QFormerPaths {
    bool query;  // image path: cross-attention and the query feed-forward
    bool text;   // text path: the text feed-forward
    /** False for a captioning checkpoint, whose Q-Former has no text feed-forward at all. */
    bool text_weights_present = true;
};

/** Blip2QFormerAttention: BERT attention plus `output.dense`, residual and LayerNorm. */
class QFormerAttention {
public:
    QFormerAttention(const WeightScope &scope, const blip2_config &config,
                     int64_t context_size);
    /** `mask` is additive, broadcastable to [B,heads,T,Tc], or undefined for none. */
    torch::Tensor forward(const torch::Tensor &hidden, const torch::Tensor &context,
                          const torch::Tensor &mask) const;

private:
    Linear query_, key_, value_, dense_;
    LayerNorm layer_norm_;
    int64_t heads_;
    double scale_;
};

/** `intermediate*.dense` → gelu → `output*.dense`, residual and LayerNorm. */
class QFormerFeedForward {
public:
    QFormerFeedForward(const WeightScope &intermediate, const WeightScope &output,
                       const blip2_config &config);
    torch::Tensor forward(const torch::Tensor &x) const;

private:
    Linear intermediate_, output_;
    LayerNorm layer_norm_;
};

class QFormerLayer {
public:
    QFormerLayer(const WeightScope &scope, const blip2_config &config, int64_t index,
                 QFormerPaths paths);
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &mask,
                          const torch::Tensor &image_states, int64_t query_length) const;

private:
    QFormerAttention self_attention_;
    std::optional<QFormerAttention> cross_attention_;
    std::optional<QFormerFeedForward> text_feed_forward_;
    QFormerFeedForward query_feed_forward_;
};

/**
 * `embeds` [B,T,H] whose first `query_length` rows are queries; `padding_mask` [B,T]
 * (1 keep, 0 pad) or undefined; `image_states` [B,P+1,Hv] or undefined when
 * `query_length` is 0. Returns the last hidden state [B,T,H].
 */
class QFormer {
public:
    QFormer(const WeightScope &scope, const blip2_config &config, QFormerPaths paths);
    torch::Tensor forward(const torch::Tensor &embeds, const torch::Tensor &padding_mask,
                          const torch::Tensor &image_states, int64_t query_length) const;

private:
    LayerNorm layernorm_;
    std::vector<QFormerLayer> layers_;
};

}  // namespace blip2
