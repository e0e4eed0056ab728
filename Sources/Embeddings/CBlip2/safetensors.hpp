// Reads the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then
// the raw tensor bytes. Files are memory-mapped, so tensors can be used in place.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace blip2 {

/** A read-only memory mapping of a whole file, unmapped when the last user lets go. */
class MappedFile {
public:
    explicit MappedFile(const std::string &path);
    ~MappedFile();
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;

    const uint8_t *data() const { return data_; }
    size_t size() const { return size_; }
    const std::string &path() const { return path_; }

private:
    std::string path_;
    const uint8_t *data_ = nullptr;
    size_t size_ = 0;
};

/** Where one stored tensor lives and what it is. */
struct TensorRecord {
    std::string name;
    std::string dtype;            // "F32", "F16", "BF16", ...
    std::vector<int64_t> shape;
    std::shared_ptr<MappedFile> file;
    const uint8_t *bytes = nullptr;
    size_t byte_count = 0;
};

/**
 * Every tensor of a snapshot: one `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json`. Throws blip2::Error naming the file on any defect
 * (missing, truncated, malformed header, overlapping or out-of-range offsets).
 */
class SafetensorsArchive {
public:
    static SafetensorsArchive open_snapshot(const std::string &directory);

    const std::map<std::string, TensorRecord> &tensors() const { return tensors_; }
    std::string describe_source() const;

private:
    void add_file(const std::string &path);

    std::map<std::string, TensorRecord> tensors_;
    std::vector<std::string> files_;
};

}  // namespace blip2
