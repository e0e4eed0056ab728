// qscan's search: the coarse and fine passes over the planes, with their proven bounds,
// and qscan_candidates (see include/qscan.h).
#include "qscan_store.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <system_error>
#include <thread>

using namespace qscan_detail;

namespace {

struct Bounds {
    float lower;
    float upper;
};

/*
 * Bounds. Vector x is stored as codes c (|c_i| ≤ 127) and a scale: x = scale × c + ε with
 * |ε_i| ≤ scale/2, so |x·t − scale × (c·t)| ≤ scale/2 × ‖t‖₁. Each code is split in two
 * nibbles, c = 16h + l with h = c >> 4 and l = c & 15, kept in two planes. Both passes
 * compute an exact integer sum against the search vector t rounded to integers
 * (t = step × r + e, |e_i| ≤ step/2), and bound x·t by
 *     estimate = scale × step × (multiplier × sum − offset)
 *     error    = scale × (base + step/2 × ‖c‖₁) × 1.001 + |estimate| × 1e-6 + 1e-6
 * where the last terms cover float rounding, both of this computation and of the fp32
 * dot product the caller re-scores with.
 *
 * - The fine pass reads both planes: sum = c·r with r in int16, so estimate = scale × step × sum,
 *   and error = scale × (‖t‖₁/2 + step/2 × ‖c‖₁) (base = ‖t‖₁/2).
 * - The coarse pass reads only the high plane and estimates each code as 16h + 7.5, off by at
 *   most 7.5. With r in int8 and sum = Σ (h_i + 8) r_i, the integer the scan adds up,
 *       (16h + 7.5)·r = 16 sum − 120.5 Σr      (multiplier 16, offset 120.5 Σr)
 *   and the error adds 7.5‖t‖₁ for the guess and step/2 × Σ|16h_i + 7.5| ≤ step/2 × (‖c‖₁ + 7.5 d)
 *   for rounding t (base = 8‖t‖₁ + step/2 × 7.5 d).
 */
struct PassTerms {
    float step, multiplier, offset, base;
};

/// Float rounding of a d-term fp32 dot product, relative to scale × ‖t‖₁ (|x_i| ≤ 127 × scale).
float rounding_allowance(int32_t dimension) { return float(dimension) * 127.0f * 1.2e-7f; }

/// Widens [lower, upper] to hold the bound of one vector with one search vector.
inline void widen(float scale, float code_l1, float sum, const PassTerms &terms, float &lower, float &upper) {
    const float estimate = scale * terms.step * (terms.multiplier * sum - terms.offset);
    const float error =
        scale * (terms.base + 0.5f * terms.step * code_l1) * 1.001f + std::fabs(estimate) * 1e-6f + 1e-6f;
    lower = std::max(lower, estimate - error);
    upper = std::max(upper, estimate + error);
}

/// The search vectors, zero-padded to whole blocks and rounded to int8 and int16, with both passes' terms.
struct PreparedSearch {
    size_t count = 0, padded = 0;
    std::vector<int8_t> coarse;     // [count, padded]
    std::vector<int16_t> fine;      // [count, padded]
    std::vector<PassTerms> coarse_terms, fine_terms;

