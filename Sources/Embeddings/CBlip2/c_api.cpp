// The C boundary of the retrieval model: every entry point runs inside `guarded`
// (c_api_support.hpp), so no exception crosses it.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "blip2.h"
#include "blip2_error.hpp"
#include "blip2_model.hpp"
#include "c_api_support.hpp"

struct blip2_model {
    std::unique_ptr<blip2::Blip2Model> model;
    torch::Device device;
    torch::Dtype dtype;
    const char *precision;
};

namespace {

using blip2::Error;
using blip2::guarded;

void require(const blip2_model *model, int parts, const char *what) {
    if (model == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "model is NULL");
    if (!model->model->has_parts(parts)) {
        throw Error(BLIP2_ERROR_NOT_LOADED, std::string(what) + " needs a part of the model that was not loaded");
    }
}

torch::Tensor pixels_tensor(const blip2_model *model, const float *pixels, int64_t count) {
    const int64_t side = model->model->config().image_size;
    if (pixels == nullptr || count <= 0) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no pixels given");
    torch::Tensor host = torch::from_blob(const_cast<float *>(pixels), {count, 3, side, side},
                                          torch::kFloat32);
    return host.to(model->device, model->dtype);
}

std::pair<torch::Tensor, torch::Tensor> text_tensors(const blip2_model *model, const int64_t *ids,
                                                     const int64_t *mask, int64_t count,
                                                     int64_t length) {
    const blip2_config &config = model->model->config();
    if (ids == nullptr || mask == nullptr || count <= 0 || length <= 0) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no token ids given");
    }
    if (length > config.qformer_max_position_embeddings) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "text of " + std::to_string(length) + " tokens exceeds the model's limit of " +
                        std::to_string(config.qformer_max_position_embeddings));
    }
    for (int64_t i = 0; i < count * length; ++i) {
        if (ids[i] < 0 || ids[i] >= config.qformer_vocab_size) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "token id " + std::to_string(ids[i]) +
                                                          " is outside the vocabulary");
        }
    }
    auto options = torch::TensorOptions().dtype(torch::kInt64);
    torch::Tensor id_tensor = torch::from_blob(const_cast<int64_t *>(ids), {count, length}, options);
    torch::Tensor mask_tensor = torch::from_blob(const_cast<int64_t *>(mask), {count, length}, options);
    return {id_tensor.to(model->device), mask_tensor.to(model->device)};
}

void copy_out(const torch::Tensor &result, float *out) {
    torch::Tensor host = result.to(torch::kCPU, torch::kFloat32).contiguous();
    std::memcpy(out, host.data_ptr<float>(), host.numel() * sizeof(float));
}

}  // namespace

extern "C" {

blip2_load_params blip2_default_load_params(void) {
    blip2_load_params params;
    params.device = "auto";
    params.dtype = BLIP2_DTYPE_AUTO;
    params.parts = BLIP2_PART_ALL;
    return params;
}

blip2_model *blip2_model_load(const char *snapshot_dir, const blip2_config *config,
                              const blip2_load_params *params, blip2_error *err) {
    blip2_model *loaded = nullptr;
    guarded(err, [&] {
        if (snapshot_dir == nullptr || config == nullptr) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "snapshot directory and config are required");
        }
        const blip2_load_params chosen = params ? *params : blip2_default_load_params();
        if (chosen.parts <= 0 || chosen.parts > BLIP2_PART_ALL) {
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "parts must be a mask of blip2_parts");
        }
        blip2::check_config(*config);
        const blip2::Placement placement = blip2::resolve_placement(chosen);
        if (placement.device.is_cpu()) blip2::keep_activations_in_heap();
        c10::InferenceMode inference;
        blip2::WeightStore weights(blip2::SafetensorsArchive::open_snapshot(snapshot_dir), placement.device,
                                   placement.compute, placement.format);
        auto model = std::make_unique<blip2::Blip2Model>(weights, *config, chosen.parts);
        loaded = new blip2_model{std::move(model), placement.device, placement.compute, placement.precision};
    });
    return loaded;
}

