#include "blip2_generator.hpp"

#include "blip2_error.hpp"
#include "opt_decoder.hpp"
#include "t5_model.hpp"

namespace blip2 {
namespace {

std::unique_ptr<LanguageModel> load_language_model(const WeightScope &scope, const blip2_language_config &language) {
    if (language.kind == BLIP2_LANGUAGE_OPT) return std::make_unique<OptDecoder>(scope, language);
    return std::make_unique<T5Model>(scope, language);
}

}  // namespace

void check_language_config(const blip2_language_config &c) {
    auto invalid = [](const std::string &message) { return Error(BLIP2_ERROR_INVALID_ARGUMENT, message); };
    if (c.kind != BLIP2_LANGUAGE_OPT && c.kind != BLIP2_LANGUAGE_T5) throw invalid("unknown language model kind");
    const std::pair<int64_t, const char *> sizes[] = {
        {c.vocab_size, "text_config.vocab_size"}, {c.hidden_size, "text_config.hidden_size"},
        {c.num_layers, "text_config.num_layers"}, {c.num_heads, "text_config.num_heads"},
        {c.head_dim, "text_config head size"},    {c.ffn_size, "text_config feed-forward size"}};
    for (const auto &[value, name] : sizes) {
        if (value <= 0) throw invalid(std::string(name) + " must be positive");
    }
    if (c.kind == BLIP2_LANGUAGE_OPT) {
        if (c.head_dim * c.num_heads != c.hidden_size)
            throw invalid("text_config.num_attention_heads does not divide hidden_size");
        if (c.max_position_embeddings <= 0) throw invalid("text_config.max_position_embeddings must be positive");
    } else {
        if (c.num_decoder_layers <= 0) throw invalid("text_config.num_decoder_layers must be positive");
        if (c.relative_buckets < 2 || c.relative_max_distance <= c.relative_buckets / 4)
            throw invalid("text_config.relative_attention_num_buckets/max_distance are unusable");
        if (c.activation < BLIP2_ACTIVATION_RELU || c.activation > BLIP2_ACTIVATION_GELU_NEW)
            throw invalid("unknown text_config activation");
    }
    if (c.image_token_index >= c.vocab_size) throw invalid("image_token_index is outside text_config.vocab_size");
}

Blip2Generator::Blip2Generator(WeightStore &weights, const blip2_config &config,
                               const blip2_language_config &language)
    : config_(config),
      language_(language),
      vision_(WeightScope(weights, "vision_model"), config),
      query_tokens_(WeightScope(weights, "").tensor("query_tokens",
                                                    {1, config.num_query_tokens, config.qformer_hidden_size})),
      qformer_(WeightScope(weights, "qformer"), config,
               QFormerPaths{/*query=*/true, /*text=*/false, /*text_weights_present=*/false}),
      language_projection_(Linear::load(WeightScope(weights, "language_projection"), language.hidden_size,
                                        config.qformer_hidden_size)),
      language_model_(load_language_model(WeightScope(weights, "language_model"), language)) {
    weights.reject_unclaimed("Blip2ForConditionalGeneration");
}

torch::Tensor Blip2Generator::encoded_image_queries(const torch::Tensor &encoded) const {
    torch::Tensor states = vision_.finish(encoded);
    torch::Tensor queries = query_tokens_.expand({states.size(0), -1, -1});
    return language_projection_(qformer_.forward(queries, torch::Tensor(), states, config_.num_query_tokens));
}

std::pair<torch::Tensor, torch::Tensor> Blip2Generator::prompt(const torch::Tensor &queries,
                                                               const torch::Tensor &ids,
                                                               const torch::Tensor &mask) const {
    torch::Tensor text = language_model_->embed_tokens(ids);
    if (language_.image_token_index < 0) {
        torch::Tensor query_mask = torch::ones({ids.size(0), queries.size(1)}, mask.options());
        return {torch::cat({queries.to(text.scalar_type()), text}, 1), torch::cat({query_mask, mask}, 1)};
    }
    torch::Tensor placeholders = ids.eq(language_.image_token_index);
    torch::Tensor per_row = placeholders.sum(1);
    if (!per_row.eq(queries.size(1)).all().item<bool>()) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "every prompt row needs " + std::to_string(queries.size(1)) + " image placeholders (id " +
                        std::to_string(language_.image_token_index) + ")");
    }
    torch::Tensor embeds = text.masked_scatter(placeholders.unsqueeze(-1).expand_as(text),
                                               queries.to(text.scalar_type()));
    return {embeds, mask};
}

}  // namespace blip2
