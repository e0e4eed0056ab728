#include "quantized_linear.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#ifndef BLIP2_NO_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include "blip2_error.hpp"

namespace blip2 {

#ifndef BLIP2_NO_ONEDNN

/**
 * One layer's int8 weights in the layout oneDNN chose for them, and its products
 * y = x Wᵀ in int32 for x int8 [rows, in]. The scales are applied by the caller, so a
 * product's primitive depends only on its shape and is shared by every layer of that shape
 * (made once per row count seen and kept): primitives made per layer during the first
 * pass interleave with its activations in the heap, which then grew to 4 GB.
 */
class Int8Product {
public:
    /** What uint8 activations hold for 0. */
    static constexpr int32_t kZeroPoint = 128;

    explicit Int8Product(const torch::Tensor &quantized) : in_(quantized.size(1)), out_(quantized.size(0)) {
        dnnl::memory::desc chosen = describe(kLayoutRows, weights_desc(dnnl::memory::format_tag::any)).weights_desc();
        dnnl::memory plain(weights_desc(dnnl::memory::format_tag::ba), engine(), quantized.data_ptr());
        weights_ = dnnl::memory(chosen, engine());
        dnnl::stream stream(engine());
        dnnl::reorder(plain, weights_).execute(stream, plain, weights_);
        stream.wait();
    }

    /**
     * y [rows, out] int32 from x [rows, in], both contiguous: x's int8 values stored as
     * uint8 plus kZeroPoint, the operand oneDNN's AVX2 code multiplies fastest (~7 % over int8;
     * the same with VNNI).
     */
    void run(const uint8_t *x, int64_t rows, int32_t *y) const {
        at::internal::lazy_init_num_threads();  // oneDNN's OpenMP threads: libtorch's count
        const Primitive &product = primitive(rows);
        dnnl::memory source(rows_desc(rows, in_, dnnl::memory::data_type::u8), engine(), const_cast<uint8_t *>(x));
        dnnl::memory destination(rows_desc(rows, out_, dnnl::memory::data_type::s32), engine(), y);
        dnnl::memory scratchpad(product.scratchpad, engine(), scratchpad_buffer(product.scratchpad.get_size()));
        dnnl::stream stream(engine());
        product.matmul.execute(stream, {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, weights_},
                                        {DNNL_ARG_DST, destination}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
        stream.wait();
    }

private:
    /** The row count the weights' layout is chosen for; every count uses that layout. */
    static constexpr int64_t kLayoutRows = 256;

    /** A product and the scratch memory it needs. */
    struct Primitive {
        dnnl::matmul matmul;
        dnnl::memory::desc scratchpad;
    };

    static const dnnl::engine &engine() {
        static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
        return cpu;
    }

    static dnnl::memory::desc rows_desc(int64_t rows, int64_t columns, dnnl::memory::data_type type) {
        return dnnl::memory::desc({rows, columns}, type, dnnl::memory::format_tag::ab);
    }

    /** W as the product's [in, out] operand: `ba` is PyTorch's [out, in] row-major. */
    dnnl::memory::desc weights_desc(dnnl::memory::format_tag layout) const {
        return dnnl::memory::desc({in_, out_}, dnnl::memory::data_type::s8, layout);
    }

    /** The product for `rows` rows; refuses oneDNN's reference code (hundreds of times slower). */
    dnnl::matmul::primitive_desc describe(int64_t rows, const dnnl::memory::desc &weights) const {
        dnnl::primitive_attr attributes;
        attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        attributes.set_zero_points(DNNL_ARG_SRC, 0, {kZeroPoint});
        dnnl::matmul::desc product(rows_desc(rows, in_, dnnl::memory::data_type::u8), weights,
                                   rows_desc(rows, out_, dnnl::memory::data_type::s32));
        dnnl::matmul::primitive_desc chosen(product, attributes, engine());
        const std::string implementation = chosen.impl_info_str();
        if (implementation.rfind("ref", 0) == 0) {
            throw Error(BLIP2_ERROR_DEVICE, "int8: oneDNN has no fast int8 matrix product for this CPU (it offers " +
                                                implementation + "); use --precision fp32 or bf16");
        }
        return chosen;
    }

    /**
     * Scratch memory for a product, shared by every product the calling thread runs (left
     * to oneDNN, each primitive would keep its own).
     */
    static void *scratchpad_buffer(size_t bytes) {
        thread_local std::vector<uint8_t> buffer;
        if (buffer.size() < bytes) buffer.resize(bytes);
        return buffer.data();
    }

    /** The shared primitive for this layer's shape and `rows`; kept for the process's life. */
    const Primitive &primitive(int64_t rows) const {
        static std::mutex mutex;
        static std::map<std::array<int64_t, 3>, Primitive> primitives;
        std::lock_guard<std::mutex> lock(mutex);
        const std::array<int64_t, 3> shape{rows, in_, out_};
        auto found = primitives.find(shape);
        if (found != primitives.end()) return found->second;
        dnnl::matmul::primitive_desc chosen = describe(rows, weights_.get_desc());
        return primitives.emplace(shape, Primitive{dnnl::matmul(chosen), chosen.scratchpad_desc()}).first->second;
    }

    int64_t in_, out_;
    dnnl::memory weights_;
};

#else

/** This build has no oneDNN (BLIP2_NO_ONEDNN): int8 is refused at load. */
class Int8Product {
public:
    static constexpr int32_t kZeroPoint = 128;

