#include "blip2_model.hpp"

namespace blip2 {
namespace {

WeightScope scope_if(WeightStore &weights, const std::string &prefix, bool needed) {
    WeightScope scope(weights, prefix);
    return needed ? scope : scope.checked_only();
}

torch::Tensor normalized(const torch::Tensor &x) {
    return torch::nn::functional::normalize(
        x, torch::nn::functional::NormalizeFuncOptions().dim(-1).p(2));
}

}  // namespace

TextEmbeddings::TextEmbeddings(const WeightScope &scope, const blip2_config &config)
    : word_embeddings_(scope.scope("word_embeddings")
                           .tensor("weight", {config.qformer_vocab_size, config.qformer_hidden_size})),
      position_embeddings_(scope.scope("position_embeddings")
                               .tensor("weight", {config.qformer_max_position_embeddings,
                                                  config.qformer_hidden_size})) {}

torch::Tensor TextEmbeddings::forward(const torch::Tensor &ids) const {
    return torch::embedding(word_embeddings_, ids) +
           position_embeddings_.slice(0, 0, ids.size(1)).unsqueeze(0);
}

Blip2Model::Blip2Model(WeightStore &weights, const blip2_config &config, int parts)
    : config_(config),
      parts_(parts),
      vision_(scope_if(weights, "vision_model", parts & (BLIP2_PART_IMAGE | BLIP2_PART_ITM)),
              config),
      query_tokens_(scope_if(weights, "", parts & (BLIP2_PART_IMAGE | BLIP2_PART_ITM))
                        .tensor("query_tokens",
                                {1, config.num_query_tokens, config.qformer_hidden_size})),
      text_embeddings_(scope_if(weights, "embeddings", parts & (BLIP2_PART_TEXT | BLIP2_PART_ITM)),
                       config),
      qformer_(WeightScope(weights, "qformer"), config,
               QFormerPaths{(parts & (BLIP2_PART_IMAGE | BLIP2_PART_ITM)) != 0,
                            (parts & (BLIP2_PART_TEXT | BLIP2_PART_ITM)) != 0}),
      vision_projection_(Linear::load(scope_if(weights, "vision_projection",
                                               parts & BLIP2_PART_IMAGE),
                                      config.image_text_hidden_size, config.qformer_hidden_size)),
      text_projection_(Linear::load(scope_if(weights, "text_projection", parts & BLIP2_PART_TEXT),
                                    config.image_text_hidden_size, config.qformer_hidden_size)),
      itm_head_(Linear::load(scope_if(weights, "itm_head", parts & BLIP2_PART_ITM), 2,
                             config.qformer_hidden_size)) {
    weights.reject_unclaimed("Blip2ForImageTextRetrieval");
}

torch::Tensor Blip2Model::embed_images(const torch::Tensor &pixels) const {
    return embed_image_states(vision_.forward(pixels));
}

torch::Tensor Blip2Model::embed_image_states(const torch::Tensor &states) const {
    torch::Tensor queries = query_tokens_.expand({states.size(0), -1, -1});
    torch::Tensor hidden = qformer_.forward(queries, torch::Tensor(), states, config_.num_query_tokens);
    return normalized(vision_projection_(hidden));
}

torch::Tensor Blip2Model::embed_texts(const torch::Tensor &ids, const torch::Tensor &mask) const {
    torch::Tensor hidden = qformer_.forward(text_embeddings_.forward(ids), mask, torch::Tensor(), 0);
    return normalized(text_projection_(hidden.select(1, 0)));  // the [CLS] position
}

torch::Tensor Blip2Model::match(const torch::Tensor &states, const torch::Tensor &ids,
                                const torch::Tensor &mask) const {
    const int64_t texts = ids.size(0);
    const int64_t queries = config_.num_query_tokens;
    torch::Tensor image_states = states.expand({texts, -1, -1});
    torch::Tensor embeds = torch::cat(
        {query_tokens_.expand({texts, -1, -1}), text_embeddings_.forward(ids)}, 1);
    torch::Tensor full_mask = torch::cat({torch::ones({texts, queries}, mask.options()), mask}, 1);
    torch::Tensor hidden = qformer_.forward(embeds, full_mask, image_states, queries);
    torch::Tensor logits = itm_head_(hidden.slice(1, 0, queries)).mean(1);  // [N,2]
    return torch::softmax(logits.to(torch::kFloat32), -1).select(1, 1);
}

}  // namespace blip2
