#include "qscan.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

struct qscan {
    int32_t dimension;
    int32_t vectors_per_item;
    std::vector<int8_t> codes;     // [items, vectors_per_item, dimension]
    std::vector<float> scales;     // [items, vectors_per_item]
    std::vector<int64_t> ids;      // [items]
    std::unordered_map<int64_t, size_t> slot_of;
};

namespace {

struct Bounds {
    float lower;
    float upper;
};

/**
 * Per item: the interval holding its exact max-over-queries score. The error term covers
 * quantization (s/2 per component, times ‖t‖₁) and float rounding of the 256-term sum.
 * Inlined into two callers so that one is compiled for AVX2+FMA and picked at run time.
 */
__attribute__((always_inline)) inline void scan_items(const qscan &s, const float *search, int32_t search_count,
                                                      const float *l1_norms, size_t first, size_t last,
                                                      Bounds *out) {
    const int32_t d = s.dimension, q = s.vectors_per_item;
    const float rounding = float(d) * 127.0f * 1.2e-7f;
    for (size_t item = first; item < last; ++item) {
        float lower = -INFINITY, upper = -INFINITY;
        for (int32_t v = 0; v < q; ++v) {
            const size_t row = item * q + v;
            const int8_t *codes = s.codes.data() + row * d;
            const float scale = s.scales[row];
            for (int32_t t = 0; t < search_count; ++t) {
                const float *query = search + size_t(t) * d;
                float dot = 0;
                {
                    // Any summation order keeps the rounding bound, so let the compiler vectorize.
#pragma clang fp reassociate(on)
                    for (int32_t i = 0; i < d; ++i) dot += float(codes[i]) * query[i];
                }
                const float approx = scale * dot;
                const float error = scale * l1_norms[t] * (0.5f + rounding) * 1.001f + 1e-6f;
                lower = std::max(lower, approx - error);
                upper = std::max(upper, approx + error);
            }
        }
        out[item] = {lower, upper};
    }
}

__attribute__((target("avx2,fma"))) void scan_items_avx2(const qscan &s, const float *search, int32_t search_count,
                                                          const float *l1_norms, size_t first, size_t last,
                                                          Bounds *out) {
    scan_items(s, search, search_count, l1_norms, first, last, out);
}

void scan_items_baseline(const qscan &s, const float *search, int32_t search_count, const float *l1_norms,
                         size_t first, size_t last, Bounds *out) {
    scan_items(s, search, search_count, l1_norms, first, last, out);
}

}  // namespace

