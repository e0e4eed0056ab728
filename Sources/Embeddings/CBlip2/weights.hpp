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

/** The tensors of a snapshot, the device and dtype they are placed in, and which were used. */
class WeightStore {
public:
    WeightStore(SafetensorsArchive archive, torch::Device device, torch::Dtype dtype);

    bool contains(const std::string &name) const;
    /** Checks name, stored dtype and shape; returns the tensor on the target device/dtype. */
    torch::Tensor load(const std::string &name, const std::vector<int64_t> &shape);
    /** Checks name, stored dtype and shape without reading the data (a part not loaded). */
    void check(const std::string &name, const std::vector<int64_t> &shape);
    /** Fails, naming the first one, when the checkpoint holds a tensor nothing asked for. */
    void reject_unclaimed(const std::string &architecture) const;

    torch::Device device() const { return device_; }
    torch::Dtype dtype() const { return dtype_; }

private:
    const TensorRecord &claim(const std::string &name, const std::vector<int64_t> &shape);

    SafetensorsArchive archive_;
    torch::Device device_;
    torch::Dtype dtype_;
    std::set<std::string> claimed_;
};

/**
 * A prefix into a WeightStore. A scope made by `checked_only()` verifies names and shapes
 * but returns undefined tensors, so a part of the model that is not needed (the vision
 * tower of a text-only search) costs no memory and is still validated.
 */
class WeightScope {
public:
    WeightScope(WeightStore &store, std::string prefix, bool materialize = true)
        : store_(&store), prefix_(std::move(prefix)), materialize_(materialize) {}

    WeightScope scope(const std::string &name) const;
    WeightScope scope(const std::string &name, int64_t index) const {
        return scope(name + "." + std::to_string(index));
    }
    WeightScope checked_only() const { return WeightScope(*store_, prefix_, false); }

    torch::Tensor tensor(const std::string &name, const std::vector<int64_t> &shape) const;
    bool contains(const std::string &name) const { return store_->contains(full_name(name)); }
    bool materialized() const { return materialize_; }

private:
    std::string full_name(const std::string &name) const {
        return prefix_.empty() ? name : prefix_ + "." + name;
    }

    WeightStore *store_;
    std::string prefix_;
    bool materialize_;
};

}  // namespace blip2
