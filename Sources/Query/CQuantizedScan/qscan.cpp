// qscan's store: creating, filling and emptying the int8 planes (see include/qscan.h).
#include "qscan_store.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

using namespace qscan_detail;

/// The slots to search: every item, or those of the `among` ids the store holds, each once.
std::vector<size_t> qscan_detail::searched_slots(const qscan &s, const int64_t *among, int64_t among_count) {
    std::vector<size_t> slots;
    if (among == nullptr) {
        slots.resize(s.ids.size());
        for (size_t i = 0; i < slots.size(); ++i) slots[i] = i;
        return slots;
    }
    std::vector<bool> taken(s.ids.size(), false);
    for (int64_t n = 0; n < among_count; ++n) {
        const auto found = s.slot_of.find(among[n]);
        if (found != s.slot_of.end() && !taken[found->second]) {
            taken[found->second] = true;
            slots.push_back(found->second);
        }
    }
    std::sort(slots.begin(), slots.end());  // storage order: the scan streams from memory
    return slots;
}

/// Appends the summary of one item's `vectors_per_item` fp32 vectors: their mean as int8
/// codes, and the largest distance of a vector from that quantised mean, rounded up.
void qscan_detail::add_summary(qscan &s, const float *vectors) {
    const size_t d = size_t(s.dimension), q = size_t(s.vectors_per_item);
    std::vector<double> mean(d, 0.0);
    for (size_t v = 0; v < q; ++v)
        for (size_t j = 0; j < d; ++j) mean[j] += vectors[v * d + j];
    double largest = 0;
    for (size_t j = 0; j < d; ++j) largest = std::max(largest, std::fabs(mean[j] /= double(q)));
    const float scale = largest > 0 ? float(largest / 127.0) : 1.0f;
    std::vector<int8_t> codes(s.padded_dimension(), 0);
    for (size_t j = 0; j < d; ++j) codes[j] = int8_t(std::clamp(std::lrint(mean[j] / scale), -127L, 127L));
    double radius = 0;
    for (size_t v = 0; v < q; ++v) {
        double squares = 0;
        for (size_t j = 0; j < d; ++j) {
            const double gap = double(vectors[v * d + j]) - double(scale) * double(codes[j]);
            squares += gap * gap;
        }
        radius = std::max(radius, std::sqrt(squares));
    }
    s.reference_codes.insert(s.reference_codes.end(), codes.begin(), codes.end());
    s.reference_scales.push_back(scale);
    s.radii.push_back(float(radius * (1 + 1e-6) + 1e-7));
}

