// The int8 store shared by qscan's parts (store, search, file): the layout of struct qscan
// and the huge-page planes. Internal to CQuantizedScan; the API is include/qscan.h.
#ifndef IMGSEARCH_QSCAN_STORE_HPP
#define IMGSEARCH_QSCAN_STORE_HPP

#include "qscan.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <unordered_map>
#include <vector>

namespace qscan_detail {

/**
 * Allocations of 2 MB and more are 2 MB aligned and marked for transparent huge pages (the
 * system default is "madvise" on Debian). The coarse pass streams its plane from memory, and
 * with 4 KB pages a virtual machine spends a fifth of that pass on TLB misses.
 */
template <typename T>
struct HugePageAllocator {
    using value_type = T;
    HugePageAllocator() = default;
    template <typename U>
    HugePageAllocator(const HugePageAllocator<U> &) {}

    T *allocate(size_t count) {
        constexpr size_t huge = size_t(2) << 20;
        const size_t bytes = count * sizeof(T), alignment = bytes >= huge ? huge : 64;
        void *memory = std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
        if (memory == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
        if (alignment == huge) madvise(memory, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
#endif
        return static_cast<T *>(memory);
    }
    void deallocate(T *memory, size_t) { std::free(memory); }
    friend bool operator==(const HugePageAllocator &, const HugePageAllocator &) { return true; }
    friend bool operator!=(const HugePageAllocator &, const HugePageAllocator &) { return false; }
};

using Plane = std::vector<uint8_t, HugePageAllocator<uint8_t>>;

/// Dimensions go in blocks of 64: byte j of a block's 32 holds dimension j in its low nibble
/// and dimension 32 + j in its high one, so one AVX2 load gives 64 dimensions.
constexpr size_t kBlockDimensions = 64, kBlockBytes = 32;

/// The items scanned first, to tell whether the coarse pass pays: an eighth of them, in runs
/// of 63 that stream from memory, repeating every 503 items, a period (prime) that no
/// power-of-two pattern of the data can line up with.
constexpr size_t kSamplePeriod = 503, kSampleRun = 63;

}  // namespace qscan_detail

struct qscan {
    using Plane = qscan_detail::Plane;

    int32_t dimension;
    int32_t vectors_per_item;
    size_t plane_bytes;            // per vector and plane: the dimension rounded up to a block, halved
    Plane high;                    // [rows, plane_bytes]: (code >> 4) + 8, in 0...15
    Plane low;                     // [rows, plane_bytes]: code & 15
    std::vector<float> scales;     // [rows]: vector ≈ scale × code
    std::vector<float> code_l1;    // [rows]: Σ|code|
    // Each item's summary, for searches with many vectors (an image's 32): a reference point
    // r, stored as int8 codes and a scale (r = reference_scale × code), and the distance
    // from r of the item's farthest vector (rounded up), which bound what the item can score
    // without reading its vectors (qscan_search.cpp).
    std::vector<int8_t> reference_codes;   // [items, padded dimension]
    std::vector<float> reference_scales;   // [items]
    std::vector<float> radii;              // [items]
    std::vector<int64_t> ids;      // [items]
    std::unordered_map<int64_t, size_t> slot_of;

    size_t padded_dimension() const { return plane_bytes * 2; }
};

namespace qscan_detail {

/// The slots a search reads: every item, or those of the `among` ids the store holds, each
/// once, in storage order.
std::vector<size_t> searched_slots(const qscan &s, const int64_t *among, int64_t among_count);

/// Appends the summary (reference point and radius) of one item's fp32 vectors.
void add_summary(qscan &s, const float *vectors);

}  // namespace qscan_detail

#endif
