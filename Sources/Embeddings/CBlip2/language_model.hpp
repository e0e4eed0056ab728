// What generation needs from a language model (OPT or T5): start on a prompt, then one
// token at a time against a cache of keys and values that beam search can reorder.
#pragma once

#include <limits>
#include <vector>

#include <torch/torch.h>

#include "blip2_generate.h"
#include "layers.hpp"

namespace blip2 {

/** Per-layer keys and values of everything seen so far, [rows, heads, S, head_dim] each. */
struct KeyValueCache {
    std::vector<torch::Tensor> self_keys, self_values;
    /** T5: the encoder output's keys and values per decoder layer, computed once. */
    std::vector<torch::Tensor> cross_keys, cross_values;
    /** [rows, S]: 1 for real tokens, 0 for left padding (OPT); the encoder's mask (T5). */
    torch::Tensor mask;
    /** Decoder positions seen so far (T5: the absolute index of the next query). */
    int64_t length = 0;

    /** Keeps rows `rows` ([n] int64) in that order: beam search's reordering and expansion. */
    void select_rows(const torch::Tensor &rows);
};

/** A causal language model as generation sees it. */
class LanguageModel {
public:
    virtual ~LanguageModel() = default;

    /** Token embeddings [B,T,H] of ids [B,T], in the model's dtype. */
    virtual torch::Tensor embed_tokens(const torch::Tensor &ids) const = 0;
    /**
     * Reads the prompt `embeds` [B,T,H] with `mask` [B,T] and fills `cache`; returns the
     * float32 logits [B,V] of the first new token. T5 runs its encoder and the decoder's
     * first step on `decoder_start`.
     */
    virtual torch::Tensor start(const torch::Tensor &embeds, const torch::Tensor &mask,
                                int64_t decoder_start, KeyValueCache &cache) const = 0;
    /** Feeds one token per row ([B] int64); returns the float32 logits [B,V] of the next. */
    virtual torch::Tensor step(const torch::Tensor &tokens, KeyValueCache &cache) const = 0;
    /** Token ids the decoder has been given before the first generated one (T5: the start). */
    virtual bool has_decoder_start() const = 0;
    virtual int64_t vocab_size() const = 0;
};

/** Additive mask value: the dtype's lowest finite number, as transformers uses. */
inline double lowest_score(torch::Dtype dtype) {
    switch (dtype) {
        case torch::kFloat16: return -65504.0;
        case torch::kBFloat16: return -3.3895313892515355e38;
        default: return std::numeric_limits<float>::lowest();
    }
}

/** `(1 - keep) * lowest`: [B,S] keep mask to an additive [B,1,1,S] in `dtype`. */
inline torch::Tensor padding_bias(const torch::Tensor &keep, torch::Dtype dtype) {
    torch::Tensor blocked = keep.eq(0).unsqueeze(1).unsqueeze(2);
    return torch::zeros(blocked.sizes(), torch::TensorOptions().dtype(dtype).device(keep.device()))
        .masked_fill(blocked, lowest_score(dtype));
}

}  // namespace blip2
