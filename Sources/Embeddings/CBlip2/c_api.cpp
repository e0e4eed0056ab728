// The C boundary: every entry point catches every exception and turns it into a
// blip2_status plus a message, as llama.cpp does around its C++ core.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "blip2.h"
#include "blip2_error.hpp"
#include "blip2_model.hpp"

struct blip2_model {
    std::unique_ptr<blip2::Blip2Model> model;
    torch::Device device;
    torch::Dtype dtype;
};

namespace {

using blip2::Error;

int fail(blip2_error *err, blip2_status status, const std::string &message) {
    if (err != nullptr) {
        err->code = status;
        std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
    }
    return status;
}

/** Runs `body`, mapping any exception to a status code and message. */
template <typename Body>
int guarded(blip2_error *err, Body body) {
    try {
        body();
        if (err != nullptr) {
            err->code = BLIP2_OK;
            err->message[0] = '\0';
        }
        return BLIP2_OK;
    } catch (const Error &e) {
        return fail(err, e.status(), e.what());
    } catch (const c10::Error &e) {
        return fail(err, BLIP2_ERROR_RUNTIME, std::string("libtorch: ") + e.what_without_backtrace());
    } catch (const std::bad_alloc &) {
        return fail(err, BLIP2_ERROR_RUNTIME, "out of memory");
    } catch (const std::exception &e) {
        return fail(err, BLIP2_ERROR_RUNTIME, e.what());
    } catch (...) {
        return fail(err, BLIP2_ERROR_RUNTIME, "unknown C++ exception");
    }
}

torch::Device resolve_device(const char *requested) {
    std::string name = requested == nullptr ? "auto" : requested;
    if (name == "auto") {
        return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    }
    if (name == "cpu") return torch::Device(torch::kCPU);
    if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available()) {
            throw Error(BLIP2_ERROR_DEVICE,
                        "device " + name + " requested, but the linked libtorch has no usable CUDA "
                        "(build against a CUDA libtorch with IMGSEARCH_LIBTORCH, see README)");
        }
        int64_t index = 0;
        if (name.size() > 5) {
            try {
                size_t used = 0;
                index = std::stoll(name.substr(5), &used);
                if (used != name.size() - 5 || index < 0) throw std::invalid_argument(name);
            } catch (const std::exception &) {
                throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "invalid device \"" + name + "\"");
            }
        }
        const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
        if (index >= count) {
            throw Error(BLIP2_ERROR_DEVICE, "device " + name + " requested, but only " +
                                                std::to_string(count) + " CUDA device(s) exist");
        }
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                "invalid device \"" + name + "\": use auto, cpu, cuda or cuda:N");
}

torch::Dtype resolve_dtype(int32_t requested, const torch::Device &device) {
    switch (requested) {
        case BLIP2_DTYPE_AUTO: return device.is_cuda() ? torch::kFloat16 : torch::kFloat32;
        case BLIP2_DTYPE_FP32: return torch::kFloat32;
        case BLIP2_DTYPE_BF16: return torch::kBFloat16;
        case BLIP2_DTYPE_FP16:
            if (device.is_cpu()) {
                throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                            "fp16 is not supported on the CPU: use fp32 or bf16");
            }
            return torch::kFloat16;
        default: throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "unknown dtype " + std::to_string(requested));
    }
}

void check_config(const blip2_config &c) {
    auto positive = [](int64_t value, const char *key) {
        if (value <= 0) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, std::string(key) + " must be positive");
    };
    positive(c.vision_hidden_size, "vision_config.hidden_size");
    positive(c.vision_intermediate_size, "vision_config.intermediate_size");
    positive(c.vision_num_layers, "vision_config.num_hidden_layers");
    positive(c.vision_num_heads, "vision_config.num_attention_heads");
    positive(c.image_size, "vision_config.image_size");
    positive(c.patch_size, "vision_config.patch_size");
    positive(c.qformer_hidden_size, "qformer_config.hidden_size");
    positive(c.qformer_intermediate_size, "qformer_config.intermediate_size");
    positive(c.qformer_num_layers, "qformer_config.num_hidden_layers");
    positive(c.qformer_num_heads, "qformer_config.num_attention_heads");
    positive(c.qformer_vocab_size, "qformer_config.vocab_size");
    positive(c.qformer_max_position_embeddings, "qformer_config.max_position_embeddings");
    positive(c.qformer_cross_attention_frequency, "qformer_config.cross_attention_frequency");
    positive(c.qformer_encoder_hidden_size, "qformer_config.encoder_hidden_size");
    positive(c.num_query_tokens, "num_query_tokens");
    positive(c.image_text_hidden_size, "image_text_hidden_size");
    if (c.vision_hidden_size % c.vision_num_heads != 0) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "vision_config.hidden_size is not a multiple of num_attention_heads");
    }
    if (c.qformer_hidden_size % c.qformer_num_heads != 0) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "qformer_config.hidden_size is not a multiple of num_attention_heads");
    }
    if (c.image_size % c.patch_size != 0) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "vision_config.image_size is not a multiple of patch_size");
    }
    if (c.qformer_encoder_hidden_size != c.vision_hidden_size) {
        throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                    "qformer_config.encoder_hidden_size differs from vision_config.hidden_size");
    }
}

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
        check_config(*config);
        torch::Device device = resolve_device(chosen.device);
        torch::Dtype dtype = resolve_dtype(chosen.dtype, device);
        c10::InferenceMode inference;
        blip2::WeightStore weights(blip2::SafetensorsArchive::open_snapshot(snapshot_dir), device, dtype);
        auto model = std::make_unique<blip2::Blip2Model>(weights, *config, chosen.parts);
        loaded = new blip2_model{std::move(model), device, dtype};
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
        const char *name = model->dtype == torch::kFloat16    ? "fp16"
                           : model->dtype == torch::kBFloat16 ? "bf16"
                                                              : "fp32";
        std::snprintf(dtype, dtype_len, "%s", name);
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
