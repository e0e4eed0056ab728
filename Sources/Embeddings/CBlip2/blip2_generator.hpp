// Blip2ForConditionalGeneration: vision tower → Q-Former queries → language_projection →
// OPT or T5, with the prompt laid out as transformers 4.46 does (the spec's §1).
#pragma once

#include <memory>
#include <utility>

#include "blip2_generate.h"
#include "language_model.hpp"
#include "qformer.hpp"
#include "vision_tower.hpp"

namespace blip2 {

class Blip2Generator {
public:
    Blip2Generator(WeightStore &weights, const blip2_config &config, const blip2_language_config &language);

    /** Pixels [B,3,S,S] → the projected image queries [B,Q,H_lm], the language model's image prefix. */
    torch::Tensor image_queries(const torch::Tensor &pixels) const { return encoded_image_queries(vision_.encode(pixels)); }
    /** The same from `vision().encode` states [B,P+1,Hv] (a vision pass shared with a retrieval model). */
    torch::Tensor encoded_image_queries(const torch::Tensor &encoded) const;
    const VisionTower &vision() const { return vision_; }
    /**
     * The language model's input for `queries` and the prompt `ids`/`mask` [B,L]: queries
     * prepended (legacy), or written over the `image_token_index` placeholders.
     */
    std::pair<torch::Tensor, torch::Tensor> prompt(const torch::Tensor &queries, const torch::Tensor &ids,
                                                   const torch::Tensor &mask) const;

    const LanguageModel &language_model() const { return *language_model_; }
    const blip2_config &config() const { return config_; }
    const blip2_language_config &language_config() const { return language_; }

private:
    blip2_config config_;
    blip2_language_config language_;
    VisionTower vision_;
    torch::Tensor query_tokens_;
    QFormer qformer_;
    Linear language_projection_;
    std::unique_ptr<LanguageModel> language_model_;
};

/** Fails on a `text_config` size or option the engine cannot run. */
void check_language_config(const blip2_language_config &language);

}  // namespace blip2
