// Blip2ForImageTextRetrieval: the ITC image and text embeddings and the ITM head
// (transformers' modeling_blip_2.py, class Blip2ForImageTextRetrieval).
#pragma once

#include <optional>

#include "blip2.h"
#include "qformer.hpp"
#include "vision_tower.hpp"

namespace blip2 {

/** `embeddings.*`: word + absolute position embeddings, no LayerNorm (the Q-Former's own comes first). */
class TextEmbeddings {
public:
    TextEmbeddings(const WeightScope &scope, const blip2_config &config);
    torch::Tensor forward(const torch::Tensor &ids) const;

private:
    torch::Tensor word_embeddings_;
    torch::Tensor position_embeddings_;
};

class Blip2Model {
public:
    Blip2Model(WeightStore &weights, const blip2_config &config, int parts);

    /** [B,3,S,S] → [B,Q,D], L2-normalised. */
    torch::Tensor embed_images(const torch::Tensor &pixels) const;
    /** ids/mask [B,L] → [B,D], L2-normalised. */
    torch::Tensor embed_texts(const torch::Tensor &ids, const torch::Tensor &mask) const;
    /** One image [1,3,S,S] against N texts → [N] match probabilities. */
    torch::Tensor match(const torch::Tensor &pixels, const torch::Tensor &ids,
                        const torch::Tensor &mask) const;

    const blip2_config &config() const { return config_; }
    bool has_parts(int parts) const { return (parts_ & parts) == parts; }

private:
    blip2_config config_;
    int parts_;
    VisionTower vision_;
    torch::Tensor query_tokens_;
    TextEmbeddings text_embeddings_;
    QFormer qformer_;
    Linear vision_projection_;
    Linear text_projection_;
    Linear itm_head_;
};

}  // namespace blip2
