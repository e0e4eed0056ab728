// Named access to a checkpoint's tensors, scoped by prefix so the model code reads like
// the checkpoint (candle's `vs.pp("vision_model")`): `weights.scope("encoder.layers.3")`.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "safetensors.hpp"

namespace blip2 {

class Int8Linear;

/**
 * How linear layers hold their weights. `plain`: in the compute dtype, like every other
 * tensor. `bf16_linears` (CPU): every linear weight in bf16 (memory-mapped when stored
 * so), widened to fp32 one layer at a time. `int8_linears` (CPU): the linear weights of
 * the scopes marked quantizable (vision encoder, Q-Former layers) in int8 (Int8Linear);
 * the rest plain.
 */
enum class WeightFormat { plain, bf16_linears, int8_linears };

/** The tensors of a snapshot, the device and dtype they are placed in, and which were used. */
class WeightStore {
public:
    WeightStore(SafetensorsArchive archive, torch::Device device, torch::Dtype dtype,
                WeightFormat format = WeightFormat::plain);

    bool contains(const std::string &name) const;
    /** Checks name, stored dtype and shape; returns the tensor on the target device/dtype. */
    torch::Tensor load(const std::string &name, const std::vector<int64_t> &shape);
    /**
     * The tensor in `dtype` on the CPU: memory-mapped when stored so, otherwise a converted
     * copy, after which the stored bytes' pages are dropped from memory.
     */
    torch::Tensor load_as(const std::string &name, const std::vector<int64_t> &shape, torch::Dtype dtype);
    /** Drops the pages of a stored tensor from this process's memory (read again on use). */
    void release_pages(const std::string &name) const;
    /** Checks name, stored dtype and shape without reading the data (a part not loaded). */
    void check(const std::string &name, const std::vector<int64_t> &shape);
    /** Fails, naming the first one, when the checkpoint holds a tensor nothing asked for. */
    void reject_unclaimed(const std::string &architecture) const;

    torch::Device device() const { return device_; }
    torch::Dtype dtype() const { return dtype_; }
    WeightFormat format() const { return format_; }

private:
    const TensorRecord &claim(const std::string &name, const std::vector<int64_t> &shape);
    torch::Tensor placed(const std::string &name, const std::vector<int64_t> &shape, torch::Device device,
                         torch::Dtype dtype);

    SafetensorsArchive archive_;
    torch::Device device_;
    torch::Dtype dtype_;
    WeightFormat format_;
    std::set<std::string> claimed_;
};

/**
 * A prefix into a WeightStore. A scope made by `checked_only()` verifies names and shapes
 * but returns undefined tensors, so a part of the model that is not needed (the vision
 * tower of a text-only search) costs no memory and is still validated.
 */
class WeightScope {
public:
    WeightScope(WeightStore &store, std::string prefix, bool materialize = true, bool quantizable = false)
        : store_(&store), prefix_(std::move(prefix)), materialize_(materialize), quantizable_(quantizable) {}

    WeightScope scope(const std::string &name) const;
    WeightScope scope(const std::string &name, int64_t index) const {
        return scope(name + "." + std::to_string(index));
    }
    WeightScope checked_only() const { return WeightScope(*store_, prefix_, false, quantizable_); }
    /** This scope with its linear layers (and those below it) int8 under `int8_linears`. */
    WeightScope quantizable() const { return WeightScope(*store_, prefix_, materialize_, true); }

    torch::Tensor tensor(const std::string &name, const std::vector<int64_t> &shape) const;
    /** A linear layer's weight [out, in] in the store's format for linear weights. */
    torch::Tensor linear_weight(const std::string &name, const std::vector<int64_t> &shape) const;
    /** Whether this scope's linear layers are int8. */
    bool quantized() const { return quantizable_ && store_->format() == WeightFormat::int8_linears; }
    /** A quantized linear layer's weight; null (after checking it) when not materialized. */
    std::shared_ptr<const Int8Linear> int8_weight(const std::string &name, const std::vector<int64_t> &shape) const;
    bool contains(const std::string &name) const { return store_->contains(full_name(name)); }
    bool materialized() const { return materialize_; }

private:
    std::string full_name(const std::string &name) const {
        return prefix_.empty() ? name : prefix_ + "." + name;
    }

    WeightStore *store_;
    std::string prefix_;
    bool materialize_;
    bool quantizable_;
};

}  // namespace blip2
