// Int8 linear layers for the CPU: weights quantised per output channel, activations per token
// at each call, channels with outlying activations kept exact.
#pragma once

#include <memory>

#include <torch/torch.h>

struct LinearPackedParamsBase;

namespace blip2 {

/**
 * y = x Wᵀ with W held in int8 (symmetric, one scale per output channel) in the layout of
 * libtorch's quantized engine (oneDNN here, FBGEMM where that is the one built), and x
 * quantised dynamically. Two measures keep trained vision transformers accurate, whose
 * activations have a few channels tens of times larger than the rest:
 *
 * - Per-token scales: each row of x is divided by its own largest magnitude before the
 *   engine's per-tensor quantisation and the result multiplied back, so a loud token does
 *   not flatten the quiet ones.
 * - Outlier channels: input channels whose largest magnitude exceeds kOutlierRatio times
 *   the median channel's are taken out of the int8 product and multiplied exactly, in fp32,
 *   by their weight columns (recovered from the packed weights with a one-hot product, so
 *   no second copy of W is kept).
 *
 * Immutable after `quantize`, so it can be used from several threads.
 */
class Int8Linear {
public:
    /** A channel is an outlier above this multiple of the median channel's peak. */
    static constexpr double kOutlierRatio = 6.0;

    /** Quantises `weight` (fp32 [out, in] on the CPU); fails when no quantized engine exists. */
    static std::shared_ptr<const Int8Linear> quantize(const torch::Tensor &weight);

    /** x [..., in] fp32 to x Wᵀ + bias [..., out] fp32; `bias` [out] may be undefined. */
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &bias) const;

    /** The per-channel weight scales: what identifies the weights (fingerprints). */
    const torch::Tensor &scales() const { return scales_; }

private:
    Int8Linear(c10::intrusive_ptr<LinearPackedParamsBase> packed, torch::Tensor scales, int64_t in_features);

    /** W[:, columns]ᵀ [k, out] as the packed weights hold it. */
    torch::Tensor weight_columns(const torch::Tensor &columns) const;

    c10::intrusive_ptr<LinearPackedParamsBase> packed_;
    torch::Tensor scales_;
    int64_t in_features_;
};

/**
 * A bf16 tensor widened to fp32 (a bit shift per element, on all threads), into a buffer
 * the calling thread reuses: valid until its next widen_bf16 or int8 forward.
 */
torch::Tensor widen_bf16(const torch::Tensor &tensor);

}  // namespace blip2
