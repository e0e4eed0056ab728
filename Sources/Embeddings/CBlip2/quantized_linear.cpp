#include "quantized_linear.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <cmath>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <vector>

#include "blip2_error.hpp"

namespace blip2 {
namespace {

using PackedLinear = c10::intrusive_ptr<LinearPackedParamsBase>;

/** Picks oneDNN, else FBGEMM, for the packing that follows; throws when neither exists. */
void select_quantized_engine() {
    const auto &engines = at::globalContext().supportedQEngines();
    for (at::QEngine engine : {at::QEngine::ONEDNN, at::QEngine::FBGEMM}) {
        if (std::find(engines.begin(), engines.end(), engine) != engines.end()) {
            if (at::globalContext().qEngine() != engine) at::globalContext().setQEngine(engine);
            return;
        }
    }
    throw Error(BLIP2_ERROR_DEVICE,
                "int8 needs a libtorch built with the oneDNN or FBGEMM quantized engine; this one has neither");
}

PackedLinear prepack(const torch::Tensor &quantized) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("quantized::linear_prepack", "")
                         .typed<PackedLinear(at::Tensor, c10::optional<at::Tensor>)>();
    return op.call(quantized, c10::nullopt);
}

/**
 * oneDNN's packed weights keep the int8 tensor they were packed from, for `unpack`, beside
 * their own reordered copy: twice the memory. Nothing here unpacks, so that tensor's bytes
 * are freed when `unpack` shows it is the one passed in (FBGEMM's unpack makes a new one).
 */
void free_retained_source(const PackedLinear &packed, const torch::Tensor &source) {
    torch::Tensor retained = std::get<0>(packed->unpack());
    if (!retained.storage().is_alias_of(source.storage())) return;
    c10::Storage storage = source.storage();
    storage.set_data_ptr_noswap(at::DataPtr(nullptr, source.device()));
    storage.set_nbytes(0);
}

}  // namespace

Int8Linear::Int8Linear(PackedLinear packed, torch::Tensor scales, int64_t in_features)
    : packed_(std::move(packed)), scales_(std::move(scales)), in_features_(in_features) {}

std::shared_ptr<const Int8Linear> Int8Linear::quantize(const torch::Tensor &weight) {
    select_quantized_engine();
    torch::Tensor scales = (weight.abs().amax(1) / 127.0).clamp_min(1e-12).to(torch::kDouble);
    torch::Tensor quantized = torch::quantize_per_channel(
        weight, scales, torch::zeros({weight.size(0)}, torch::kLong), 0, torch::kQInt8);
    PackedLinear packed = prepack(quantized);
    free_retained_source(packed, quantized);
#if defined(__GLIBC__)
    // glibc keeps the freed source in its heap, where later layers' allocations leave it
    // unused: resident memory was twice the int8 weights (2.4 GB for ViT-g) without this.
    malloc_trim(0);
#endif
    return std::shared_ptr<const Int8Linear>(
        new Int8Linear(std::move(packed), scales.to(torch::kFloat32), weight.size(1)));
}

torch::Tensor Int8Linear::weight_columns(const torch::Tensor &columns) const {
    torch::Tensor one_hot = torch::zeros({columns.size(0), in_features_}, torch::kFloat32);
    one_hot.scatter_(1, columns.unsqueeze(1), 1.0);
    return packed_->apply_dynamic(one_hot, /*reduce_range=*/false);
}

namespace {

/** The bits of |v|: for finite floats their order is the order of the magnitudes, and an
 *  integer max vectorises where a float max (NaN rules) does not. */
inline uint32_t magnitude_bits(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    return bits & 0x7fffffffu;
}

inline float from_bits(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
}

/** The largest magnitude of each column of `x` [rows, columns]: one read, no temporaries. */
torch::Tensor column_peaks(const torch::Tensor &x) {
    const int64_t rows = x.size(0), columns = x.size(1);
    const float *data = x.data_ptr<float>();
    const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows));
    std::vector<uint32_t> partial(parts * columns, 0);
    at::parallel_for(0, parts, 1, [&](int64_t first, int64_t last) {
        for (int64_t part = first; part < last; ++part) {
            uint32_t *peak = partial.data() + part * columns;
            for (int64_t row = rows * part / parts; row < rows * (part + 1) / parts; ++row) {
                const float *values = data + row * columns;
                for (int64_t column = 0; column < columns; ++column) {
                    peak[column] = std::max(peak[column], magnitude_bits(values[column]));
                }
            }
        }
    });
    torch::Tensor peaks = torch::empty({columns}, torch::kFloat32);
    float *out = peaks.data_ptr<float>();
    for (int64_t column = 0; column < columns; ++column) {
        uint32_t peak = 0;
        for (int64_t part = 0; part < parts; ++part) peak = std::max(peak, partial[part * columns + column]);
        out[column] = from_bits(peak);
    }
    return peaks;
}

