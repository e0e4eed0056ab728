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
    /** The vision tower's states of all tokens [B,P+1,Hv]: the input of both paths below. */
    torch::Tensor image_states(const torch::Tensor &pixels) const { return vision_.forward(pixels); }
    /** Image states [B,P+1,Hv] → [B,Q,D], L2-normalised. */
    torch::Tensor embed_image_states(const torch::Tensor &states) const;
    /** `vision().encode` output [B,P+1,Hv] → [B,Q,D], L2-normalised (a vision pass shared with a captioner). */
    torch::Tensor embed_encoded_images(const torch::Tensor &encoded) const {
        return embed_image_states(vision_.finish(encoded));
    }
    const VisionTower &vision() const { return vision_; }
    /** One image's states [1,P+1,Hv] against N texts → [N] match probabilities. */
    torch::Tensor match(const torch::Tensor &states, const torch::Tensor &ids,
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
