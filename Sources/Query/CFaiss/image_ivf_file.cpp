// image_ivf's cache file: the index written with an XXH3-64 checksum, and read back.
#include "image_ivf_index.hpp"

#include <cstdio>

#define XXH_INLINE_ALL  // header-only: no library to link
#include <xxhash.h>

namespace image_ivf_detail {

constexpr char kMagic[8] = {'I', 'M', 'G', 'I', 'V', 'F', '0', '2'};

struct FileCloser {
    void operator()(FILE *file) const { if (file) std::fclose(file); }
};

/// A cache file being written or read, with the running checksum of its bytes.
struct ChecksummedFile {
    std::unique_ptr<FILE, FileCloser> file;
    XXH3_state_t checksum;

    ChecksummedFile(const char *path, const char *mode) : file(std::fopen(path, mode)) { XXH3_64bits_reset(&checksum); }

    /// Appends the checksum of everything written so far.
    bool write_checksum() {
        const uint64_t digest = XXH3_64bits_digest(&checksum);
        return std::fwrite(&digest, sizeof(digest), 1, file.get()) == 1;
    }

    /// Whether the file ends with the checksum of everything read so far, and nothing after.
    bool checksum_holds() {
        uint64_t digest = 0;
        return std::fread(&digest, sizeof(digest), 1, file.get()) == 1 && digest == XXH3_64bits_digest(&checksum) &&
               std::fgetc(file.get()) == EOF;
    }
};

template <typename T>
bool write_values(ChecksummedFile &out, const T *values, size_t count) {
    if (count == 0) return true;
    XXH3_64bits_update(&out.checksum, values, count * sizeof(T));
    return std::fwrite(values, sizeof(T), count, out.file.get()) == count;
}

template <typename T>
bool read_values(ChecksummedFile &in, std::vector<T> &values, size_t count) {
    values.resize(count);
    if (count == 0) return true;
    if (std::fread(values.data(), sizeof(T), count, in.file.get()) != count) return false;
    XXH3_64bits_update(&in.checksum, values.data(), count * sizeof(T));
    return true;
}

}  // namespace image_ivf_detail

using namespace image_ivf_detail;

bool image_ivf::save(const char *path) const {
    const std::string temporary = std::string(path) + ".tmp";
    {
        ChecksummedFile out(temporary.c_str(), "wb");
        if (!out.file) return false;
        const int32_t header[4] = {dimension, vectors_per_image, list_count, trained ? 1 : 0};
        bool ok = write_values(out, kMagic, sizeof(kMagic)) && write_values(out, header, 4) &&
                  write_values(out, centroids.data(), centroids.size()) &&
                  write_values(out, codebooks.data(), codebooks.size());
        for (const auto &list : lists) {
            const int64_t count = int64_t(list.ids.size());
            ok = ok && write_values(out, &count, 1) && write_values(out, list.ids.data(), list.ids.size()) &&
                 write_values(out, list.codes.data(), list.codes.size());
        }
        if (!ok || !out.write_checksum() || std::fflush(out.file.get()) != 0) {
            std::remove(temporary.c_str());
            return false;
        }
    }
    if (std::rename(temporary.c_str(), path) != 0) {
        std::remove(temporary.c_str());
        return false;
    }
    return true;
}


std::unique_ptr<image_ivf> image_ivf::read(const char *path, int dimension, int vectors_per_image) {
    ChecksummedFile in(path, "rb");
    if (!in.file || std::fseek(in.file.get(), 0, SEEK_END) != 0) return nullptr;
    const long size = std::ftell(in.file.get());
    std::rewind(in.file.get());
    std::vector<char> magic;
    std::vector<int32_t> header;
    if (size < 0 || !read_values(in, magic, sizeof(kMagic)) ||
        std::memcmp(magic.data(), kMagic, sizeof(kMagic)) != 0 || !read_values(in, header, 4) ||
        header[0] != dimension || header[1] != vectors_per_image || header[2] <= 0 || header[2] > (1 << 24) ||
        header[3] != 1) {
        return nullptr;
    }
    auto index = std::make_unique<image_ivf>(dimension, vectors_per_image, header[2]);
    return index->read_contents(in, size) ? std::move(index) : nullptr;
}


bool image_ivf::read_contents(ChecksummedFile &in, long size) {
    if (!read_values(in, centroids, size_t(list_count) * dimension) ||
        !read_values(in, codebooks, size_t(pieces) * kCentroidsPerPiece * kPieceDimension)) {
        return false;
    }
    for (int32_t l = 0; l < list_count; l++) {
        std::vector<int64_t> count;
        if (!read_values(in, count, 1) || count[0] < 0) return false;
        // A damaged count must not make us allocate more than the file could hold.
        const long left = size - std::ftell(in.file.get());
        if (count[0] > left / int64_t(sizeof(int64_t) + image_code_bytes())) return false;
        ImageList &list = lists[l];
        if (!read_values(in, list.ids, size_t(count[0])) ||
            !read_values(in, list.codes, size_t(count[0]) * image_code_bytes()))
            return false;
        for (int64_t position = 0; position < count[0]; position++) {
            if (!locations.emplace(list.ids[position], Location{l, position}).second) return false;
        }
    }
    trained = true;
    return in.checksum_holds();
}