    PreparedSearch(const qscan &s, const float *search, int32_t search_count)
        : count(size_t(search_count)), padded(s.padded_dimension()), coarse(count * padded, 0),
          fine(count * padded, 0) {
        const size_t d = size_t(s.dimension);
        const float rounding = rounding_allowance(s.dimension);
        // The int16 range, narrowed for large dimensions so that c·r (|c_i| ≤ 127) fits in int32.
        const float fine_range = float(std::min<size_t>(32767, size_t(INT32_MAX) / (127 * d)));
        for (size_t t = 0; t < count; ++t) {
            const float *values = search + t * d;
            float largest = 0, l1 = 0;
            for (size_t i = 0; i < d; ++i) {
                largest = std::max(largest, std::fabs(values[i]));
                l1 += std::fabs(values[i]);
            }
            const float coarse_step = largest > 0 ? largest / 127.0f : 1.0f;
            const float fine_step = largest > 0 ? largest / fine_range : 1.0f;
            int32_t coarse_total = 0;
            for (size_t i = 0; i < d; ++i) {
                coarse[t * padded + i] = int8_t(std::lrint(std::clamp(values[i] / coarse_step, -127.0f, 127.0f)));
                fine[t * padded + i] = int16_t(std::lrint(std::clamp(values[i] / fine_step, -fine_range, fine_range)));
                coarse_total += coarse[t * padded + i];
            }
            coarse_terms.push_back({coarse_step, 16.0f, 120.5f * float(coarse_total),
                                    l1 * (8.0f + rounding) + 0.5f * coarse_step * 7.5f * float(d)});
            fine_terms.push_back({fine_step, 1.0f, 0.0f, l1 * (0.5f + rounding)});
        }
    }
};

/// The coarse sum Σ (h_i + 8) r_i of one vector's high plane, portably.
int32_t coarse_sum(const uint8_t *high, const int8_t *rounded, size_t plane_bytes) {
    int32_t sum = 0;
    for (size_t k = 0; k < plane_bytes; ++k) {
        const size_t base = k / kBlockBytes * kBlockDimensions + k % kBlockBytes;
        sum += int32_t(high[k] & 15) * rounded[base] + int32_t(high[k] >> 4) * rounded[base + kBlockBytes];
    }
    return sum;
}

/// The fine sum c·r of one vector's two planes, portably.
int32_t fine_sum(const uint8_t *high, const uint8_t *low, const int16_t *rounded, size_t plane_bytes) {
    int32_t sum = 0;
    for (size_t k = 0; k < plane_bytes; ++k) {
        const size_t base = k / kBlockBytes * kBlockDimensions + k % kBlockBytes;
        sum += (16 * (int32_t(high[k] & 15) - 8) + int32_t(low[k] & 15)) * rounded[base];
        sum += (16 * (int32_t(high[k] >> 4) - 8) + int32_t(low[k] >> 4)) * rounded[base + kBlockBytes];
    }
    return sum;
}

/**
 * The coarse sum of one vector as eight int32 partial sums. Nibble × int8 products are at
 * most 15 × 127, so four blocks (eight products a lane) add up in int16 without overflow.
 */
__attribute__((target("avx2"))) inline __m256i coarse_sum_avx2(const uint8_t *high, const int8_t *rounded,
                                                               size_t blocks) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256i total = _mm256_setzero_si256();
    for (size_t first = 0; first < blocks; first += 4) {
        __m256i partial = _mm256_setzero_si256();
        for (size_t b = first; b < std::min(blocks, first + 4); ++b) {
            const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(high + b * kBlockBytes));
            const int8_t *r = rounded + b * kBlockDimensions;
            partial = _mm256_add_epi16(partial, _mm256_maddubs_epi16(_mm256_and_si256(bytes, nibble),
                                                                     _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r))));
            partial = _mm256_add_epi16(
                partial, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble),
                                              _mm256_loadu_si256(reinterpret_cast<const __m256i *>(r + kBlockBytes))));
        }
        total = _mm256_add_epi32(total, _mm256_madd_epi16(partial, ones));
    }
    return total;
}

