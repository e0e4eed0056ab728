#include "safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "blip2_error.hpp"

namespace blip2 {
namespace {

using nlohmann::json;

bool file_exists(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

/** Bytes per element of the dtypes safetensors defines; 0 for an unknown name. */
size_t element_size(const std::string &dtype) {
    static const std::map<std::string, size_t> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
        {"U16", 2}, {"U32", 4}, {"U64", 8}};
    auto found = sizes.find(dtype);
    return found == sizes.end() ? 0 : found->second;
}

std::string join_path(const std::string &directory, const std::string &name) {
    if (directory.empty() || directory.back() == '/') return directory + name;
    return directory + "/" + name;
}

}  // namespace

MappedFile::MappedFile(const std::string &path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw Error(BLIP2_ERROR_IO, path + ": cannot open: " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int saved = errno;
        ::close(fd);
        throw Error(BLIP2_ERROR_IO, path + ": cannot stat: " + std::strerror(saved));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) {
        ::close(fd);
        throw Error(BLIP2_ERROR_IO, path + ": file is empty");
    }
    void *mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    ::close(fd);
    if (mapping == MAP_FAILED) {
        throw Error(BLIP2_ERROR_IO, path + ": cannot memory-map: " + std::strerror(saved));
    }
    data_ = static_cast<const uint8_t *>(mapping);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t *>(data_), size_);
}

SafetensorsArchive SafetensorsArchive::open_snapshot(const std::string &directory) {
    SafetensorsArchive archive;
    const std::string single = join_path(directory, "model.safetensors");
    const std::string index = join_path(directory, "model.safetensors.index.json");
    if (file_exists(single)) {
        archive.add_file(single);
        return archive;
    }
    if (!file_exists(index)) {
        throw Error(BLIP2_ERROR_IO, directory +
                                        ": no model.safetensors or model.safetensors.index.json "
                                        "(is this a Hugging Face snapshot directory?)");
    }
    json weight_map;
    try {
        std::ifstream stream(index);
        json parsed = json::parse(stream);
        weight_map = parsed.at("weight_map");
        if (!weight_map.is_object()) throw std::runtime_error("weight_map is not an object");
    } catch (const std::exception &e) {
        throw Error(BLIP2_ERROR_FORMAT, index + ": malformed index: " + e.what());
    }
    std::set<std::string> shards;
    for (auto &entry : weight_map.items()) {
        if (!entry.value().is_string()) {
            throw Error(BLIP2_ERROR_FORMAT, index + ": weight_map[\"" + entry.key() +
                                                "\"] is not a file name");
        }
        shards.insert(entry.value().get<std::string>());
    }
    for (const auto &shard : shards) {
        if (shard.find('/') != std::string::npos) {
            throw Error(BLIP2_ERROR_FORMAT, index + ": shard name \"" + shard +
                                                "\" must be a plain file name");
        }
        archive.add_file(join_path(directory, shard));
    }
    for (auto &entry : weight_map.items()) {
        if (archive.tensors_.count(entry.key()) == 0) {
            throw Error(BLIP2_ERROR_MISSING_TENSOR,
                        index + ": tensor " + entry.key() + " is listed for " +
                            entry.value().get<std::string>() + " but that file lacks it");
        }
    }
    return archive;
}

void SafetensorsArchive::add_file(const std::string &path) {
    auto file = std::make_shared<MappedFile>(path);
    if (file->size() < 8) {
        throw Error(BLIP2_ERROR_IO, path + ": truncated: shorter than the 8-byte header length");
    }
    uint64_t header_length = 0;
    for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | file->data()[i];
    if (header_length > file->size() - 8) {
        throw Error(BLIP2_ERROR_IO, path + ": truncated: the header claims " +
                                        std::to_string(header_length) + " bytes, the file has " +
                                        std::to_string(file->size()));
    }
    json header;
    try {
        header = json::parse(file->data() + 8, file->data() + 8 + header_length);
    } catch (const std::exception &e) {
        throw Error(BLIP2_ERROR_FORMAT, path + ": malformed safetensors header: " + e.what());
    }
    if (!header.is_object()) {
        throw Error(BLIP2_ERROR_FORMAT, path + ": safetensors header is not a JSON object");
    }
    const uint8_t *data_start = file->data() + 8 + header_length;
    const size_t data_size = file->size() - 8 - header_length;
    for (auto &item : header.items()) {
        if (item.key() == "__metadata__") continue;
        TensorRecord record;
        record.name = item.key();
        record.file = file;
        uint64_t begin = 0, end = 0;
        try {
            const json &entry = item.value();
            record.dtype = entry.at("dtype").get<std::string>();
            record.shape = entry.at("shape").get<std::vector<int64_t>>();
            auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
            if (offsets.size() != 2) throw std::runtime_error("data_offsets needs 2 numbers");
            begin = offsets[0];
            end = offsets[1];
        } catch (const std::exception &e) {
            throw Error(BLIP2_ERROR_FORMAT,
                        path + ": malformed entry for tensor " + item.key() + ": " + e.what());
        }
        if (begin > end) {
            throw Error(BLIP2_ERROR_FORMAT, path + ": tensor " + record.name +
                                                " has data_offsets that run backwards");
        }
        if (end > data_size) {
            throw Error(BLIP2_ERROR_IO, path + ": truncated: tensor " + record.name +
                                            " ends at byte " + std::to_string(end) +
                                            " of a data section of " +
                                            std::to_string(data_size) + " bytes");
        }
        uint64_t elements = 1;
        for (int64_t dim : record.shape) {
            if (dim < 0) {
                throw Error(BLIP2_ERROR_FORMAT,
                            path + ": tensor " + record.name + " has a negative dimension");
            }
            elements *= static_cast<uint64_t>(dim);
        }
        size_t width = element_size(record.dtype);
        if (width != 0 && elements * width != end - begin) {
            throw Error(BLIP2_ERROR_FORMAT, path + ": tensor " + record.name + " holds " +
                                                std::to_string(end - begin) + " bytes but " +
                                                record.dtype + " of its shape needs " +
                                                std::to_string(elements * width));
        }
        record.bytes = data_start + begin;
        record.byte_count = end - begin;
        if (!tensors_.emplace(record.name, record).second) {
            throw Error(BLIP2_ERROR_FORMAT,
                        path + ": tensor " + record.name + " is stored in more than one file");
        }
    }
    files_.push_back(path);
}

std::string SafetensorsArchive::describe_source() const {
    if (files_.size() == 1) return files_.front();
    return std::to_string(files_.size()) + " shards in " +
           files_.front().substr(0, files_.front().find_last_of('/'));
}

}  // namespace blip2
