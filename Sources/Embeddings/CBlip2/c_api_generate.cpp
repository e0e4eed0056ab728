// The C boundary of the captioning engine (blip2_generate.h); every entry point runs
// inside `guarded`, so no exception crosses it.
#include <cstring>
#include <memory>
#include <vector>

#include "blip2_generate.h"
#include "blip2_generator.hpp"
#include "c_api_support.hpp"
#include "generation.hpp"

struct blip2_generator {
    std::unique_ptr<blip2::Blip2Generator> model;
    torch::Device device;
    torch::Dtype dtype;
    const char *precision;
};

namespace {

using blip2::Error;
using blip2::guarded;

/** Prompt rows [count, length] on the generator's device, after checking ids and mask. */
struct PromptRows {
    torch::Tensor ids, mask;
};

PromptRows prompt_rows(const blip2_generator *generator, int64_t count, const int64_t *ids, const int64_t *mask,
                       int64_t length) {
    if (generator == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "generator is NULL");
    if (count <= 0) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no images given");
    if (ids == nullptr || mask == nullptr || length <= 0) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no prompt ids given");
    const int64_t vocab = generator->model->language_config().vocab_size;
    for (int64_t i = 0; i < count * length; ++i) {
        if (ids[i] < 0 || ids[i] >= vocab) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                        "token id " + std::to_string(ids[i]) + " is outside the vocabulary of " + std::to_string(vocab));
        }
        if (mask[i] != 0 && mask[i] != 1) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "mask values must be 0 or 1");
    }
    auto longs = torch::TensorOptions().dtype(torch::kInt64);
    return {torch::from_blob(const_cast<int64_t *>(ids), {count, length}, longs).to(generator->device),
            torch::from_blob(const_cast<int64_t *>(mask), {count, length}, longs).to(generator->device)};
}

/** `values` float32 of `shape` on the generator's device and dtype. */
torch::Tensor placed(const blip2_generator *generator, const float *values, std::vector<int64_t> shape) {
    if (values == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no image input given");
    return torch::from_blob(const_cast<float *>(values), shape, torch::kFloat32).to(generator->device, generator->dtype);
}

torch::Tensor pixel_tensor(const blip2_generator *generator, const float *pixels, int64_t count) {
    const int64_t side = generator->model->config().image_size;
    return placed(generator, pixels, {count, 3, side, side});
}

/** Generates from the projected image queries and writes blip2_generate's outputs. */
void generate_into(const blip2_generator *generator, const torch::Tensor &queries, const PromptRows &rows,
                   const blip2_generation_params *params, int64_t *out_tokens, int64_t *out_lengths) {
    const blip2::Blip2Generator &model = *generator->model;
    auto [embeds, full_mask] = model.prompt(queries, rows.ids, rows.mask);
    std::vector<std::vector<int64_t>> generated = blip2::generate_tokens(model.language_model(), embeds, full_mask, *params);
    for (size_t row = 0; row < generated.size(); ++row) {
        const std::vector<int64_t> &tokens = generated[row];
        out_lengths[row] = static_cast<int64_t>(tokens.size());
        for (int64_t i = 0; i < params->max_new_tokens; ++i) {
            out_tokens[row * params->max_new_tokens + i] =
                i < static_cast<int64_t>(tokens.size()) ? tokens[i] : params->pad_token_id;
        }
    }
}

void require_outputs(const blip2_generation_params *params, const int64_t *out_tokens, const int64_t *out_lengths) {
    if (params == nullptr || out_tokens == nullptr || out_lengths == nullptr) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "generation parameters and outputs are required");
    }
}

}  // namespace