    explicit Int8Product(const torch::Tensor &) {
        throw Error(BLIP2_ERROR_DEVICE, "int8 needs imgsearch built with oneDNN (libdnnl-dev); this build has none");
    }
    void run(const uint8_t *, int64_t, int32_t *) const {}
};

#endif

Int8Linear::Int8Linear(std::unique_ptr<Int8Product> product, torch::Tensor scales, int64_t in_features)
    : product_(std::move(product)), scales_(std::move(scales)), in_features_(in_features) {}

Int8Linear::~Int8Linear() = default;

std::shared_ptr<const Int8Linear> Int8Linear::quantize(const torch::Tensor &weight) {
    torch::Tensor scales = (weight.abs().amax(1) / 127.0).clamp_min(1e-12).to(torch::kFloat32).contiguous();
    torch::Tensor quantized = weight.div(scales.unsqueeze(1)).round_().clamp_(-127, 127).to(torch::kInt8).contiguous();
    auto product = std::make_unique<Int8Product>(quantized);
    quantized = torch::Tensor();
#if defined(__GLIBC__)
    // glibc keeps the freed fp32 and int8 copies in its heap, where later layers'
    // allocations leave them unused: give them back to the system now.
    malloc_trim(0);
#endif
    return std::shared_ptr<const Int8Linear>(new Int8Linear(std::move(product), scales, weight.size(1)));
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
 * A buffer of at least `count` elements of `T` owned by the calling thread and reused from
 * call to call: a fresh 50 MB tensor per layer costs more in page faults than its use.
 * What it holds is valid until the thread's next call for the same `T`.
 */
template <typename T>
torch::Tensor thread_scratch(int64_t count, const std::vector<int64_t> &shape) {
    thread_local torch::Tensor scratch;
    if (!scratch.defined() || scratch.numel() < count) scratch = torch::empty({count}, c10::CppTypeToScalarType<T>::value);
    return scratch.narrow(0, 0, count).view(shape);
}

/**
 * Each row of `x` times `keep` (1 for a column kept, 0 for an outlier), quantised to int8
 * with its own scale (its largest remaining magnitude / 127, written to `scales` [rows]),
 * stored as uint8 plus Int8Product's zero point.
 */
torch::Tensor quantized_rows(const torch::Tensor &x, const std::vector<float> &keep, torch::Tensor &scales) {
    const int64_t rows = x.size(0), columns = x.size(1);
    torch::Tensor quantized = thread_scratch<uint8_t>(rows * columns, {rows, columns});
    scales = torch::empty({rows}, torch::kFloat32);
    const float *from = x.data_ptr<float>();
    uint8_t *to = quantized.data_ptr<uint8_t>();
    float *row_scales = scales.data_ptr<float>();
    const float *kept = keep.data();
    at::parallel_for(0, rows, 16, [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; ++row) {
            const float *values = from + row * columns;
            uint8_t *out = to + row * columns;
            uint32_t peak = 0;
            for (int64_t column = 0; column < columns; ++column) {
                peak = std::max(peak, magnitude_bits(values[column] * kept[column]));
            }
            const float scale = std::max(from_bits(peak), 1e-30f) / 127.0f;
            const float inverse = 1.0f / scale;
            for (int64_t column = 0; column < columns; ++column) {
                out[column] = static_cast<uint8_t>(
                    static_cast<int32_t>(__builtin_rintf(values[column] * kept[column] * inverse)) + Int8Product::kZeroPoint);
            }
            row_scales[row] = scale;
        }
    });
    return quantized;
}

/**
 * The int32 products in `y` [rows, columns] turned, in place, into floats:
 * y[r][c] · row_scales[r] · column_scales[c] + bias[c]; `bias` may be undefined.
 */
void scale_products(torch::Tensor &y, const torch::Tensor &row_scales, const torch::Tensor &column_scales,
                    const torch::Tensor &bias) {
    const int64_t rows = y.size(0), columns = y.size(1);
    const int32_t *products = y.data_ptr<int32_t>();
    float *values = static_cast<float *>(y.data_ptr());
    const float *row_scale = row_scales.data_ptr<float>();
    const float *column_scale = column_scales.data_ptr<float>();
    torch::Tensor offsets = bias.defined() ? bias.to(torch::kFloat32).contiguous() : torch::zeros({columns});
    const float *offset = offsets.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; ++row) {
            const int32_t *in = products + row * columns;
            float *out = values + row * columns;
            const float scale = row_scale[row];
            for (int64_t column = 0; column < columns; ++column) {
                out[column] = static_cast<float>(in[column]) * scale * column_scale[column] + offset[column];
            }
        }
    });
}

}  // namespace

