// blip2_gpu_check: drives imgsearch's native BLIP-2 engine (Sources/Embeddings/CBlip2) through
// its C API (blip2.h) alone, on the CPU and on CUDA, in fp32, fp16 and bf16.
//
//   blip2_gpu_check parity [--devices cpu,cuda] [--tolerance 1e-4] [--loose 0.1] FIXTURE_DIR...
//       Each FIXTURE_DIR is a Tests/Fixtures/models/* snapshot: config.json, the weights,
//       pixels.f32 (the preprocessed images) and expected.json (transformers 4.46.3, CPU fp32).
//       Prints the largest |difference| of image embeddings, text embeddings, ITC and ITM
//       scores per device and precision. Exit 1 when an fp32 row exceeds --tolerance or an
//       fp16/bf16 row exceeds --loose (or holds a NaN); 0 otherwise. A device that is not
//       available (no CUDA) or a combination the engine refuses (fp16 on the CPU) is reported,
//       not failed.
//
//   blip2_gpu_check bench --model DIR [--device cuda] [--precision fp16] [--batches 32,64]
//                         [--warmup 2] [--iters 5] [--pixels FILE] [--embeddings-out FILE]
//       Times blip2_embed_images (host float32 pixels in, host float32 embeddings out, as the
//       Swift side calls it) after warm-up; prints images/s and the peak device memory in use
//       (total - free, from the CUDA driver, polled every 2 ms: it includes the CUDA context
//       and libtorch's caching allocator). One line per batch size starts with "RESULT " and
//       holds JSON.
//
// Only blip2.h is used to run the model. The one exception, behind BLIP2_CHECK_HAVE_TF32_TOGGLE,
// is a diagnostic parity row "fp32-notf32" that turns off TF32 convolutions in cuDNN (libtorch's
// default allows them, which touches the patch embedding in fp32 on CUDA).
// Builds as C++17 (Debian's libtorch 1.13) and C++20 (libtorch 2.x).

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "blip2.h"

#ifdef BLIP2_CHECK_HAVE_TF32_TOGGLE
#include <ATen/Context.h>
#endif

namespace {

using nlohmann::json;

// ---------------------------------------------------------------- files

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

json read_json(const std::string &path) {
    try {
        return json::parse(read_text(path));
    } catch (const std::exception &e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

std::vector<float> read_floats(const std::string &path) {
    std::string bytes = read_text(path);
    if (bytes.size() % sizeof(float) != 0) throw std::runtime_error(path + ": not float32 data");
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

/** Every leaf number of a nested JSON array, in order. */
void flatten(const json &value, std::vector<double> &out) {
    if (value.is_array()) {
        for (const json &item : value) flatten(item, out);
    } else if (value.is_number()) {
        out.push_back(value.get<double>());
    } else {
        throw std::runtime_error("expected a (nested) array of numbers");
    }
}

std::vector<double> flat(const json &value) {
    std::vector<double> out;
    flatten(value, out);
    return out;
}

// ---------------------------------------------------------------- config.json -> blip2_config

/** The same defaults and keys as Sources/Embeddings/Model/ModelConfig.swift. */
blip2_config read_config(const std::string &path) {
    const json root = read_json(path);
    const json empty = json::object();
    auto section = [&](const char *key) -> const json & {
        auto found = root.find(key);
        return found != root.end() && found->is_object() ? *found : empty;
    };
    const json &vision = section("vision_config"), &qformer = section("qformer_config");
    auto number = [](const json &part, const char *key, double fallback) {
        auto found = part.find(key);
        return found != part.end() && found->is_number() ? found->get<double>() : fallback;
    };
    auto integer = [&](const json &part, const char *key, int64_t fallback) {
        return static_cast<int64_t>(number(part, key, static_cast<double>(fallback)));
    };
    blip2_config c{};
    c.vision_hidden_size = integer(vision, "hidden_size", 1408);
    c.vision_intermediate_size = integer(vision, "intermediate_size", 6144);
    c.vision_num_layers = integer(vision, "num_hidden_layers", 39);
    c.vision_num_heads = integer(vision, "num_attention_heads", 16);
    c.image_size = integer(vision, "image_size", 224);
    c.patch_size = integer(vision, "patch_size", 14);
    c.vision_layer_norm_eps = number(vision, "layer_norm_eps", 1e-6);
    auto qkv_bias = vision.find("qkv_bias");
    c.vision_qkv_bias = qkv_bias != vision.end() && qkv_bias->is_boolean() ? qkv_bias->get<bool>() : 1;
    c.qformer_hidden_size = integer(qformer, "hidden_size", 768);
    c.qformer_intermediate_size = integer(qformer, "intermediate_size", 3072);
    c.qformer_num_layers = integer(qformer, "num_hidden_layers", 12);
    c.qformer_num_heads = integer(qformer, "num_attention_heads", 12);
    c.qformer_vocab_size = integer(qformer, "vocab_size", 30522);
    c.qformer_max_position_embeddings = integer(qformer, "max_position_embeddings", 512);
    c.qformer_cross_attention_frequency = integer(qformer, "cross_attention_frequency", 2);
    c.qformer_encoder_hidden_size = c.vision_hidden_size;  // as Blip2Config and ModelConfig set it
    c.qformer_layer_norm_eps = number(qformer, "layer_norm_eps", 1e-12);
    c.num_query_tokens = integer(root, "num_query_tokens", 32);
    c.image_text_hidden_size = integer(root, "image_text_hidden_size", 256);
    return c;
}

// ---------------------------------------------------------------- small helpers

std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, sep))
        if (!item.empty()) out.push_back(item);
    return out;
}

int32_t dtype_code(const std::string &name) {
    if (name == "fp32" || name == "fp32-notf32") return BLIP2_DTYPE_FP32;
    if (name == "fp16") return BLIP2_DTYPE_FP16;
    if (name == "bf16") return BLIP2_DTYPE_BF16;
    throw std::runtime_error("unknown precision " + name);
}

double max_abs_diff(const std::vector<float> &ours, const std::vector<double> &reference) {
    if (ours.size() != reference.size()) return std::numeric_limits<double>::infinity();
    double worst = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
        double d = std::fabs(static_cast<double>(ours[i]) - reference[i]);
        if (std::isnan(d)) return std::numeric_limits<double>::quiet_NaN();
        worst = std::max(worst, d);
    }
    return worst;
}