extern "C" {

qscan *qscan_create(int32_t dimension, int32_t vectors_per_item) {
    if (dimension <= 0 || vectors_per_item <= 0) return nullptr;
    qscan *scan = new (std::nothrow) qscan();
    if (scan == nullptr) return nullptr;
    scan->dimension = dimension;
    scan->vectors_per_item = vectors_per_item;
    return scan;
}

void qscan_free(qscan *scan) { delete scan; }

int64_t qscan_count(const qscan *scan) { return scan ? static_cast<int64_t>(scan->ids.size()) : 0; }

int qscan_add(qscan *scan, const int64_t *ids, const float *vectors, int64_t count) {
    if (scan == nullptr || (count > 0 && (ids == nullptr || vectors == nullptr)) || count < 0) {
        return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    for (int64_t i = 0; i < count; ++i) {
        if (scan->slot_of.count(ids[i])) return QSCAN_ERROR_DUPLICATE_ID;
    }
    try {
        const size_t d = scan->dimension, q = scan->vectors_per_item;
        for (int64_t i = 0; i < count; ++i) {
            scan->slot_of.emplace(ids[i], scan->ids.size());
            scan->ids.push_back(ids[i]);
            for (size_t v = 0; v < q; ++v) {
                const float *x = vectors + (size_t(i) * q + v) * d;
                float largest = 0;
                for (size_t j = 0; j < d; ++j) largest = std::max(largest, std::fabs(x[j]));
                const float scale = largest > 0 ? largest / 127.0f : 1.0f;
                scan->scales.push_back(scale);
                for (size_t j = 0; j < d; ++j) {
                    scan->codes.push_back(static_cast<int8_t>(std::lrint(x[j] / scale)));
                }
            }
        }
    } catch (const std::bad_alloc &) {
        return QSCAN_ERROR_OUT_OF_MEMORY;
    }
    return QSCAN_OK;
}

int qscan_remove(qscan *scan, const int64_t *ids, int64_t count, int64_t *removed) {
    if (scan == nullptr || (count > 0 && ids == nullptr)) return QSCAN_ERROR_INVALID_ARGUMENT;
    const size_t d = scan->dimension, q = scan->vectors_per_item;
    int64_t gone = 0;
    for (int64_t i = 0; i < count; ++i) {
        auto found = scan->slot_of.find(ids[i]);
        if (found == scan->slot_of.end()) continue;
        // Move the last item into the freed slot, so storage stays contiguous.
        const size_t slot = found->second, last = scan->ids.size() - 1;
        scan->slot_of.erase(found);
        if (slot != last) {
            scan->ids[slot] = scan->ids[last];
            scan->slot_of[scan->ids[slot]] = slot;
            std::memcpy(&scan->codes[slot * q * d], &scan->codes[last * q * d], q * d);
            std::memcpy(&scan->scales[slot * q], &scan->scales[last * q], q * sizeof(float));
        }
        scan->ids.pop_back();
        scan->codes.resize(scan->ids.size() * q * d);
        scan->scales.resize(scan->ids.size() * q);
        ++gone;
    }
    if (removed != nullptr) *removed = gone;
    return QSCAN_OK;
}

int qscan_candidates(const qscan *scan, const float *search, int32_t search_count, int64_t k,
                     int32_t threads, int64_t *ids, float *upper_bounds, int64_t capacity,
                     int64_t *count) {
    if (scan == nullptr || search == nullptr || search_count <= 0 || k <= 0 || count == nullptr) {
        return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    const size_t items = scan->ids.size();
    *count = 0;
    if (items == 0) return QSCAN_OK;
    try {
        std::vector<float> l1_norms(search_count);
        for (int32_t t = 0; t < search_count; ++t) {
            float norm = 0;
            for (int32_t i = 0; i < scan->dimension; ++i) norm += std::fabs(search[size_t(t) * scan->dimension + i]);
            l1_norms[t] = norm;
        }
        std::vector<Bounds> bounds(items);
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        size_t workers = threads > 0 ? size_t(threads) : std::max(1u, std::thread::hardware_concurrency());
        workers = std::min(workers, std::max<size_t>(1, items / 256));
        auto work = [&](size_t w) {
            const size_t first = items * w / workers, last = items * (w + 1) / workers;
            if (avx2) scan_items_avx2(*scan, search, search_count, l1_norms.data(), first, last, bounds.data());
            else scan_items_baseline(*scan, search, search_count, l1_norms.data(), first, last, bounds.data());
        };
        std::vector<std::thread> pool;
        for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
        work(0);
        for (auto &thread : pool) thread.join();

        // The K-th largest lower bound: at least K items score at least this much.
        std::vector<float> lowers(items);
        for (size_t i = 0; i < items; ++i) lowers[i] = bounds[i].lower;
        const size_t kth = std::min<size_t>(size_t(k), items) - 1;
        std::nth_element(lowers.begin(), lowers.begin() + kth, lowers.end(), std::greater<float>());
        const float threshold = lowers[kth];
        int64_t found = 0;
        for (size_t i = 0; i < items; ++i) {
            if (bounds[i].upper < threshold) continue;
            if (found < capacity && ids != nullptr && upper_bounds != nullptr) {
                ids[found] = scan->ids[i];
                upper_bounds[found] = bounds[i].upper;
            }
            ++found;
        }
        *count = found;
        return found > capacity ? QSCAN_ERROR_CAPACITY : QSCAN_OK;
    } catch (const std::bad_alloc &) {
        return QSCAN_ERROR_OUT_OF_MEMORY;
    } catch (const std::system_error &) {
        return QSCAN_ERROR_OUT_OF_MEMORY;  // no thread could be started
    }
}

}  // extern "C"

namespace {

constexpr char kMagic[8] = {'I', 'M', 'G', 'Q', 'S', 'C', 'N', '1'};

struct FileCloser {
    void operator()(FILE *file) const { if (file) std::fclose(file); }
};

template <typename T>
bool write_all(FILE *file, const std::vector<T> &values) {
    return values.empty() || std::fwrite(values.data(), sizeof(T), values.size(), file) == values.size();
}

template <typename T>
bool read_all(FILE *file, std::vector<T> &values, size_t count) {
    values.resize(count);
    return count == 0 || std::fread(values.data(), sizeof(T), count, file) == count;
}

}  // namespace

extern "C" {

int qscan_save(const qscan *scan, const char *path) {
    if (scan == nullptr || path == nullptr) return QSCAN_ERROR_INVALID_ARGUMENT;
    const std::string temporary = std::string(path) + ".tmp";
    {
        std::unique_ptr<FILE, FileCloser> file(std::fopen(temporary.c_str(), "wb"));
        if (!file) return QSCAN_ERROR_IO;
        const int64_t header[3] = {scan->dimension, scan->vectors_per_item, int64_t(scan->ids.size())};
        bool ok = std::fwrite(kMagic, 1, sizeof(kMagic), file.get()) == sizeof(kMagic) &&
                  std::fwrite(header, sizeof(int64_t), 3, file.get()) == 3 && write_all(file.get(), scan->ids) &&
                  write_all(file.get(), scan->scales) && write_all(file.get(), scan->codes) &&
                  std::fflush(file.get()) == 0;
        if (!ok) {
            std::remove(temporary.c_str());
            return QSCAN_ERROR_IO;
        }
    }
    if (std::rename(temporary.c_str(), path) != 0) {
        std::remove(temporary.c_str());
        return QSCAN_ERROR_IO;
    }
    return QSCAN_OK;
}

qscan *qscan_load(const char *path, int32_t dimension, int32_t vectors_per_item) {
    if (path == nullptr) return nullptr;
    std::unique_ptr<FILE, FileCloser> file(std::fopen(path, "rb"));
    if (!file) return nullptr;
    char magic[sizeof(kMagic)];
    int64_t header[3];
    if (std::fread(magic, 1, sizeof(magic), file.get()) != sizeof(magic) ||
        std::memcmp(magic, kMagic, sizeof(kMagic)) != 0 ||
        std::fread(header, sizeof(int64_t), 3, file.get()) != 3 || header[0] != dimension ||
        header[1] != vectors_per_item || header[2] < 0) {
        return nullptr;
    }
    std::unique_ptr<qscan> scan(qscan_create(dimension, vectors_per_item));
    if (!scan) return nullptr;
    try {
        const size_t items = size_t(header[2]), rows = items * size_t(vectors_per_item);
        if (!read_all(file.get(), scan->ids, items) || !read_all(file.get(), scan->scales, rows) ||
            !read_all(file.get(), scan->codes, rows * size_t(dimension)) || std::fgetc(file.get()) != EOF) {
            return nullptr;
        }
        for (size_t i = 0; i < items; ++i) {
            if (!scan->slot_of.emplace(scan->ids[i], i).second) return nullptr;
        }
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
    return scan.release();
}

}  // extern "C"