torch::Tensor Int8Linear::weight_columns(const torch::Tensor &columns) const {
    // Rows padded to a multiple of 32 (zeros), so the outlier counts of a long run need a
    // few shared primitives, not one per count.
    const int64_t count = columns.size(0), rows = (count + 31) / 32 * 32;
    torch::Tensor one_hot = torch::full({rows, in_features_}, Int8Product::kZeroPoint, torch::kUInt8);
    one_hot.narrow(0, 0, count).scatter_(1, columns.unsqueeze(1), Int8Product::kZeroPoint + 1);
    torch::Tensor weights = torch::empty({rows, scales_.size(0)}, torch::kInt32);
    product_->run(one_hot.data_ptr<uint8_t>(), rows, weights.data_ptr<int32_t>());
    return weights.narrow(0, 0, count).to(torch::kFloat32).mul_(scales_);
}

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
    torch::Tensor quantized = quantized_rows(flat, keep, token_scales);
    torch::Tensor products = torch::empty({rows, scales_.size(0)}, torch::kInt32);
    product_->run(quantized.data_ptr<uint8_t>(), rows, products.data_ptr<int32_t>());
    scale_products(products, token_scales, scales_, bias);
    torch::Tensor y = products.view(torch::kFloat32);
    if (outliers.size(0) > 0) y.add_(flat.index_select(1, outliers).matmul(weight_columns(outliers)));

    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = y.size(1);
    return y.view(shape);
}

torch::Tensor widen_bf16(const torch::Tensor &tensor) {
    torch::Tensor source = tensor.contiguous();
    torch::Tensor widened = thread_scratch<float>(source.numel(), source.sizes().vec());
    const auto *from = static_cast<const uint16_t *>(source.data_ptr());
    auto *to = static_cast<uint32_t *>(widened.data_ptr());
    at::parallel_for(0, source.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) to[i] = static_cast<uint32_t>(from[i]) << 16;
    });
    return widened;
}

}  // namespace blip2
