#include "vision_tower.hpp"

#include <cmath>
#include <cstring>

#include "blip2_error.hpp"

namespace blip2 {
namespace {

/**
 * The qkv bias as one [3H] vector. transformers saves it fused as cat(q_bias, 0, v_bias);
 * checkpoints converted from LAVIS keep `q_bias` and `v_bias` apart, fused here the same way.
 */
torch::Tensor fused_qkv_bias(const WeightScope &scope, int64_t hidden) {
    if (scope.contains("qkv.bias") || !scope.contains("q_bias")) {
        return scope.scope("qkv").tensor("bias", {3 * hidden});
    }
    torch::Tensor q_bias = scope.tensor("q_bias", {hidden});
    torch::Tensor v_bias = scope.tensor("v_bias", {hidden});
    if (!scope.materialized()) return torch::Tensor();
    return torch::cat({q_bias, torch::zeros_like(q_bias), v_bias});
}

/**
 * FNV-1a over 64-bit words in four interleaved lanes (a dependent multiply per word would
 * read ~3 GB/s; four lanes keep up with memory), folded at the end. Not cryptographic: it
 * tells identical weights from different ones, not an adversary's collisions.
 */
class TensorHash {
public:
    void add(uint64_t word) { mix(lanes_[next_++ % 4], word); }

    /** Dtype, shape and bytes of `tensor` (absent: a marker). */
    void add(const torch::Tensor &tensor) {
        if (!tensor.defined()) return add(~0ull);
        add(static_cast<uint64_t>(tensor.scalar_type()));
        for (int64_t size : tensor.sizes()) add(static_cast<uint64_t>(size));
        torch::Tensor host = tensor.to(torch::kCPU).contiguous();
        const auto *bytes = static_cast<const unsigned char *>(host.data_ptr());
        const size_t length = host.numel() * host.element_size();
        size_t offset = 0;
        for (; offset + 32 <= length; offset += 32) {
            uint64_t words[4];
            std::memcpy(words, bytes + offset, sizeof(words));
            for (int lane = 0; lane < 4; ++lane) mix(lanes_[lane], words[lane]);
        }
        for (; offset < length; ++offset) add(bytes[offset]);
    }

    uint64_t value() const {
        uint64_t folded = kOffset;
        for (uint64_t lane : lanes_) mix(folded, lane);
        return folded;
    }

private:
    static constexpr uint64_t kOffset = 14695981039346656037ull;
    static constexpr uint64_t kPrime = 1099511628211ull;
    static void mix(uint64_t &lane, uint64_t word) {
        lane ^= word;
        lane *= kPrime;
        lane ^= lane >> 32;
    }

