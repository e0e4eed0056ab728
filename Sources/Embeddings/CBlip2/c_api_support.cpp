#include "c_api_support.hpp"

#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace blip2 {

namespace {

/** "auto", "cpu", "cuda" or "cuda:N" to a device this libtorch has; throws Error otherwise. */
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

}  // namespace

Placement resolve_placement(const blip2_load_params &params) {
    const torch::Device device = resolve_device(params.device);
    const bool cpu = device.is_cpu();
    switch (params.dtype) {
        case BLIP2_DTYPE_AUTO:
            return cpu ? Placement{device, torch::kFloat32, WeightFormat::plain, "fp32"}
                       : Placement{device, torch::kFloat16, WeightFormat::plain, "fp16"};
        case BLIP2_DTYPE_FP32: return {device, torch::kFloat32, WeightFormat::plain, "fp32"};
        case BLIP2_DTYPE_BF16:
            return cpu ? Placement{device, torch::kFloat32, WeightFormat::bf16_linears, "bf16"}
                       : Placement{device, torch::kBFloat16, WeightFormat::plain, "bf16"};
        case BLIP2_DTYPE_FP16:
            if (cpu) {
                throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                            "fp16 is not supported on the CPU: use fp32, bf16 or int8");
            }
            return {device, torch::kFloat16, WeightFormat::plain, "fp16"};
        case BLIP2_DTYPE_INT8:
            if (!cpu) {
                throw Error(BLIP2_ERROR_INVALID_ARGUMENT,
                            "int8 is for the CPU: on " + device.str() + " use fp16 or bf16");
            }
            return {device, torch::kFloat32, WeightFormat::int8_linears, "int8"};
        default:
            throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "unknown dtype " + std::to_string(params.dtype));
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

void keep_activations_in_heap() {
#if defined(__GLIBC__)
    static std::once_flag once;
    std::call_once(once, [] { mallopt(M_MMAP_THRESHOLD, 64 << 20); });
#endif
}

}  // namespace blip2
