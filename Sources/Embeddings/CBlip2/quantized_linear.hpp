// Int8 linear layers for the CPU: weights quantised per output channel, activations per token
// at each call, channels with outlying activations kept exact.
#pragma once

#include <memory>

#include <torch/torch.h>

namespace blip2 {

class Int8Product;

/**
 * y = x Wᵀ with W held in int8 (symmetric, one scale per output channel) in oneDNN's own
 * layout, and x quantised to int8 at each call, multiplied by oneDNN's int8 matrix product
 * (VNNI where the CPU has it). Two measures keep trained vision transformers accurate,
 * whose activations have a few channels tens of times larger than the rest:
 *
 * - Per-token scales: each row of x is quantised with its own scale (its largest
 *   magnitude), and the product's row multiplied back, so a loud token does not flatten
 *   the quiet ones.
 * - Outlier channels: input channels whose largest magnitude exceeds kOutlierRatio times
 *   the median channel's are taken out of the int8 product and multiplied exactly, in fp32,
 *   by their weight columns (recovered from the int8 weights with a one-hot product, so no
 *   second copy of W is kept).
 *
 * Safe to use from several threads after `quantize`.
 */
class Int8Linear {
public:
    /** A channel is an outlier above this multiple of the median channel's peak. */
    static constexpr double kOutlierRatio = 6.0;

    /**
     * Quantises `weight` (fp32 [out, in] on the CPU); fails when this build has no oneDNN or
     * oneDNN has no fast int8 product for this CPU.
     */
    static std::shared_ptr<const Int8Linear> quantize(const torch::Tensor &weight);

    /** x [..., in] fp32 to x Wᵀ + bias [..., out] fp32; `bias` [out] may be undefined. */
    torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &bias) const;

    /** The per-channel weight scales: what identifies the weights (fingerprints). */
    const torch::Tensor &scales() const { return scales_; }

    ~Int8Linear();

private:
    Int8Linear(std::unique_ptr<Int8Product> product, torch::Tensor scales, int64_t in_features);

    /** W[:, columns]ᵀ [k, out] as the int8 weights hold it. */
    torch::Tensor weight_columns(const torch::Tensor &columns) const;

    std::unique_ptr<Int8Product> product_;
    torch::Tensor scales_;
    int64_t in_features_;
};

/**
 * A bf16 tensor widened to fp32 (a bit shift per element, on all threads), into a buffer
 * the calling thread reuses: valid until its next widen_bf16.
 */
torch::Tensor widen_bf16(const torch::Tensor &tensor);

}  // namespace blip2