extern "C" {

blip2_generation_params blip2_default_generation_params(void) {
    blip2_generation_params params;
    params.max_new_tokens = 20;
    params.min_new_tokens = 0;
    params.num_beams = 1;
    params.length_penalty = 1.0f;
    params.repetition_penalty = 1.0f;
    params.no_repeat_ngram_size = 0;
    params.do_sample = 0;
    params.temperature = 1.0f;
    params.top_k = 0;
    params.top_p = 1.0f;
    params.seed = 0;
    params.eos_token_id = -1;
    params.pad_token_id = -1;
    params.decoder_start_token_id = -1;
    params.should_stop = nullptr;
    params.should_stop_context = nullptr;
    return params;
}

blip2_generator *blip2_generator_load(const char *snapshot_dir, const blip2_config *config,
                                      const blip2_language_config *language,
                                      const blip2_load_params *params, blip2_error *err) {
    blip2_generator *loaded = nullptr;
    guarded(err, [&] {
        if (snapshot_dir == nullptr || config == nullptr || language == nullptr) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "snapshot directory and configs are required");
        }
        const blip2_load_params chosen = params ? *params : blip2_default_load_params();
        blip2::check_config(*config);
        blip2::check_language_config(*language);
        const blip2::Placement placement = blip2::resolve_placement(chosen);
        if (language->kind == BLIP2_LANGUAGE_T5 && placement.compute == torch::kFloat16) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                        "Flan-T5 overflows in fp16 (transformers keeps parts of it in fp32; LAVIS runs it in "
                        "bf16): use bf16 or fp32");
        }
        if (placement.device.is_cpu()) blip2::keep_activations_in_heap();
        c10::InferenceMode inference;
        blip2::WeightStore weights(blip2::SafetensorsArchive::open_snapshot(snapshot_dir), placement.device,
                                   placement.compute, placement.format);
        auto model = std::make_unique<blip2::Blip2Generator>(weights, *config, *language);
        loaded = new blip2_generator{std::move(model), placement.device, placement.compute, placement.precision};
    });
    return loaded;
}

void blip2_generator_free(blip2_generator *generator) { delete generator; }

int blip2_generator_describe(const blip2_generator *generator, char *device, size_t device_len, char *dtype,
                             size_t dtype_len) {
    if (generator == nullptr) return BLIP2_ERROR_INVALID_ARGUMENT;
    if (device != nullptr && device_len > 0) std::snprintf(device, device_len, "%s", generator->device.str().c_str());
    if (dtype != nullptr && dtype_len > 0) std::snprintf(dtype, dtype_len, "%s", generator->precision);
    return BLIP2_OK;
}

int blip2_generate(const blip2_generator *generator, const float *pixels, int64_t count, const int64_t *ids,
                   const int64_t *mask, int64_t length, const blip2_generation_params *params,
                   int64_t *out_tokens, int64_t *out_lengths, blip2_error *err) {
    return guarded(err, [&] {
        require_outputs(params, out_tokens, out_lengths);
        PromptRows rows = prompt_rows(generator, count, ids, mask, length);
        c10::InferenceMode inference;
        torch::Tensor queries = generator->model->image_queries(pixel_tensor(generator, pixels, count));
        generate_into(generator, queries, rows, params, out_tokens, out_lengths);
    });
}

int blip2_generate_from_encoded(const blip2_generator *generator, const float *states, int64_t count,
                                const int64_t *ids, const int64_t *mask, int64_t length,
                                const blip2_generation_params *params, int64_t *out_tokens, int64_t *out_lengths,
                                blip2_error *err) {
    return guarded(err, [&] {
        require_outputs(params, out_tokens, out_lengths);
        PromptRows rows = prompt_rows(generator, count, ids, mask, length);
        c10::InferenceMode inference;
        const blip2::VisionTower &vision = generator->model->vision();
        torch::Tensor encoded = placed(generator, states, {count, vision.tokens(), vision.hidden_size()});
        generate_into(generator, generator->model->encoded_image_queries(encoded), rows, params, out_tokens, out_lengths);
    });
}

int blip2_generator_vision_fingerprint(const blip2_generator *generator, uint64_t *out, blip2_error *err) {
    return guarded(err, [&] {
        if (generator == nullptr || out == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "generator and output are required");
        c10::InferenceMode inference;
        *out = generator->model->vision().encoder_fingerprint();
    });
}

int blip2_generator_first_logits(const blip2_generator *generator, const float *pixels, int64_t count,
                                 const int64_t *ids, const int64_t *mask, int64_t length,
                                 int64_t decoder_start_token_id, float *out_logits, blip2_error *err) {
    return guarded(err, [&] {
        if (out_logits == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no output buffer given");
        PromptRows rows = prompt_rows(generator, count, ids, mask, length);
        c10::InferenceMode inference;
        const blip2::Blip2Generator &model = *generator->model;
        auto [embeds, full_mask] = model.prompt(model.image_queries(pixel_tensor(generator, pixels, count)), rows.ids, rows.mask);
        blip2::KeyValueCache cache;
        torch::Tensor logits = model.language_model().start(embeds, full_mask, decoder_start_token_id, cache);
        torch::Tensor host = logits.to(torch::kCPU, torch::kFloat32).contiguous();
        std::memcpy(out_logits, host.data_ptr<float>(), host.numel() * sizeof(float));
    });
}

}  // extern "C"
