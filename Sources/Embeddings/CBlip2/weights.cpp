#include "weights.hpp"

#include <sstream>

#include <sys/mman.h>
#include <unistd.h>

#include "blip2_error.hpp"
#include "quantized_linear.hpp"

namespace blip2 {
namespace {

std::string shape_text(const std::vector<int64_t> &shape) {
    std::ostringstream text;
    text << "[";
    for (size_t i = 0; i < shape.size(); ++i) text << (i ? ", " : "") << shape[i];
    text << "]";
    return text.str();
}

torch::Dtype stored_dtype(const TensorRecord &record) {
    if (record.dtype == "F32") return torch::kFloat32;
    if (record.dtype == "F16") return torch::kFloat16;
    if (record.dtype == "BF16") return torch::kBFloat16;
    throw Error(BLIP2_ERROR_DTYPE, record.file->path() + ": tensor " + record.name +
                                       " is stored as " + record.dtype +
                                       "; only F32, F16 and BF16 are supported");
}

}  // namespace

WeightStore::WeightStore(SafetensorsArchive archive, torch::Device device, torch::Dtype dtype,
                         WeightFormat format)
    : archive_(std::move(archive)), device_(device), dtype_(dtype), format_(format) {}

bool WeightStore::contains(const std::string &name) const {
    return archive_.tensors().count(name) != 0;
}

const TensorRecord &WeightStore::claim(const std::string &name,
                                       const std::vector<int64_t> &shape) {
    auto found = archive_.tensors().find(name);
    if (found == archive_.tensors().end()) {
        throw Error(BLIP2_ERROR_MISSING_TENSOR, archive_.describe_source() +
                                                    ": missing tensor " + name + " " +
                                                    shape_text(shape));
    }
    const TensorRecord &record = found->second;
    if (record.shape != shape) {
        throw Error(BLIP2_ERROR_SHAPE, record.file->path() + ": tensor " + name + " has shape " +
                                           shape_text(record.shape) + ", config.json implies " +
                                           shape_text(shape));
    }
    stored_dtype(record);
    claimed_.insert(name);
    return record;
}

void WeightStore::check(const std::string &name, const std::vector<int64_t> &shape) {
    claim(name, shape);
}

torch::Tensor WeightStore::load(const std::string &name, const std::vector<int64_t> &shape) {
    return placed(name, shape, device_, dtype_);
}

torch::Tensor WeightStore::load_as(const std::string &name, const std::vector<int64_t> &shape,
                                   torch::Dtype dtype) {
    return placed(name, shape, torch::Device(torch::kCPU), dtype);
}

torch::Tensor WeightStore::placed(const std::string &name, const std::vector<int64_t> &shape,
                                  torch::Device device, torch::Dtype dtype) {
    const TensorRecord &record = claim(name, shape);
    const torch::Dtype stored = stored_dtype(record);
    const size_t width = torch::elementSize(stored);
    auto keep_mapping_alive = record.file;
    // The mapping is read-only and nothing writes to weights, so the const_cast is safe.
    torch::Tensor mapped = torch::from_blob(
        const_cast<uint8_t *>(record.bytes), record.shape,
        [keep_mapping_alive](void *) {}, torch::TensorOptions().dtype(stored));
    const bool aligned = reinterpret_cast<uintptr_t>(record.bytes) % width == 0;
    if (!aligned) mapped = mapped.clone();
    if (stored == dtype && device.is_cpu()) return mapped;
    torch::Tensor converted = mapped.to(device, dtype);
    release_pages(name);
    return converted;
}

void WeightStore::release_pages(const std::string &name) const {
    auto found = archive_.tensors().find(name);
    if (found == archive_.tensors().end() || found->second.byte_count == 0) return;
    static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto start = reinterpret_cast<uintptr_t>(found->second.bytes) & ~(page - 1);
    const auto end = reinterpret_cast<uintptr_t>(found->second.bytes) + found->second.byte_count;
    // The mapping is private and read-only: dropped pages are read from the file again if
    // a neighbouring tensor that shares the edge pages is used.
    ::madvise(reinterpret_cast<void *>(start), end - start, MADV_DONTNEED);
}

void WeightStore::reject_unclaimed(const std::string &architecture) const {
    for (const auto &entry : archive_.tensors()) {
        if (claimed_.count(entry.first) == 0) {
            throw Error(BLIP2_ERROR_UNEXPECTED_TENSOR,
                        entry.second.file->path() + ": unexpected tensor " + entry.first +
                            ": not part of " + architecture + " with this config.json");
        }
    }
}

WeightScope WeightScope::scope(const std::string &name) const {
    return WeightScope(*store_, full_name(name), materialize_, quantizable_);
}

torch::Tensor WeightScope::linear_weight(const std::string &name,
                                         const std::vector<int64_t> &shape) const {
    if (!materialize_ || store_->format() != WeightFormat::bf16_linears) return tensor(name, shape);
    return store_->load_as(full_name(name), shape, torch::kBFloat16);
}

std::shared_ptr<const Int8Linear> WeightScope::int8_weight(const std::string &name,
                                                           const std::vector<int64_t> &shape) const {
    if (!materialize_) {
        store_->check(full_name(name), shape);
        return nullptr;
    }
    auto quantized = Int8Linear::quantize(store_->load_as(full_name(name), shape, torch::kFloat32));
    store_->release_pages(full_name(name));
    return quantized;
}

torch::Tensor WeightScope::tensor(const std::string &name,
                                  const std::vector<int64_t> &shape) const {
    if (!materialize_) {
        store_->check(full_name(name), shape);
        return torch::Tensor();
    }
    return store_->load(full_name(name), shape);
}

}  // namespace blip2