/// The fine sum of one vector as eight int32 partial sums: both planes joined back into int8
/// codes, widened to int16 and multiplied with the int16 search vector.
__attribute__((target("avx2"))) inline __m256i fine_sum_avx2(const uint8_t *high, const uint8_t *low,
                                                             const int16_t *rounded, size_t blocks) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(int8_t(0xF0)),
                  bias = _mm256_set1_epi8(int8_t(0x80));
    __m256i even = _mm256_setzero_si256(), odd = even;
    for (size_t b = 0; b < blocks; ++b) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(high + b * kBlockBytes));
        const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(low + b * kBlockBytes));
        // (h + 8) × 16 + l = c + 128: flipping the top bit gives c.
        const __m256i first = _mm256_xor_si256(
            _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(h, nibble), 4), _mm256_and_si256(l, nibble)), bias);
        const __m256i second = _mm256_xor_si256(
            _mm256_or_si256(_mm256_and_si256(h, top), _mm256_and_si256(_mm256_srli_epi16(l, 4), nibble)), bias);
        const __m256i *r = reinterpret_cast<const __m256i *>(rounded + b * kBlockDimensions);
        even = _mm256_add_epi32(even, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(first)),
                                                        _mm256_loadu_si256(r)));
        odd = _mm256_add_epi32(odd, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(first, 1)),
                                                      _mm256_loadu_si256(r + 1)));
        even = _mm256_add_epi32(even, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(second)),
                                                        _mm256_loadu_si256(r + 2)));
        odd = _mm256_add_epi32(odd, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(second, 1)),
                                                      _mm256_loadu_si256(r + 3)));
    }
    return _mm256_add_epi32(even, odd);
}

/// Asks for `bytes` from `start` to be brought into the cache.
__attribute__((target("avx2"))) inline void prefetch(const uint8_t *start, size_t bytes) {
    for (size_t offset = 0; offset < bytes; offset += 64) {
        _mm_prefetch(reinterpret_cast<const char *>(start + offset), _MM_HINT_T0);
    }
}

/// Lane i of the result is the sum of the eight lanes of sums[i].
__attribute__((target("avx2"))) inline __m256i horizontal_sums(const __m256i sums[8]) {
    const __m256i s01 = _mm256_hadd_epi32(sums[0], sums[1]), s23 = _mm256_hadd_epi32(sums[2], sums[3]);
    const __m256i s45 = _mm256_hadd_epi32(sums[4], sums[5]), s67 = _mm256_hadd_epi32(sums[6], sums[7]);
    const __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(s0123, s4567, 0x20),
                            _mm256_permute2x128_si256(s0123, s4567, 0x31));
}

/// The largest of the eight lanes.
__attribute__((target("avx2"))) inline float horizontal_max(__m256 values) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(values), _mm256_extractf128_ps(values, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}

/// Stores an item's bounds: the coarse pass sets them, the fine pass narrows them.
template <bool Fine>
inline void record(Bounds &bounds, float lower, float upper) {
    if (Fine) {
        bounds.lower = std::max(bounds.lower, lower);
        bounds.upper = std::min(bounds.upper, upper);
    } else {
        bounds = {lower, upper};
    }
}

/// Widens [lower, upper] by one pass's bounds of rows [first, last) with every search
/// vector, portably (whole items, and the rows that do not fill a group of eight).
template <bool Fine>
void widen_rows(const qscan &s, const PreparedSearch &p, size_t first, size_t last, float &lower, float &upper) {
    const size_t pb = s.plane_bytes;
    for (size_t row = first; row < last; ++row) {
        const uint8_t *high = s.high.data() + row * pb, *low = s.low.data() + row * pb;
        for (size_t t = 0; t < p.count; ++t) {
            const int32_t sum = Fine ? fine_sum(high, low, p.fine.data() + t * p.padded, pb)
                                     : coarse_sum(high, p.coarse.data() + t * p.padded, pb);
            widen(s.scales[row], s.code_l1[row], float(sum), Fine ? p.fine_terms[t] : p.coarse_terms[t], lower, upper);
        }
    }
}

/// Bounds of the listed items from one pass (Fine: both planes; else the high plane), portably.
template <bool Fine>
void bound_items_baseline(const qscan &s, const PreparedSearch &p, const size_t *items, size_t count, Bounds *out) {
    const size_t q = size_t(s.vectors_per_item);
    for (size_t n = 0; n < count; ++n) {
        const size_t item = items[n];
        float lower = -INFINITY, upper = -INFINITY;
        widen_rows<Fine>(s, p, item * q, (item + 1) * q, lower, upper);
        record<Fine>(out[item], lower, upper);
    }
}

