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

/** x's sizes with the last one replaced by `last`: a linear layer's output shape. */
inline std::vector<int64_t> sizes_with_last(const torch::Tensor &x, int64_t last) {
    std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
    sizes.back() = last;
    return sizes;
}

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
        if (widens(x)) return widened_product(x);
        const int64_t rows = x.numel() / x.size(-1);
        if (!x.is_cpu() || rows > kMatrixVectorRows) return torch::linear(x, weight, bias);
        return matrix_vector_rows(x.reshape({rows, x.size(-1)}), weight, bias).view(sizes_with_last(x, weight.size(0)));
    }
    /** Whether x's product widens a bf16 weight to x's fp32 first. */
    bool widens(const torch::Tensor &x) const { return !int8 && weight.scalar_type() != x.scalar_type(); }
    /** What identifies the weights for a fingerprint: the weight, or an int8 layer's scales. */
    const torch::Tensor &identity() const { return int8 ? int8->scales() : weight; }

private:
    /** A bf16 weight is widened at most this many elements at a time (12 MB of fp32). */
    static constexpr int64_t kWidenedElements = 3 << 20;

    /** x [rows, in] times wᵀ (+ b) one row at a time. */
    static torch::Tensor matrix_vector_rows(const torch::Tensor &x, const torch::Tensor &w, const torch::Tensor &b) {
        std::vector<torch::Tensor> outputs;
        outputs.reserve(x.size(0));
        for (int64_t row = 0; row < x.size(0); ++row) {
            outputs.push_back(b.defined() ? torch::addmv(b, w, x[row]) : torch::mv(w, x[row]));
        }
        return torch::stack(outputs);
    }

    /**
     * x Wᵀ + bias for a bf16 W on the CPU: W is widened to fp32 a block of output features
     * at a time, and each block's product written straight into its columns of the result,
     * so the fp32 copy is never a whole weight (35 MB for ViT-g's MLP).
     */
    torch::Tensor widened_product(const torch::Tensor &x) const {
        const int64_t out = weight.size(0), in = weight.size(1), rows = x.numel() / in;
        const int64_t blocks = (out * in + kWidenedElements - 1) / kWidenedElements;
        const int64_t block = (out + blocks - 1) / blocks;
        torch::Tensor flat = x.reshape({rows, in});
        torch::Tensor y = torch::empty({rows, out}, x.options());
        for (int64_t first = 0; first < out; first += block) {
            const int64_t count = std::min(block, out - first);
            torch::Tensor w = widen_bf16(weight.narrow(0, first, count));
            torch::Tensor b = bias.defined() ? bias.narrow(0, first, count) : torch::Tensor();
            torch::Tensor columns = y.narrow(1, first, count);
            if (rows <= kMatrixVectorRows) {
                columns.copy_(matrix_vector_rows(flat, w, b));
            } else if (b.defined()) {
                torch::addmm_out(columns, b, flat, w.t());
            } else {
                torch::mm_out(columns, flat, w.t());
            }
        }
        return y.view(sizes_with_last(x, weight.size(0)));
    }
};

/**
 * fc2(gelu(fc1(x))) with bf16 weights on the CPU, `block` hidden features at a time. GELU
 * acts on each feature alone, so fc2's product is a sum over blocks: each weight block is
 * widened to fp32 once, and the hidden activations (4× x; 50 MB for ViT-g at batch 8)
 * never exist whole.
 */
inline torch::Tensor widened_mlp(const Linear &fc1, const Linear &fc2, const torch::Tensor &x, int64_t block) {
    const int64_t hidden = fc1.weight.size(0), in = x.size(-1), out_features = fc2.weight.size(0);
    torch::Tensor flat = x.reshape({x.numel() / in, in});
    torch::Tensor out = fc2.bias.defined() ? fc2.bias.expand({flat.size(0), out_features}).clone()
                                           : torch::zeros({flat.size(0), out_features}, x.options());
    for (int64_t first = 0; first < hidden; first += block) {
        const int64_t count = std::min(block, hidden - first);
        torch::Tensor up = widen_bf16(fc1.weight.narrow(0, first, count));
        torch::Tensor h = fc1.bias.defined() ? torch::addmm(fc1.bias.narrow(0, first, count), flat, up.t())
                                             : torch::mm(flat, up.t());
        torch::gelu_(h);
        out.addmm_(h, widen_bf16(fc2.weight.narrow(1, first, count)).t());  // `up` is overwritten: used
    }
    return out.view(sizes_with_last(x, out_features));
}

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
    // One batch item at a time: its scores are the only [heads, T, S] ones alive, not B of
    // them twice over (score and softmax; 68 MB of ViT-g's peak at batch 8).
    // A [B or 1, ...] operand's item, as broadcasting would pick it.
    auto item_of = [](const torch::Tensor &t, int64_t item) { return t[t.size(0) == 1 ? 0 : item]; };
    const int64_t batch = std::max({q.size(0), k.size(0), v.size(0)});
    torch::Tensor context = torch::empty({batch, q.size(1), q.size(2), v.size(3)}, q.options());
    for (int64_t item = 0; item < batch; ++item) {
        torch::Tensor scores = torch::matmul(item_of(q, item), item_of(k, item).transpose(-1, -2)).mul_(scale);
        if (mask.defined()) scores = scores + (mask.dim() == 4 ? item_of(mask, item) : mask);
        torch::Tensor out = context[item];
        torch::matmul_out(out, torch::softmax(scores, -1), item_of(v, item));
    }
    return context;
#endif
}

}  // namespace blip2
