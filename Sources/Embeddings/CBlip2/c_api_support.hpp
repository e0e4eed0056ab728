// What every C entry point of the engine shares: exceptions turned into a status and a
// message (as llama.cpp does around its C++ core), and device, dtype and config checks.
#pragma once

#include <cstdio>
#include <string>

#include <torch/torch.h>

#include "blip2.h"
#include "blip2_error.hpp"
#include "weights.hpp"

namespace blip2 {

inline int fail(blip2_error *err, blip2_status status, const std::string &message) {
    if (err != nullptr) {
        err->code = status;
        std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
    }
    return status;
}

/** Runs `body`, mapping any exception to a status code and message. */
template <typename Body>
int guarded(blip2_error *err, Body body) {
    try {
        body();
        if (err != nullptr) {
            err->code = BLIP2_OK;
            err->message[0] = '\0';
        }
        return BLIP2_OK;
    } catch (const Error &e) {
        return fail(err, e.status(), e.what());
    } catch (const c10::Error &e) {
        return fail(err, BLIP2_ERROR_RUNTIME, std::string("libtorch: ") + e.what_without_backtrace());
    } catch (const std::bad_alloc &) {
        return fail(err, BLIP2_ERROR_RUNTIME, "out of memory");
    } catch (const std::exception &e) {
        return fail(err, BLIP2_ERROR_RUNTIME, e.what());
    } catch (...) {
        return fail(err, BLIP2_ERROR_RUNTIME, "unknown C++ exception");
    }
}

/** Where and how a model runs, from its load parameters. */
struct Placement {
    torch::Device device;
    /** The dtype activations are computed in. */
    torch::Dtype compute;
    /** How linear layers hold their weights. */
    WeightFormat format;
    /** "fp32", "fp16", "bf16" or "int8": what describe functions report. */
    const char *precision;
};

/** The device (throws Error when this libtorch lacks it) and precision `params` ask for. */
Placement resolve_placement(const blip2_load_params &params);
/** Fails on a vision or Q-Former size the model cannot be built with. */
void check_config(const blip2_config &config);
/**
 * Keeps the CPU engine's activations (up to 64 MB each) in glibc's heap, reused from layer
 * to layer, instead of fresh mappings: glibc maps anew every allocation above its adaptive
 * threshold (32 MB at most), and faulting in and zeroing those pages cost ~15 % of fp32's
 * time and ~25 % of int8's (ViT-g, batch 8). Once per process; nothing outside glibc.
 */
void keep_activations_in_heap();

}  // namespace blip2