/// bound_items_baseline with AVX2, eight vectors at a time (widen in eight lanes). `Blocks`,
/// when not 0, is the number of blocks, known at compile time so that the sums unroll.
template <bool Fine, size_t Blocks>
__attribute__((target("avx2,fma"))) void bound_items_avx2(const qscan &s, const PreparedSearch &p, const size_t *items,
                                                           size_t count, Bounds *out) {
    const size_t q = size_t(s.vectors_per_item), pb = s.plane_bytes, blocks = Blocks ? Blocks : pb / kBlockBytes;
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (size_t n = 0; n < count; ++n) {
        const size_t item = items[n];
        if (n + 1 < count) {
            // The next item's rows: the hardware prefetcher alone leaves a third of the bandwidth unused.
            prefetch(s.high.data() + items[n + 1] * q * pb, q * pb);
            if (Fine) prefetch(s.low.data() + items[n + 1] * q * pb, q * pb);
        }
        __m256 lowers = _mm256_set1_ps(-INFINITY), uppers = lowers;
        size_t row = item * q;
        const size_t end = row + q;
        for (; row + 8 <= end; row += 8) {
            const uint8_t *high = s.high.data() + row * pb, *low = s.low.data() + row * pb;
            const __m256 scales = _mm256_loadu_ps(s.scales.data() + row);
            const __m256 code_l1 = _mm256_loadu_ps(s.code_l1.data() + row);
            for (size_t t = 0; t < p.count; ++t) {
                __m256i partial[8];
                for (size_t v = 0; v < 8; ++v) {
                    partial[v] = Fine ? fine_sum_avx2(high + v * pb, low + v * pb, p.fine.data() + t * p.padded, blocks)
                                      : coarse_sum_avx2(high + v * pb, p.coarse.data() + t * p.padded, blocks);
                }
                const __m256 sums = _mm256_cvtepi32_ps(horizontal_sums(partial));
                const PassTerms &terms = Fine ? p.fine_terms[t] : p.coarse_terms[t];
                const __m256 step = _mm256_set1_ps(terms.step);
                const __m256 estimate =
                    _mm256_mul_ps(_mm256_mul_ps(scales, step), _mm256_fmsub_ps(sums, _mm256_set1_ps(terms.multiplier),
                                                                               _mm256_set1_ps(terms.offset)));
                const __m256 spread = _mm256_fmadd_ps(_mm256_mul_ps(step, _mm256_set1_ps(0.5f)), code_l1,
                                                      _mm256_set1_ps(terms.base));
                const __m256 error = _mm256_fmadd_ps(
                    _mm256_and_ps(estimate, magnitude), _mm256_set1_ps(1e-6f),
                    _mm256_fmadd_ps(_mm256_mul_ps(scales, spread), _mm256_set1_ps(1.001f), _mm256_set1_ps(1e-6f)));
                lowers = _mm256_max_ps(lowers, _mm256_sub_ps(estimate, error));
                uppers = _mm256_max_ps(uppers, _mm256_add_ps(estimate, error));
            }
        }
        float lower = horizontal_max(lowers), upper = horizontal_max(uppers);
        widen_rows<Fine>(s, p, row, end, lower, upper);
        record<Fine>(out[item], lower, upper);
    }
}

/// One pass over the listed items, on the best code path this CPU has.
template <bool Fine>
void bound_items(const qscan &s, const PreparedSearch &p, const size_t *items, size_t count, Bounds *out) {
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && s.plane_bytes == 4 * kBlockBytes) bound_items_avx2<Fine, 4>(s, p, items, count, out);  // 256-d, BLIP-2's
    else if (avx2) bound_items_avx2<Fine, 0>(s, p, items, count, out);
    else bound_items_baseline<Fine>(s, p, items, count, out);
}

