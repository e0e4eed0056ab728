// The small building blocks every BLIP-2 part is made of, each built from a WeightScope.
#pragma once

#include <vector>

#include <torch/torch.h>
#include <torch/version.h>

#include "quantized_linear.hpp"
#include "weights.hpp"

namespace blip2 {

/**
 * At most this many input rows go through matrix-vector products on the CPU, one row at a
 * time. Decoding feeds one row per beam, and OpenBLAS's sgemm is slow for so few rows
 * (it packs the weight first): on this machine 6.3 GB/s of weights for one row against
 * 20.6 GB/s with sgemv, 4.4 against 5.1 for five (2 threads, a 10240×2560 weight).
 */
constexpr int64_t kMatrixVectorRows = 5;

/**
 * nn.Linear: `weight` [out, in], optional `bias` [out]. The weight is in the compute dtype,
 * or bf16 widened per call (WeightFormat::bf16_linears), or absent with `int8` holding it.
 */
struct Linear {
    torch::Tensor weight;
    torch::Tensor bias;
    std::shared_ptr<const Int8Linear> int8 = nullptr;

    static Linear load(const WeightScope &scope, int64_t out_features, int64_t in_features,
                       bool with_bias = true) {
        Linear linear;
        if (scope.quantized()) {
            linear.int8 = scope.int8_weight("weight", {out_features, in_features});
        } else {
            linear.weight = scope.linear_weight("weight", {out_features, in_features});
        }
        if (with_bias) linear.bias = scope.tensor("bias", {out_features});
        return linear;
    }
    torch::Tensor operator()(const torch::Tensor &x) const {
        if (int8) return int8->forward(x, bias);
        const torch::Tensor &w = weight.scalar_type() == x.scalar_type() ? weight : widen_bf16(weight);
        const int64_t rows = x.numel() / x.size(-1);
        if (!x.is_cpu() || rows > kMatrixVectorRows) return torch::linear(x, w, bias);
        torch::Tensor flat = x.reshape({rows, x.size(-1)});
        std::vector<torch::Tensor> outputs;
        outputs.reserve(rows);
        for (int64_t row = 0; row < rows; ++row) {
            outputs.push_back(bias.defined() ? torch::addmv(bias, w, flat[row]) : torch::mv(w, flat[row]));
        }
        std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
        shape.back() = w.size(0);
        return torch::stack(outputs).view(shape);
    }
    /** What identifies the weights for a fingerprint: the weight, or an int8 layer's scales. */
    const torch::Tensor &identity() const { return int8 ? int8->scales() : weight; }
};

/** nn.LayerNorm over the last dimension, with the config's epsilon. */
struct LayerNorm {
    torch::Tensor weight;
    torch::Tensor bias;
    double eps = 1e-5;

    static LayerNorm load(const WeightScope &scope, int64_t size, double eps) {
        LayerNorm norm;
        norm.weight = scope.tensor("weight", {size});
        norm.bias = scope.tensor("bias", {size});
        norm.eps = eps;
        return norm;
    }
    torch::Tensor operator()(const torch::Tensor &x) const {
        return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
    }
};

/** Splits [B, T, heads*head_dim] into [B, heads, T, head_dim]. */
inline torch::Tensor split_heads(const torch::Tensor &x, int64_t heads) {
    return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).permute({0, 2, 1, 3});
}

/** Inverse of split_heads: [B, heads, T, head_dim] to [B, T, heads*head_dim]. */
inline torch::Tensor merge_heads(const torch::Tensor &x) {
    return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

/**
 * Every attention of the model: softmax(q kᵀ · scale + mask) v over [B, heads, T, head_dim]
 * q and [B, heads, S, head_dim] k/v, with `mask` additive and broadcastable to [B, heads, T, S],
 * or undefined for none. libtorch 2.1 on (the first with an explicit `scale`) runs it as one
 * fused kernel, which on CUDA is ~45% faster in fp16/bf16 (H200, full-size ViT-g); older ones,
 * Debian's 1.13 among them, keep the plain matmul + softmax.
 */
inline torch::Tensor attention(const torch::Tensor &q, const torch::Tensor &k,
                               const torch::Tensor &v, const torch::Tensor &mask, double scale) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    return at::scaled_dot_product_attention(
        q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt,
        /*dropout_p=*/0.0, /*is_causal=*/false, scale);
#else
    torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) * scale;
    if (mask.defined()) scores = scores + mask;
    return torch::matmul(torch::softmax(scores, -1), v);
#endif
}

}  // namespace blip2
