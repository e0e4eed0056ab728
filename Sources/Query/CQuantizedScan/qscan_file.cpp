// qscan's cache file: the store written with a checksum, and read back (see include/qscan.h).
#include "qscan_store.hpp"

#define XXH_INLINE_ALL  // header-only: no library to link
#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

// Version 3: the body is followed by its XXH3-64 checksum, so a damaged cache is rebuilt.
constexpr char kMagic[8] = {'I', 'M', 'G', 'Q', 'S', 'C', 'N', '4'};

struct FileCloser {
    void operator()(FILE *file) const { if (file) std::fclose(file); }
};

struct HashStateFree {
    void operator()(XXH3_state_t *state) const { XXH3_freeState(state); }
};

/// A fresh XXH3-64 state (nullptr when out of memory).
std::unique_ptr<XXH3_state_t, HashStateFree> new_checksum() {
    std::unique_ptr<XXH3_state_t, HashStateFree> state(XXH3_createState());
    if (state && XXH3_64bits_reset(state.get()) != XXH_OK) state.reset();
    return state;
}

template <typename Vector>
bool write_all(FILE *file, const Vector &values, XXH3_state_t *checksum) {
    using T = typename Vector::value_type;
    if (values.empty()) return true;
    XXH3_64bits_update(checksum, values.data(), values.size() * sizeof(T));
    return std::fwrite(values.data(), sizeof(T), values.size(), file) == values.size();
}

template <typename Vector>
bool read_all(FILE *file, Vector &values, size_t count, XXH3_state_t *checksum) {
    using T = typename Vector::value_type;
    values.resize(count);
    if (count == 0) return true;
    if (std::fread(values.data(), sizeof(T), count, file) != count) return false;
    XXH3_64bits_update(checksum, values.data(), count * sizeof(T));
    return true;
}

}  // namespace

extern "C" {

int qscan_save(const qscan *scan, const char *path) {
    if (scan == nullptr || path == nullptr) return QSCAN_ERROR_INVALID_ARGUMENT;
    const std::string temporary = std::string(path) + ".tmp";
    {
        std::unique_ptr<FILE, FileCloser> file(std::fopen(temporary.c_str(), "wb"));
        if (!file) return QSCAN_ERROR_IO;
        auto checksum = new_checksum();
        if (!checksum) return QSCAN_ERROR_OUT_OF_MEMORY;
        const int64_t header[3] = {scan->dimension, scan->vectors_per_item, int64_t(scan->ids.size())};
        bool ok = std::fwrite(kMagic, 1, sizeof(kMagic), file.get()) == sizeof(kMagic) &&
                  std::fwrite(header, sizeof(int64_t), 3, file.get()) == 3 &&
                  write_all(file.get(), scan->ids, checksum.get()) && write_all(file.get(), scan->scales, checksum.get()) &&
                  write_all(file.get(), scan->code_l1, checksum.get()) && write_all(file.get(), scan->high, checksum.get()) &&
                  write_all(file.get(), scan->low, checksum.get()) &&
                  write_all(file.get(), scan->reference_codes, checksum.get()) &&
                  write_all(file.get(), scan->reference_scales, checksum.get()) && write_all(file.get(), scan->radii, checksum.get());
        const uint64_t digest = XXH3_64bits_digest(checksum.get());
        ok = ok && std::fwrite(&digest, sizeof(digest), 1, file.get()) == 1 && std::fflush(file.get()) == 0;
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
    if (!file || std::fseek(file.get(), 0, SEEK_END) != 0) return nullptr;
    const long file_size = std::ftell(file.get());
    std::rewind(file.get());
    char magic[sizeof(kMagic)];
    int64_t header[3];
    if (file_size < 0 || std::fread(magic, 1, sizeof(magic), file.get()) != sizeof(magic) ||
        std::memcmp(magic, kMagic, sizeof(kMagic)) != 0 ||
        std::fread(header, sizeof(int64_t), 3, file.get()) != 3 || header[0] != dimension ||
        header[1] != vectors_per_item || header[2] < 0) {
        return nullptr;
    }
    std::unique_ptr<qscan> scan(qscan_create(dimension, vectors_per_item));
    auto checksum = new_checksum();
    if (!scan || !checksum) return nullptr;
    // A damaged count must not make us allocate more than the file holds.
    const size_t row_bytes = 2 * sizeof(float) + 2 * scan->plane_bytes;
    if (header[2] > (file_size / int64_t(sizeof(int64_t) + size_t(vectors_per_item) * row_bytes))) return nullptr;
    try {
        const size_t items = size_t(header[2]), rows = items * size_t(vectors_per_item);
        XXH3_state_t *sum = checksum.get();
        uint64_t digest = 0;
        if (!read_all(file.get(), scan->ids, items, sum) || !read_all(file.get(), scan->scales, rows, sum) ||
            !read_all(file.get(), scan->code_l1, rows, sum) ||
            !read_all(file.get(), scan->high, rows * scan->plane_bytes, sum) ||
            !read_all(file.get(), scan->low, rows * scan->plane_bytes, sum) ||
            !read_all(file.get(), scan->reference_codes, items * scan->padded_dimension(), sum) ||
            !read_all(file.get(), scan->reference_scales, items, sum) || !read_all(file.get(), scan->radii, items, sum) ||
            std::fread(&digest, sizeof(digest), 1, file.get()) != 1 || digest != XXH3_64bits_digest(sum) ||
            std::fgetc(file.get()) != EOF) {
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