/// Runs work(first, last) over [0, count) split across `workers` threads, this one included.
template <typename Work>
void in_parallel(size_t count, size_t workers, Work work) {
    workers = std::max<size_t>(1, std::min(workers, count));
    std::vector<std::thread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, count * w / workers, count * (w + 1) / workers);
    work(0, count / workers);
    for (auto &thread : pool) thread.join();
}

/// The k-th largest lower bound of the listed items: at least k of them score at least this.
float kth_largest_lower(const Bounds *bounds, const std::vector<size_t> &items, size_t k) {
    std::vector<float> lowers(items.size());
    for (size_t n = 0; n < items.size(); ++n) lowers[n] = bounds[items[n]].lower;
    const size_t kth = std::min(k, lowers.size()) - 1;
    std::nth_element(lowers.begin(), lowers.begin() + ptrdiff_t(kth), lowers.end(), std::greater<float>());
    return lowers[kth];
}

/// The listed items whose upper bound reaches `threshold`: the others are beaten by k items.
std::vector<size_t> reaching(const Bounds *bounds, const std::vector<size_t> &items, float threshold) {
    std::vector<size_t> kept;
    for (size_t item : items) {
        if (bounds[item].upper >= threshold) kept.push_back(item);
    }
    return kept;
}

/*
 * The summary bound, for searches with many vectors ("more like this": an image's 32). With
 * m the mean of the search vectors t and a_t = t − m, and an item's reference point r and
 * radius ρ (every vector x_j of the item lies within ρ of r: qscan_store.hpp),
 *     t·x_j = m·x_j + a_t·r + a_t·(x_j − r) ≤ max_j m·x_j + a_t·r + ‖a_t‖ρ.
 * So one pass with the single search vector m, plus a dot product of each a_t with the
 * item's reference point, bounds what the item can score, at about a thirtieth of the cost
 * of bounding every pair of vectors. Items whose bound falls below the k-th best lower bound
 * of a few likely items cannot be in the top k and are not scanned further.
 */
struct SummarySearch {
    std::vector<float> mean;                  // m, [dimension]
    std::vector<float> differences;           // a_t = t − m, [count, dimension]
    std::vector<float> spread_norms;          // ‖a_t‖, rounded up
    PreparedSearch spreads;                   // a_t rounded to int16 as the fine pass rounds search vectors

    SummarySearch(const qscan &s, const float *search, size_t count)
        : mean(mean_of(search, count, size_t(s.dimension))),
          differences(differences_from(search, mean, count)),
          spreads(s, differences.data(), int32_t(count)) {
        const size_t d = mean.size();
        for (size_t t = 0; t < count; ++t) {
            double squares = 0;
            for (size_t j = 0; j < d; ++j) squares += double(differences[t * d + j]) * double(differences[t * d + j]);
            // The float a_t differs from t − m by at most half an ulp a component; ‖·‖ rounded up covers it.
            spread_norms.push_back(float(std::sqrt(squares) * (1 + 1e-5) + 1e-7));
        }
    }

    static std::vector<float> mean_of(const float *search, size_t count, size_t d) {
        std::vector<double> sum(d, 0.0);
        for (size_t t = 0; t < count; ++t)
            for (size_t j = 0; j < d; ++j) sum[j] += search[t * d + j];
        std::vector<float> mean(d);
        for (size_t j = 0; j < d; ++j) mean[j] = float(sum[j] / double(count));
        return mean;
    }

    /// a_t as the search vector minus the float m the mean pass uses: an exact decomposition.
    static std::vector<float> differences_from(const float *search, const std::vector<float> &mean, size_t count) {
        const size_t d = mean.size();
        std::vector<float> differences(count * d);
        for (size_t t = 0; t < count; ++t)
            for (size_t j = 0; j < d; ++j) differences[t * d + j] = float(double(search[t * d + j]) - double(mean[j]));
        return differences;
    }
};