    uint64_t lanes_[4] = {kOffset, kOffset ^ 1, kOffset ^ 2, kOffset ^ 3};
    size_t next_ = 0;
};

}  // namespace

VisionAttention::VisionAttention(const WeightScope &scope, const blip2_config &config)
    : qkv_(Linear::load(scope.scope("qkv"), 3 * config.vision_hidden_size,
                        config.vision_hidden_size, /*with_bias=*/false)),
      projection_(Linear::load(scope.scope("projection"), config.vision_hidden_size,
                               config.vision_hidden_size)),
      heads_(config.vision_num_heads),
      scale_(1.0 / std::sqrt(static_cast<double>(config.vision_hidden_size /
                                                 config.vision_num_heads))) {
    if (config.vision_qkv_bias) qkv_.bias = fused_qkv_bias(scope, config.vision_hidden_size);
}

torch::Tensor VisionAttention::forward(const torch::Tensor &x) const {
    const int64_t batch = x.size(0), tokens = x.size(1), hidden = x.size(2);
    // [B,T,3H] -> [3,B,heads,T,head_dim], the head-major q|k|v layout of the checkpoint.
    torch::Tensor qkv =
        qkv_(x).reshape({batch, tokens, 3, heads_, hidden / heads_}).permute({2, 0, 3, 1, 4});
    torch::Tensor context = attention(qkv[0], qkv[1], qkv[2], torch::Tensor(), scale_);
    return projection_(merge_heads(context));
}

VisionLayer::VisionLayer(const WeightScope &scope, const blip2_config &config)
    : layer_norm1_(LayerNorm::load(scope.scope("layer_norm1"), config.vision_hidden_size,
                                   config.vision_layer_norm_eps)),
      attention_(scope.scope("self_attn"), config),
      layer_norm2_(LayerNorm::load(scope.scope("layer_norm2"), config.vision_hidden_size,
                                   config.vision_layer_norm_eps)),
      fc1_(Linear::load(scope.scope("mlp.fc1"), config.vision_intermediate_size,
                        config.vision_hidden_size)),
      fc2_(Linear::load(scope.scope("mlp.fc2"), config.vision_hidden_size,
                        config.vision_intermediate_size)) {}

torch::Tensor VisionLayer::forward(torch::Tensor x) const {
    x = x + attention_.forward(layer_norm1_(x));
    return x + mlp(layer_norm2_(x));
}

torch::Tensor VisionLayer::mlp(const torch::Tensor &x) const {
    if (fc1_.widens(x) && fc2_.widens(x)) return widened_mlp(fc1_, fc2_, x, kWidenedMlpBlock);
    const int64_t images = x.size(0);
    if (!x.is_cpu() || images <= kMlpImages) {
        torch::Tensor hidden = fc1_(x);
        return fc2_(torch::gelu_(hidden));
    }
    torch::Tensor out = torch::empty_like(x);
    for (int64_t first = 0; first < images; first += kMlpImages) {
        const int64_t count = std::min(kMlpImages, images - first);
        torch::Tensor hidden = fc1_(x.narrow(0, first, count));
        out.narrow(0, first, count).copy_(fc2_(torch::gelu_(hidden)));
    }
    return out;
}

VisionTower::VisionTower(const WeightScope &scope, const blip2_config &config)
    : patch_size_(config.patch_size),
      post_layernorm_(LayerNorm::load(scope.scope("post_layernorm"), config.vision_hidden_size,
                                      config.vision_layer_norm_eps)) {
    const int64_t hidden = config.vision_hidden_size;
    const int64_t side = config.image_size / config.patch_size;
    const WeightScope embeddings = scope.scope("embeddings");
    class_embedding_ = embeddings.tensor("class_embedding", {1, 1, hidden});
    position_embedding_ = embeddings.tensor("position_embedding", {1, side * side + 1, hidden});
    patch_weight_ = embeddings.scope("patch_embedding")
                        .tensor("weight", {hidden, 3, config.patch_size, config.patch_size});
    patch_bias_ = embeddings.scope("patch_embedding").tensor("bias", {hidden});
    layers_.reserve(config.vision_num_layers);
    for (int64_t i = 0; i < config.vision_num_layers; ++i) {
        layers_.emplace_back(scope.scope("encoder.layers", i).quantizable(), config);
    }
}

torch::Tensor VisionTower::encode(const torch::Tensor &pixels) const {
    torch::Tensor patches =
        torch::conv2d(pixels, patch_weight_, patch_bias_, {patch_size_, patch_size_});
    patches = patches.flatten(2).transpose(1, 2);  // [B,P,H], row-major patch order
    torch::Tensor cls = class_embedding_.expand({pixels.size(0), 1, class_embedding_.size(2)});
    torch::Tensor x = torch::cat({cls, patches}, 1) + position_embedding_;
    for (const VisionLayer &layer : layers_) x = layer.forward(x);
    return x;
}

void VisionAttention::append_weights(std::vector<torch::Tensor> &weights) const {
    weights.insert(weights.end(), {qkv_.identity(), qkv_.bias, projection_.identity(), projection_.bias});
}

void VisionLayer::append_weights(std::vector<torch::Tensor> &weights) const {
    weights.insert(weights.end(), {layer_norm1_.weight, layer_norm1_.bias, layer_norm2_.weight, layer_norm2_.bias,
                                   fc1_.identity(), fc1_.bias, fc2_.identity(), fc2_.bias});
    attention_.append_weights(weights);
}

uint64_t VisionTower::encoder_fingerprint() const {
    if (!position_embedding_.defined()) throw Error(BLIP2_ERROR_INVALID_ARGUMENT, "the vision tower is not loaded");
    std::vector<torch::Tensor> weights = {class_embedding_, position_embedding_, patch_weight_, patch_bias_};
    for (const VisionLayer &layer : layers_) layer.append_weights(weights);
    TensorHash hash;
    hash.add(static_cast<uint64_t>(position_embedding_.device().type()));
    for (const torch::Tensor &weight : weights) hash.add(weight);
    return hash.value();
}

}  // namespace blip2