double max_abs_diff(const std::vector<float> &a, const std::vector<float> &b) {
    std::vector<double> wide(b.begin(), b.end());
    return max_abs_diff(a, wide);
}

std::string short_error(const blip2_error &err) {
    std::string message = err.message;
    if (message.size() > 160) message = message.substr(0, 157) + "...";
    return message;
}

/** The message as a JSON string body: quotes and backslashes dropped, control characters spaced. */
std::string json_safe(std::string text) {
    for (char &c : text) {
        if (c == '"' || c == '\\') c = '\'';
        else if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    return text;
}

std::string basename(std::string path) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void set_tf32_convolutions(bool allowed) {
#ifdef BLIP2_CHECK_HAVE_TF32_TOGGLE
    at::globalContext().setAllowTF32CuDNN(allowed);
#else
    (void)allowed;
#endif
}

// ---------------------------------------------------------------- device memory (CUDA driver, dlopen)

/** Polls total-free device memory through libcuda, loaded at run time (so a CPU build links). */
class DeviceMemoryPoller {
public:
    DeviceMemoryPoller() {
        lib_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib_) return;
        init_ = reinterpret_cast<int (*)(unsigned)>(dlsym(lib_, "cuInit"));
        device_get_ = reinterpret_cast<int (*)(int *, int)>(dlsym(lib_, "cuDeviceGet"));
        retain_ = reinterpret_cast<int (*)(void **, int)>(dlsym(lib_, "cuDevicePrimaryCtxRetain"));
        release_ = reinterpret_cast<int (*)(int)>(dlsym(lib_, "cuDevicePrimaryCtxRelease_v2"));
        if (!release_) release_ = reinterpret_cast<int (*)(int)>(dlsym(lib_, "cuDevicePrimaryCtxRelease"));
        set_current_ = reinterpret_cast<int (*)(void *)>(dlsym(lib_, "cuCtxSetCurrent"));
        mem_info_ = reinterpret_cast<int (*)(size_t *, size_t *)>(dlsym(lib_, "cuMemGetInfo_v2"));
        usable_ = init_ && device_get_ && retain_ && release_ && set_current_ && mem_info_;
    }
    ~DeviceMemoryPoller() {
        stop();
        if (lib_) dlclose(lib_);
    }
    bool usable() const { return usable_; }

    void start() {
        if (!usable_ || running_) return;
        running_ = true;
        ok_ = false;
        worker_ = std::thread([this] {
            int device = 0;
            void *context = nullptr;
            if (init_(0) != 0 || device_get_(&device, 0) != 0 || retain_(&context, device) != 0 ||
                set_current_(context) != 0) {
                running_ = false;
                return;
            }
            while (running_) {
                size_t free_bytes = 0, total_bytes = 0;
                if (mem_info_(&free_bytes, &total_bytes) == 0) {
                    uint64_t used = total_bytes - free_bytes;
                    total_ = total_bytes;
                    current_ = used;
                    uint64_t peak = peak_.load();
                    while (used > peak && !peak_.compare_exchange_weak(peak, used)) {}
                    ok_ = true;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            release_(device);
        });
        for (int i = 0; i < 500 && running_ && !ok_; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    void stop() {
        running_ = false;
        if (worker_.joinable()) worker_.join();
    }
    void reset_peak() {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        peak_ = current_.load();
    }
    double current_mib() const { return ok_ ? current_ / 1048576.0 : -1; }
    double peak_mib() const {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return ok_ ? peak_ / 1048576.0 : -1;
    }
    double total_mib() const { return ok_ ? total_ / 1048576.0 : -1; }

private:
    void *lib_ = nullptr;
    bool usable_ = false;
    int (*init_)(unsigned) = nullptr;
    int (*device_get_)(int *, int) = nullptr;
    int (*retain_)(void **, int) = nullptr;
    int (*release_)(int) = nullptr;
    int (*set_current_)(void *) = nullptr;
    int (*mem_info_)(size_t *, size_t *) = nullptr;
    std::thread worker_;
    std::atomic<bool> running_{false};
    std::atomic<bool> ok_{false};
    std::atomic<uint64_t> current_{0};
    std::atomic<uint64_t> peak_{0};
    std::atomic<uint64_t> total_{0};
};

// ---------------------------------------------------------------- parity

struct Fixture {
    std::string name;
    std::string dir;
    blip2_config config{};
    int64_t images = 0;
    std::vector<float> pixels;
    int64_t texts = 0;
    int64_t length = 0;  // padded to the longest text, as Swift's TokenBatch does
    std::vector<int64_t> ids, mask;
    std::vector<double> image_embeddings;  // [images, Q, D]
    std::vector<double> text_embeddings;   // [texts, D]
    std::vector<double> itc, itm;          // [images, texts]
};

Fixture load_fixture(const std::string &dir) {
    Fixture f;
    f.dir = dir;
    f.name = basename(dir);
    f.config = read_config(dir + "/config.json");
    const json expected = read_json(dir + "/expected.json");
    std::vector<double> shape = flat(expected.at("pixels_shape"));
    f.images = static_cast<int64_t>(shape.at(0));
    const int64_t side = f.config.image_size;
    if (shape.size() != 4 || shape[1] != 3 || shape[2] != side || shape[3] != side)
        throw std::runtime_error(dir + ": pixels_shape does not match config.json's image_size");
    std::string pixels_file = "pixels.f32";
    const json &images = expected.at("images");
    if (!images.empty() && images[0].contains("pixels_file"))
        pixels_file = images[0].at("pixels_file").get<std::string>();
    f.pixels = read_floats(dir + "/" + pixels_file);
    if (static_cast<int64_t>(f.pixels.size()) != f.images * 3 * side * side)
        throw std::runtime_error(dir + "/" + pixels_file + ": size differs from pixels_shape");

    const json &ids = expected.at("input_ids");
    const json &mask = expected.at("attention_mask");
    f.texts = static_cast<int64_t>(ids.size());
    for (const json &row : mask) {
        int64_t kept = 0;
        for (const json &m : row) kept += m.get<double>() != 0;
        f.length = std::max(f.length, kept);
    }
    for (int64_t t = 0; t < f.texts; ++t) {
        for (int64_t i = 0; i < f.length; ++i) {
            f.ids.push_back(ids.at(t).at(i).get<int64_t>());
            f.mask.push_back(mask.at(t).at(i).get<int64_t>());
        }
    }
    f.image_embeddings = flat(expected.at("image_embeddings"));
    f.text_embeddings = flat(expected.at("text_embeddings"));
    f.itc = flat(expected.at("itc"));
    f.itm = flat(expected.at("itm"));
    return f;
}

struct ParityRow {
    std::string status = "ok";  // ok, unavailable, refused, error
    std::string note;
    std::string described;
    double image = NAN, text = NAN, itc = NAN, itm = NAN, itm_image = NAN;
    double worst() const {
        double w = 0;
        for (double d : {image, text, itc, itm}) {
            if (std::isnan(d)) return NAN;
            w = std::max(w, d);
        }
        return w;
    }
};

ParityRow run_parity(const Fixture &f, const std::string &device, const std::string &precision) {
    ParityRow row;
    if (device.rfind("cuda", 0) == 0 && !blip2_cuda_available()) {
        row.status = "unavailable";
        row.note = "blip2_cuda_available() == 0";
        return row;
    }
    blip2_load_params params = blip2_default_load_params();
    params.device = device.c_str();
    params.dtype = dtype_code(precision);
    params.parts = BLIP2_PART_ALL;
    blip2_error err{};
    std::unique_ptr<blip2_model, void (*)(blip2_model *)> model(
        blip2_model_load(f.dir.c_str(), &f.config, &params, &err), blip2_model_free);
    if (!model) {
        row.status = err.code == BLIP2_ERROR_INVALID_ARGUMENT ? "refused" : "error";
        row.note = short_error(err);
        return row;
    }
    char described_device[64] = {0}, described_dtype[16] = {0};
    blip2_model_describe(model.get(), described_device, sizeof described_device, described_dtype,
                         sizeof described_dtype);
    row.described = std::string(described_device) + "/" + described_dtype;
    const std::string wanted_dtype = precision == "fp32-notf32" ? "fp32" : precision;
    if (std::string(described_dtype) != wanted_dtype ||
        std::string(described_device).rfind(device.substr(0, 4), 0) != 0) {
        row.status = "error";
        row.note = "model describes itself as " + row.described;
        return row;
    }

    const blip2_config &c = f.config;
    const int64_t q = c.num_query_tokens, d = c.image_text_hidden_size;
    const int64_t per_image = 3 * c.image_size * c.image_size;
    std::vector<float> images(static_cast<size_t>(f.images * q * d));
    std::vector<float> texts(static_cast<size_t>(f.texts * d));
    if (blip2_embed_images(model.get(), f.pixels.data(), f.images, images.data(), &err) != BLIP2_OK ||
        blip2_embed_texts(model.get(), f.ids.data(), f.mask.data(), f.texts, f.length, texts.data(),
                          &err) != BLIP2_OK) {
        row.status = "error";
        row.note = short_error(err);
        return row;
    }
    row.image = max_abs_diff(images, f.image_embeddings);
    row.text = max_abs_diff(texts, f.text_embeddings);

    // ITC: max over the queries of query . text (both L2-normalised), as Embedding.maxOverQueries.
    std::vector<float> itc;
    for (int64_t i = 0; i < f.images; ++i) {
        for (int64_t t = 0; t < f.texts; ++t) {
            float best = -std::numeric_limits<float>::infinity();
            for (int64_t k = 0; k < q; ++k) {
                float dot = 0;
                for (int64_t j = 0; j < d; ++j) dot += images[(i * q + k) * d + j] * texts[t * d + j];
                best = std::max(best, dot);
            }
            itc.push_back(best);
        }
    }
    row.itc = max_abs_diff(itc, f.itc);

    std::vector<float> itm, probabilities(static_cast<size_t>(f.texts)), embedding(static_cast<size_t>(q * d));
    double itm_image = 0;
    for (int64_t i = 0; i < f.images; ++i) {
        if (blip2_match(model.get(), f.pixels.data() + i * per_image, f.ids.data(), f.mask.data(),
                        f.texts, f.length, probabilities.data(), embedding.data(), &err) != BLIP2_OK) {
            row.status = "error";
            row.note = short_error(err);
            return row;
        }
        itm.insert(itm.end(), probabilities.begin(), probabilities.end());
        std::vector<float> batch_embedding(images.begin() + i * q * d, images.begin() + (i + 1) * q * d);
        itm_image = std::max(itm_image, max_abs_diff(embedding, batch_embedding));
    }
    row.itm = max_abs_diff(itm, f.itm);
    row.itm_image = itm_image;
    return row;
}

std::string format_diff(double value) {
    char buffer[32];
    if (std::isnan(value)) return "nan";
    std::snprintf(buffer, sizeof buffer, "%.2e", value);
    return buffer;
}

int parity_main(const std::vector<std::string> &args) {
    std::vector<std::string> devices = {"cpu", "cuda"};
    double tolerance = 1e-4, loose = 0.1;
    std::vector<std::string> dirs;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--devices") devices = split(args.at(++i), ',');
        else if (args[i] == "--tolerance") tolerance = std::stod(args.at(++i));
        else if (args[i] == "--loose") loose = std::stod(args.at(++i));
        else dirs.push_back(args[i]);
    }
    if (dirs.empty()) throw std::runtime_error("parity: no fixture directories given");
    std::vector<std::string> precisions = {"fp32", "fp16", "bf16"};
#ifdef BLIP2_CHECK_HAVE_TF32_TOGGLE
    const bool tf32_row = true;
#else
    const bool tf32_row = false;
#endif

    std::printf("blip2_cuda_available: %d\n", blip2_cuda_available());
    std::printf("parity vs transformers 4.46.3 CPU fp32 (max |diff|); fp32 tolerance %.0e, fp16/bf16 sanity bound %.2g\n",
                tolerance, loose);
    std::printf("%-18s %-5s %-12s %-14s %9s %9s %9s %9s %9s  %s\n", "model", "dev", "precision",
                "described", "image", "text", "itc", "itm", "itm-img", "verdict");
    int failures = 0;
    for (const std::string &dir : dirs) {
        Fixture f = load_fixture(dir);
        for (const std::string &device : devices) {
            std::vector<std::string> rows = precisions;
            if (tf32_row && device.rfind("cuda", 0) == 0) rows.push_back("fp32-notf32");
            for (const std::string &precision : rows) {
                if (precision == "fp32-notf32") set_tf32_convolutions(false);
                auto start = std::chrono::steady_clock::now();
                ParityRow row = run_parity(f, device, precision);
                double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                if (precision == "fp32-notf32") set_tf32_convolutions(true);
                std::string verdict;
                if (row.status == "ok") {
                    const bool strict = precision.rfind("fp32", 0) == 0;
                    const double bound = strict ? tolerance : loose;
                    const double worst = row.worst();
                    const bool pass = !std::isnan(worst) && worst <= bound && !std::isnan(row.itm_image);
                    verdict = pass ? "PASS" : "FAIL";
                    if (!pass) ++failures;
                } else if (row.status == "error") {
                    verdict = "FAIL (" + row.note + ")";
                    ++failures;
                } else {
                    verdict = row.status + " (" + row.note + ")";
                }
                auto cell = [&](double value) { return row.status == "ok" ? format_diff(value) : "-"; };
                std::printf("%-18s %-5s %-12s %-14s %9s %9s %9s %9s %9s  %s [%.1fs]\n", f.name.c_str(),
                            device.c_str(), precision.c_str(), row.described.c_str(),
                            cell(row.image).c_str(), cell(row.text).c_str(), cell(row.itc).c_str(),
                            cell(row.itm).c_str(), cell(row.itm_image).c_str(), verdict.c_str(), seconds);
                std::fflush(stdout);
            }
        }
    }
    std::printf("parity: %d failing row(s)\n", failures);
    return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- throughput

int bench_main(const std::vector<std::string> &args) {
    std::string model_dir, device = "cuda", precision = "fp16", pixels_path, embeddings_out;
    std::vector<int64_t> batches = {32, 64};
    int warmup = 2, iters = 5;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &a = args[i];
        if (a == "--model") model_dir = args.at(++i);
        else if (a == "--device") device = args.at(++i);
        else if (a == "--precision") precision = args.at(++i);
        else if (a == "--pixels") pixels_path = args.at(++i);
        else if (a == "--embeddings-out") embeddings_out = args.at(++i);
        else if (a == "--warmup") warmup = std::stoi(args.at(++i));
        else if (a == "--iters") iters = std::stoi(args.at(++i));
        else if (a == "--batches") {
            batches.clear();
            for (const std::string &b : split(args.at(++i), ',')) batches.push_back(std::stoll(b));
        } else throw std::runtime_error("bench: unknown argument " + a);
    }
    if (model_dir.empty()) throw std::runtime_error("bench: --model is required");
    const blip2_config config = read_config(model_dir + "/config.json");
    const int64_t side = config.image_size, per_image = 3 * side * side;
    const int64_t max_batch = *std::max_element(batches.begin(), batches.end());
    const int64_t q = config.num_query_tokens, d = config.image_text_hidden_size;

    std::vector<float> pixels;
    if (!pixels_path.empty()) {
        pixels = read_floats(pixels_path);
        if (static_cast<int64_t>(pixels.size()) < max_batch * per_image)
            throw std::runtime_error(pixels_path + ": fewer images than the largest batch");
    } else {
        pixels.resize(static_cast<size_t>(max_batch * per_image));
        std::mt19937 rng(0);
        std::normal_distribution<float> normal(0.f, 1.f);
        for (float &p : pixels) p = normal(rng);
    }

    DeviceMemoryPoller memory;
    const bool on_cuda = device.rfind("cuda", 0) == 0;

    blip2_load_params params = blip2_default_load_params();
    params.device = device.c_str();
    params.dtype = dtype_code(precision);
    params.parts = BLIP2_PART_IMAGE;
    blip2_error err{};
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<blip2_model, void (*)(blip2_model *)> model(
        blip2_model_load(model_dir.c_str(), &config, &params, &err), blip2_model_free);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!model) {
        std::printf("RESULT {\"impl\": \"engine\", \"precision\": \"%s\", \"error\": \"load: %s\"}\n",
                    precision.c_str(), json_safe(short_error(err)).c_str());
        return 1;
    }
    char described_device[64] = {0}, described_dtype[16] = {0};
    blip2_model_describe(model.get(), described_device, sizeof described_device, described_dtype,
                         sizeof described_dtype);
    // Polling starts once libtorch has set CUDA up, so that nothing here touches the device first.
    if (on_cuda) memory.start();
    std::printf("engine: %s %s loaded in %.2f s; device memory in use after load %.0f MiB of %.0f\n",
                described_device, described_dtype, load_s, memory.current_mib(), memory.total_mib());

    int status = 0;
    bool wrote_embeddings = false;
    for (int64_t batch : batches) {
        std::vector<float> out(static_cast<size_t>(batch * q * d));
        memory.reset_peak();
        for (int i = 0; i < warmup; ++i) {
            if (blip2_embed_images(model.get(), pixels.data(), batch, out.data(), &err) != BLIP2_OK) {
                std::printf("RESULT {\"impl\": \"engine\", \"precision\": \"%s\", \"batch\": %lld, \"error\": \"%s\"}\n",
                            precision.c_str(), static_cast<long long>(batch), json_safe(short_error(err)).c_str());
                status = 1;
                break;
            }
        }
        if (status) break;
        std::vector<double> seconds;
        for (int i = 0; i < iters; ++i) {
            auto start = std::chrono::steady_clock::now();
            int rc = blip2_embed_images(model.get(), pixels.data(), batch, out.data(), &err);
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            if (rc != BLIP2_OK) { status = 1; break; }
        }
        if (status) {
            std::printf("RESULT {\"impl\": \"engine\", \"precision\": \"%s\", \"batch\": %lld, \"error\": \"%s\"}\n",
                        precision.c_str(), static_cast<long long>(batch), json_safe(short_error(err)).c_str());
            break;
        }
        double total = 0;
        for (double s : seconds) total += s;
        std::vector<double> sorted = seconds;
        std::sort(sorted.begin(), sorted.end());
        const double median = sorted[sorted.size() / 2];
        bool finite = true;
        for (float v : out) finite = finite && std::isfinite(v);
        std::printf("RESULT {\"impl\": \"engine\", \"device\": \"%s\", \"precision\": \"%s\", \"batch\": %lld, "
                    "\"iters\": %d, \"images_per_s\": %.2f, \"median_batch_s\": %.4f, \"load_s\": %.2f, "
                    "\"peak_used_mib\": %.0f, \"total_mib\": %.0f, \"finite\": %s}\n",
                    described_device, precision.c_str(), static_cast<long long>(batch), iters,
                    batch * iters / total, median, load_s, memory.peak_mib(), memory.total_mib(),
                    finite ? "true" : "false");
        std::fflush(stdout);
        if (!embeddings_out.empty() && !wrote_embeddings) {
            std::ofstream file(embeddings_out, std::ios::binary);
            file.write(reinterpret_cast<const char *>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
            wrote_embeddings = true;
        }
    }
    memory.stop();
    return status;
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || (args[0] != "parity" && args[0] != "bench")) {
        std::fprintf(stderr, "usage: %s parity [--devices cpu,cuda] FIXTURE_DIR...\n"
                             "       %s bench --model DIR [--device cuda] [--precision fp16] [--batches 32,64]\n",
                     argv[0], argv[0]);
        return 2;
    }
    try {
        std::vector<std::string> rest(args.begin() + 1, args.end());
        return args[0] == "parity" ? parity_main(rest) : bench_main(rest);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