/// The bound a_t·r + ‖a_t‖ρ of one item from the exact integer sum q_t·c of its reference
/// codes c with a_t rounded to int16 (a_t = step × q_t + e, |e_j| ≤ step/2, so a_t·r lies within
/// scale × step/2 × ‖c‖₁ of scale × step × (q_t·c)), float rounding included.
inline float summary_bound(const SummarySearch &p, size_t t, int32_t sum, float scale, float code_l1, float radius) {
    const float step = p.spreads.fine_terms[t].step;
    const float estimate = scale * step * float(sum);
    return estimate + scale * step * 0.5f * code_l1 * 1.001f + std::fabs(estimate) * 1e-6f +
           p.spread_norms[t] * radius * 1.00001f + 1e-6f;
}

/// max_t (a_t · r + ‖a_t‖ρ) of one item, portably.
float summary_term_baseline(const qscan &s, const SummarySearch &p, size_t item) {
    const size_t pd = s.padded_dimension(), count = p.spread_norms.size();
    const int8_t *codes = s.reference_codes.data() + item * pd;
    int32_t l1 = 0;
    for (size_t j = 0; j < pd; ++j) l1 += std::abs(int32_t(codes[j]));
    float best = -INFINITY;
    for (size_t t = 0; t < count; ++t) {
        const int16_t *q = p.spreads.fine.data() + t * p.spreads.padded;
        int32_t sum = 0;
        for (size_t j = 0; j < pd; ++j) sum += int32_t(q[j]) * int32_t(codes[j]);
        best = std::max(best, summary_bound(p, t, sum, s.reference_scales[item], float(l1), s.radii[item]));
    }
    return best;
}

/// The summary terms of the listed items into `terms` (by slot) in AVX2, eight items at a time:
/// each rounded a_t is loaded once for the eight items, whose codes are widened to int16 once;
/// the integer sums are exact, and summary_bound turns them into bounds.
__attribute__((target("avx2,fma"))) void summary_terms_avx2(const qscan &s, const SummarySearch &p, const size_t *items,
                                                             size_t count, float *terms) {
    const size_t pd = s.padded_dimension(), searches = p.spread_norms.size();
    thread_local std::vector<int16_t> widened;
    widened.assign(8 * pd, 0);
    int16_t *const references = widened.data();
    float code_l1[8];
    for (size_t first = 0; first < count; first += 8) {
        const size_t block = std::min<size_t>(8, count - first);
        for (size_t i = 0; i < 8; ++i) {
            int16_t *reference = references + i * pd;
            code_l1[i] = 0;
            if (i >= block) {
                std::fill(reference, reference + pd, int16_t(0));
                continue;
            }
            const int8_t *codes = s.reference_codes.data() + items[first + i] * pd;
            int32_t l1 = 0;
            for (size_t j = 0; j < pd; ++j) {
                reference[j] = codes[j];
                l1 += std::abs(int32_t(codes[j]));
            }
            code_l1[i] = float(l1);
        }
        float best[8];
        std::fill(best, best + 8, -INFINITY);
        for (size_t t = 0; t < searches; ++t) {
            const int16_t *q = p.spreads.fine.data() + t * p.spreads.padded;
            __m256i sums[8];
            for (size_t i = 0; i < 8; ++i) sums[i] = _mm256_setzero_si256();
            for (size_t j = 0; j < pd; j += 16) {
                const __m256i spread = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + j));
                for (size_t i = 0; i < 8; ++i)
                    sums[i] = _mm256_add_epi32(sums[i], _mm256_madd_epi16(spread, _mm256_loadu_si256(
                                                                              reinterpret_cast<const __m256i *>(references + i * pd + j))));
            }
            alignas(32) int32_t dots[8];
            _mm256_store_si256(reinterpret_cast<__m256i *>(dots), horizontal_sums(sums));
            for (size_t i = 0; i < block; ++i) {
                const size_t item = items[first + i];
                best[i] = std::max(best[i], summary_bound(p, t, dots[i], s.reference_scales[item], code_l1[i], s.radii[item]));
            }
        }
        for (size_t i = 0; i < block; ++i) terms[items[first + i]] = best[i];
    }
}

