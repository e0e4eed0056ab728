// Token selection over a LanguageModel with transformers 4.46's `generate` semantics:
// greedy, seeded sampling (temperature, top-k, top-p) and beam search (BeamSearchScorer
// with early_stopping False), behind the logits processors repetition penalty, no-repeat
// n-gram and minimum new tokens, in transformers' order.
#pragma once

#include <vector>

#include "language_model.hpp"

namespace blip2 {

/** Checks the parameters a caller may get wrong; throws Error naming the field. */
void check_generation_params(const blip2_generation_params &params, int64_t vocab_size);

/**
 * Generates from the prompt `embeds` [B,T,H] / `mask` [B,T]. Returns, per row, its new
 * tokens: EOS included when one was produced, no padding.
 */
std::vector<std::vector<int64_t>> generate_tokens(const LanguageModel &model, const torch::Tensor &embeds,
                                                  const torch::Tensor &mask,
                                                  const blip2_generation_params &params);

}  // namespace blip2