void blip2_model_free(blip2_model *model) { delete model; }

int blip2_model_describe(const blip2_model *model, char *device, size_t device_len, char *dtype,
                         size_t dtype_len) {
    if (model == nullptr) return BLIP2_ERROR_INVALID_ARGUMENT;
    if (device != nullptr && device_len > 0) {
        std::snprintf(device, device_len, "%s", model->device.str().c_str());
    }
    if (dtype != nullptr && dtype_len > 0) {
        std::snprintf(dtype, dtype_len, "%s", model->precision);
    }
    return BLIP2_OK;
}

int blip2_embed_images(const blip2_model *model, const float *pixels, int64_t count, float *out,
                       blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_IMAGE, "image embedding");
        c10::InferenceMode inference;
        copy_out(model->model->embed_images(pixels_tensor(model, pixels, count)), out);
    });
}

int blip2_embed_texts(const blip2_model *model, const int64_t *ids, const int64_t *mask,
                      int64_t count, int64_t length, float *out, blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_TEXT, "text embedding");
        c10::InferenceMode inference;
        auto [id_tensor, mask_tensor] = text_tensors(model, ids, mask, count, length);
        copy_out(model->model->embed_texts(id_tensor, mask_tensor), out);
    });
}

int blip2_match(const blip2_model *model, const float *pixels, const int64_t *ids,
                const int64_t *mask, int64_t count, int64_t length, float *out_probabilities,
                float *out_image_embedding, blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_ITM, "image-text matching");
        if (out_image_embedding != nullptr) require(model, BLIP2_PART_IMAGE, "image embedding");
        c10::InferenceMode inference;
        auto [id_tensor, mask_tensor] = text_tensors(model, ids, mask, count, length);
        torch::Tensor states = model->model->image_states(pixels_tensor(model, pixels, 1));
        copy_out(model->model->match(states, id_tensor, mask_tensor), out_probabilities);
        if (out_image_embedding != nullptr) {
            copy_out(model->model->embed_image_states(states), out_image_embedding);
        }
    });
}

int blip2_model_vision_fingerprint(const blip2_model *model, uint64_t *out, blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_IMAGE, "the vision fingerprint");
        if (out == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no output given");
        c10::InferenceMode inference;
        *out = model->model->vision().encoder_fingerprint();
    });
}

int blip2_model_vision_shape(const blip2_model *model, int64_t *tokens, int64_t *hidden, blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_IMAGE, "the vision shape");
        if (tokens == nullptr || hidden == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no output given");
        *tokens = model->model->vision().tokens();
        *hidden = model->model->vision().hidden_size();
    });
}

int blip2_encode_vision(const blip2_model *model, const float *pixels, int64_t count, float *out_states,
                        blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_IMAGE, "vision encoding");
        if (out_states == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no output given");
        c10::InferenceMode inference;
        copy_out(model->model->vision().encode(pixels_tensor(model, pixels, count)), out_states);
    });
}

int blip2_embed_encoded_images(const blip2_model *model, const float *states, int64_t count, float *out,
                               blip2_error *err) {
    return guarded(err, [&] {
        require(model, BLIP2_PART_IMAGE, "image embedding");
        if (states == nullptr || count <= 0 || out == nullptr) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "no states given");
        c10::InferenceMode inference;
        const blip2::VisionTower &vision = model->model->vision();
        torch::Tensor encoded = torch::from_blob(const_cast<float *>(states), {count, vision.tokens(), vision.hidden_size()},
                                                 torch::kFloat32)
                                    .to(model->device, model->dtype);
        copy_out(model->model->embed_encoded_images(encoded), out);
    });
}

void blip2_set_num_threads(int32_t threads) {
    if (threads > 0) torch::set_num_threads(threads);
}

int32_t blip2_get_num_threads(void) { return static_cast<int32_t>(torch::get_num_threads()); }

int32_t blip2_cuda_available(void) {
    try {
        return torch::cuda::is_available() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

}  // extern "C"