/// The summary terms of the listed items into `terms` (by slot), on the best code path this CPU has.
void summary_terms(const qscan &s, const SummarySearch &p, const size_t *items, size_t count, float *terms) {
    static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2) {
        summary_terms_avx2(s, p, items, count, terms);
        return;
    }
    for (size_t n = 0; n < count; ++n) terms[items[n]] = summary_term_baseline(s, p, items[n]);
}

/// Items a summary-filter step handles at a time (both of its parts, back to back).
constexpr size_t kSummaryChunk = 256;

/// Searches with at least this many vectors use the summary bound.
constexpr int32_t kSummaryMinimumSearch = 4;

/// How many likely items the summary filter scores in full to find its threshold, per result.
constexpr size_t kLikelyPerResult = 4;

/**
 * The items of `items` (storage order) that the summary bound cannot rule out of the top k
 * for `search` (`count` vectors), in storage order. `full` is the search prepared for the
 * full passes.
 */
std::vector<size_t> summary_survivors(const qscan &s, const float *search, size_t count, const PreparedSearch &full,
                                      size_t k, const std::vector<size_t> &items, size_t workers) {
    const SummarySearch summary(s, search, count);
    const PreparedSearch mean_search(s, summary.mean.data(), 1);
    std::vector<Bounds> mean_bounds(s.ids.size(), Bounds{-INFINITY, INFINITY});
    std::vector<float> term(s.ids.size(), INFINITY), bound(s.ids.size(), INFINITY);
    const auto threads = [&](size_t n) { return std::min(workers, std::max<size_t>(1, n / 64)); };
    // Coarse bounds of max_j m·x_j for every item, plus the summary term.
    // In chunks, so that the memory-bound pass and the compute-bound terms overlap.
    in_parallel(items.size(), threads(items.size()), [&](size_t first, size_t last) {
        for (size_t chunk = first; chunk < last; chunk += kSummaryChunk) {
            const size_t end = std::min(last, chunk + kSummaryChunk);
            bound_items<false>(s, mean_search, items.data() + chunk, end - chunk, mean_bounds.data());
            summary_terms(s, summary, items.data() + chunk, end - chunk, term.data());
        }
        for (size_t n = first; n < last; ++n) bound[items[n]] = mean_bounds[items[n]].upper + term[items[n]];
    });
    // The threshold: the k-th best lower bound of the likeliest items, scanned in full.
    std::vector<size_t> likely = items;
    const size_t likely_count = std::min(likely.size(), k * kLikelyPerResult);
    std::nth_element(likely.begin(), likely.begin() + ptrdiff_t(likely_count - 1), likely.end(),
                     [&](size_t a, size_t b) { return bound[a] > bound[b]; });
    likely.resize(likely_count);
    std::vector<Bounds> likely_bounds(s.ids.size(), Bounds{-INFINITY, INFINITY});
    bound_items<true>(s, full, likely.data(), likely.size(), likely_bounds.data());
    const float threshold = kth_largest_lower(likely_bounds.data(), likely, k);
    // Narrow the first term with the fine pass where the coarse one could not rule the item out.
    std::vector<size_t> open;
    for (size_t item : items) if (bound[item] >= threshold) open.push_back(item);
    in_parallel(open.size(), threads(open.size()), [&](size_t first, size_t last) {
        bound_items<true>(s, mean_search, open.data() + first, last - first, mean_bounds.data());
    });
    std::vector<size_t> kept;
    for (size_t item : open) {
        if (mean_bounds[item].upper + term[item] >= threshold) kept.push_back(item);
    }
    return kept;
}

}  // namespace