/**
 * A float buffer of at least `count` elements owned by the calling thread and reused from
 * call to call: a fresh 50 MB tensor per layer costs more in page faults than its use.
 * What it holds is valid until the thread's next call.
 */
torch::Tensor thread_scratch(int64_t count, const std::vector<int64_t> &shape) {
    thread_local torch::Tensor scratch;
    if (!scratch.defined() || scratch.numel() < count) scratch = torch::empty({count}, torch::kFloat32);
    return scratch.narrow(0, 0, count).view(shape);
}

/**
 * Each row of `x` times `keep` (1 for a column kept, 0 for an outlier), divided by its
 * largest remaining magnitude (written to `scales` [rows, 1]), so every row spans [-1, 1].
 */
torch::Tensor scaled_rows(const torch::Tensor &x, const std::vector<float> &keep, torch::Tensor &scales) {
    const int64_t rows = x.size(0), columns = x.size(1);
    torch::Tensor scaled = thread_scratch(rows * columns, {rows, columns});
    scales = torch::empty({rows, 1}, torch::kFloat32);
    const float *from = x.data_ptr<float>();
    float *to = scaled.data_ptr<float>();
    float *row_scales = scales.data_ptr<float>();
    const float *kept = keep.data();
    at::parallel_for(0, rows, 16, [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; ++row) {
            const float *values = from + row * columns;
            float *out = to + row * columns;
            uint32_t peak = 0;
            for (int64_t column = 0; column < columns; ++column) {
                peak = std::max(peak, magnitude_bits(values[column] * kept[column]));
            }
            const float scale = std::max(from_bits(peak), 1e-30f);
            const float inverse = 1.0f / scale;
            for (int64_t column = 0; column < columns; ++column) out[column] = values[column] * kept[column] * inverse;
            row_scales[row] = scale;
        }
    });
    return scaled;
}

/** y[r] = y[r] · scales[r] + bias, in place, in one pass; `bias` may be undefined. */
void rescale_rows(torch::Tensor &y, const torch::Tensor &scales, const torch::Tensor &bias) {
    const int64_t rows = y.size(0), columns = y.size(1);
    float *values = y.data_ptr<float>();
    const float *row_scales = scales.data_ptr<float>();
    torch::Tensor offsets = bias.defined() ? bias.to(torch::kFloat32).contiguous() : torch::zeros({columns});
    const float *offset = offsets.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; ++row) {
            float *out = values + row * columns;
            const float scale = row_scales[row];
            for (int64_t column = 0; column < columns; ++column) out[column] = out[column] * scale + offset[column];
        }
    });
}

}  // namespace

torch::Tensor Int8Linear::forward(const torch::Tensor &x, const torch::Tensor &bias) const {
    const int64_t rows = x.numel() / in_features_;
    torch::Tensor flat = x.reshape({rows, in_features_}).to(torch::kFloat32).contiguous();

    torch::Tensor peaks = column_peaks(flat);
    torch::Tensor outliers = (peaks > peaks.median() * kOutlierRatio).nonzero().flatten();
    const int64_t most = std::min<int64_t>(in_features_ / 2, std::max<int64_t>(8, in_features_ / 16));
    if (outliers.size(0) > most) outliers = std::get<1>(peaks.topk(most));

    std::vector<float> keep(in_features_, 1.0f);
    const auto *outlier_index = outliers.data_ptr<int64_t>();
    for (int64_t i = 0; i < outliers.size(0); ++i) keep[outlier_index[i]] = 0.0f;
    torch::Tensor token_scales;
    torch::Tensor scaled = scaled_rows(flat, keep, token_scales);
    torch::Tensor y = packed_->apply_dynamic(scaled, /*reduce_range=*/false).contiguous();
    rescale_rows(y, token_scales, bias);
    if (outliers.size(0) > 0) y.add_(flat.index_select(1, outliers).matmul(weight_columns(outliers)));

    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = y.size(1);
    return y.view(shape);
}

torch::Tensor widen_bf16(const torch::Tensor &tensor) {
    torch::Tensor source = tensor.contiguous();
    torch::Tensor widened = thread_scratch(source.numel(), source.sizes().vec());
    const auto *from = static_cast<const uint16_t *>(source.data_ptr());
    auto *to = static_cast<uint32_t *>(widened.data_ptr());
    at::parallel_for(0, source.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) to[i] = static_cast<uint32_t>(from[i]) << 16;
    });
    return widened;
}

}  // namespace blip2