extern "C" {

qscan *qscan_create(int32_t dimension, int32_t vectors_per_item) {
    if (dimension <= 0 || dimension > 65536 || vectors_per_item <= 0) return nullptr;
    qscan *scan = new (std::nothrow) qscan();
    if (scan == nullptr) return nullptr;
    scan->dimension = dimension;
    scan->vectors_per_item = vectors_per_item;
    scan->plane_bytes = (size_t(dimension) + kBlockDimensions - 1) / kBlockDimensions * kBlockBytes;
    return scan;
}

void qscan_free(qscan *scan) { delete scan; }

int64_t qscan_count(const qscan *scan) { return scan ? static_cast<int64_t>(scan->ids.size()) : 0; }

int qscan_add(qscan *scan, const int64_t *ids, const float *vectors, int64_t count) {
    if (scan == nullptr || (count > 0 && (ids == nullptr || vectors == nullptr)) || count < 0) {
        return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    const size_t d = scan->dimension, q = scan->vectors_per_item, pb = scan->plane_bytes;
    for (size_t j = 0; j < size_t(count) * q * d; ++j) {
        if (!std::isfinite(vectors[j])) return QSCAN_ERROR_INVALID_ARGUMENT;
    }
    const size_t old_items = scan->ids.size(), old_rows = scan->scales.size(), pd = scan->padded_dimension();
    try {
        std::unordered_set<int64_t> batch;
        for (int64_t i = 0; i < count; ++i) {
            if (scan->slot_of.count(ids[i]) || !batch.insert(ids[i]).second) return QSCAN_ERROR_DUPLICATE_ID;
        }
        // The data first, the ids last: should memory run out, what was appended is cut
        // back and the store is as it was.
        std::vector<int8_t> codes(scan->padded_dimension(), 0);
        for (int64_t i = 0; i < count; ++i) {
            for (size_t v = 0; v < q; ++v) {
                const float *x = vectors + (size_t(i) * q + v) * d;
                float largest = 0;
                for (size_t j = 0; j < d; ++j) largest = std::max(largest, std::fabs(x[j]));
                const float scale = largest > 0 ? largest / 127.0f : 1.0f;
                int32_t l1 = 0;
                for (size_t j = 0; j < d; ++j) {
                    codes[j] = static_cast<int8_t>(std::clamp(std::lrint(x[j] / scale), -127L, 127L));
                    l1 += std::abs(int32_t(codes[j]));
                }
                scan->scales.push_back(scale);
                scan->code_l1.push_back(float(l1));
                for (size_t k = 0; k < pb; ++k) {
                    const size_t base = k / kBlockBytes * kBlockDimensions + k % kBlockBytes;
                    const int32_t a = codes[base], b = codes[base + kBlockBytes];
                    scan->high.push_back(uint8_t(((a >> 4) + 8) | (((b >> 4) + 8) << 4)));
                    scan->low.push_back(uint8_t((a & 15) | ((b & 15) << 4)));
                }
            }
        }
        for (int64_t i = 0; i < count; ++i) add_summary(*scan, vectors + size_t(i) * q * d);
        for (int64_t i = 0; i < count; ++i) {
            scan->ids.push_back(ids[i]);
            scan->slot_of.emplace(ids[i], old_items + size_t(i));
        }
    } catch (const std::bad_alloc &) {
        for (int64_t i = 0; i < count; ++i) {
            auto found = scan->slot_of.find(ids[i]);
            if (found != scan->slot_of.end() && found->second >= old_items) scan->slot_of.erase(found);
        }
        scan->ids.resize(old_items);
        scan->scales.resize(old_rows);
        scan->code_l1.resize(old_rows);
        scan->high.resize(old_rows * pb);
        scan->low.resize(old_rows * pb);
        scan->reference_codes.resize(old_items * pd);
        scan->reference_scales.resize(old_items);
        scan->radii.resize(old_items);
        return QSCAN_ERROR_OUT_OF_MEMORY;
    }
    return QSCAN_OK;
}

int qscan_remove(qscan *scan, const int64_t *ids, int64_t count, int64_t *removed) {
    if (scan == nullptr || (count > 0 && ids == nullptr)) return QSCAN_ERROR_INVALID_ARGUMENT;
    const size_t q = scan->vectors_per_item, item_bytes = q * scan->plane_bytes;
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
            std::memcpy(&scan->high[slot * item_bytes], &scan->high[last * item_bytes], item_bytes);
            std::memcpy(&scan->low[slot * item_bytes], &scan->low[last * item_bytes], item_bytes);
            std::memcpy(&scan->scales[slot * q], &scan->scales[last * q], q * sizeof(float));
            std::memcpy(&scan->code_l1[slot * q], &scan->code_l1[last * q], q * sizeof(float));
            const size_t pd = scan->padded_dimension();
            std::memcpy(&scan->reference_codes[slot * pd], &scan->reference_codes[last * pd], pd);
            scan->reference_scales[slot] = scan->reference_scales[last];
            scan->radii[slot] = scan->radii[last];
        }
        scan->ids.pop_back();
        scan->high.resize(scan->ids.size() * item_bytes);
        scan->low.resize(scan->ids.size() * item_bytes);
        scan->scales.resize(scan->ids.size() * q);
        scan->code_l1.resize(scan->ids.size() * q);
        scan->reference_codes.resize(scan->ids.size() * scan->padded_dimension());
        scan->reference_scales.resize(scan->ids.size());
        scan->radii.resize(scan->ids.size());
        ++gone;
    }
    if (removed != nullptr) *removed = gone;
    return QSCAN_OK;
}

const char *qscan_status_text(int status) {
    switch (status) {
        case QSCAN_OK: return "no error";
        case QSCAN_ERROR_INVALID_ARGUMENT: return "invalid argument (a NULL pointer, a bad size, or a value that is NaN or infinite)";
        case QSCAN_ERROR_OUT_OF_MEMORY: return "out of memory (or no thread could be started)";
        case QSCAN_ERROR_DUPLICATE_ID: return "an id is already in the store, or given twice";
        case QSCAN_ERROR_CAPACITY: return "more candidates than the output buffers hold";
        case QSCAN_ERROR_IO: return "the file cannot be written";
        default: return "unknown status";
    }
}

}  // extern "C"