extern "C" {

int qscan_candidates(const qscan *scan, const float *search, int32_t search_count, int64_t k,
                     const int64_t *among, int64_t among_count,
                     int32_t threads, int64_t *ids, float *upper_bounds, int64_t capacity,
                     int64_t *count, int64_t *refined_count) {
    if (scan == nullptr || search == nullptr || search_count <= 0 || k <= 0 || count == nullptr ||
        (capacity > 0 && (ids == nullptr || upper_bounds == nullptr)) || among_count < 0 ||
        (among_count > 0 && among == nullptr)) {
        return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    // NaN or infinity would turn every bound into NaN (and the int8 rounding of the search
    // vector into undefined behaviour).
    for (size_t i = 0; i < size_t(search_count) * size_t(scan->dimension); ++i) {
        if (!std::isfinite(search[i])) return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    *count = 0;
    if (refined_count != nullptr) *refined_count = 0;
    try {
        const std::vector<size_t> searched = searched_slots(*scan, among, among_count);
        const size_t items = searched.size();
        if (items == 0) return QSCAN_OK;
        const PreparedSearch prepared(*scan, search, search_count);
        const size_t workers = threads > 0 ? size_t(threads) : std::max(1u, std::thread::hardware_concurrency());
        std::vector<Bounds> bounds(scan->ids.size(), Bounds{-INFINITY, INFINITY});
        auto pass = [&](bool fine, const std::vector<size_t> &listed) {
            in_parallel(listed.size(), std::min(workers, std::max<size_t>(1, listed.size() / 64)),
                        [&](size_t first, size_t last) {
                            if (fine) bound_items<true>(*scan, prepared, listed.data() + first, last - first, bounds.data());
                            else bound_items<false>(*scan, prepared, listed.data() + first, last - first, bounds.data());
                        });
        };
        // Many search vectors: the summary bound first rules out most items cheaply.
        std::vector<size_t> all = search_count >= kSummaryMinimumSearch && items > size_t(k) * kLikelyPerResult
                                      ? summary_survivors(*scan, search, size_t(search_count), prepared, size_t(k), searched, workers)
                                      : searched;
        std::vector<size_t> sample, rest;
        for (size_t n = 0; n < all.size(); ++n) (n % kSamplePeriod < kSampleRun ? sample : rest).push_back(all[n]);

        // The coarse pass costs half a fine one, so it pays only when it rules out more than
        // half of the items; a coarse pass over the sample tells. The fine pass then reads
        // the items that the coarse bounds could not rule out, or all of them.
        pass(false, sample);
        const size_t sample_k = std::max<size_t>(1, (size_t(k) * sample.size() + all.size() - 1) / all.size());
        const size_t kept = reaching(bounds.data(), sample, kth_largest_lower(bounds.data(), sample, sample_k)).size();
        std::vector<size_t> refined;
        if (2 * kept >= sample.size()) {
            refined = std::move(all);
        } else {
            pass(false, rest);
            refined = reaching(bounds.data(), all, kth_largest_lower(bounds.data(), all, size_t(k)));
        }
        pass(true, refined);
        const std::vector<size_t> candidates =
            reaching(bounds.data(), refined, kth_largest_lower(bounds.data(), refined, size_t(k)));
        const int64_t found = int64_t(candidates.size());
        if (ids != nullptr && upper_bounds != nullptr) {
            for (int64_t n = 0; n < std::min(found, capacity); ++n) {
                ids[n] = scan->ids[candidates[size_t(n)]];
                upper_bounds[n] = bounds[candidates[size_t(n)]].upper;
            }
        }
        *count = found;
        if (refined_count != nullptr) *refined_count = int64_t(refined.size());
        return found > capacity ? QSCAN_ERROR_CAPACITY : QSCAN_OK;
    } catch (const std::bad_alloc &) {
        return QSCAN_ERROR_OUT_OF_MEMORY;
    } catch (const std::system_error &) {
        return QSCAN_ERROR_OUT_OF_MEMORY;  // no thread could be started
    }
}


}  // extern "C"
