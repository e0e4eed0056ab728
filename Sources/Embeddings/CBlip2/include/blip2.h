/*
 * blip2.h — the C contract of imgsearch's native BLIP-2 ITC/ITM engine (libtorch).
 *
 * Usage:
 *
 *     blip2_config cfg = ...;                       // sizes read from config.json
 *     blip2_load_params params = blip2_default_load_params();
 *     params.device = "auto";
 *     blip2_error err;
 *     blip2_model *model = blip2_model_load("/path/to/snapshot", &cfg, &params, &err);
 *     if (!model) { fprintf(stderr, "%s\n", err.message); return 1; }
 *     float out[2 * 32 * 256];
 *     if (blip2_embed_images(model, pixels, 2, out, &err) != BLIP2_OK) { ... }
 *     blip2_model_free(model);
 *
 * Weights are read from `model.safetensors` or from the shards that
 * `model.safetensors.index.json` names, stored as F32, F16 or BF16. On the CPU in
 * fp32 they are used straight from the memory-mapped file (no copy).
 *
 * Errors: every function returns BLIP2_OK or another code and, when `err` is not
 * NULL, fills it with a one-line message naming the file or tensor at fault. No C++
 * exception crosses this boundary.
 *
 * Thread safety: a loaded model is immutable; the embed functions may be called from
 * several threads at once. `blip2_set_num_threads` changes process-wide state.
 */
#ifndef IMGSEARCH_BLIP2_H
#define IMGSEARCH_BLIP2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blip2_status {
    BLIP2_OK = 0,
    BLIP2_ERROR_INVALID_ARGUMENT = 1,
    BLIP2_ERROR_IO = 2,            /* a file is missing, unreadable or truncated */
    BLIP2_ERROR_FORMAT = 3,        /* a safetensors header or index is malformed */
    BLIP2_ERROR_MISSING_TENSOR = 4,
    BLIP2_ERROR_SHAPE = 5,         /* a tensor's shape differs from the config's */
    BLIP2_ERROR_DTYPE = 6,         /* a stored dtype other than F32/F16/BF16 */
    BLIP2_ERROR_UNEXPECTED_TENSOR = 7,
    BLIP2_ERROR_DEVICE = 8,        /* the requested device is not available */
    BLIP2_ERROR_NOT_LOADED = 9,    /* the call needs a part of the model not loaded */
    BLIP2_ERROR_RUNTIME = 10,      /* libtorch failed during a forward pass */
    BLIP2_ERROR_CANCELLED = 11     /* the caller's should_stop asked to stop (blip2_generate.h) */
} blip2_status;

/** A one-line, user-facing description of the last failure. */
typedef struct blip2_error {
    int code;
    char message[1024];
} blip2_error;

/** The architecture's sizes: every number comes from the snapshot's config.json. */
typedef struct blip2_config {
    int64_t vision_hidden_size;
    int64_t vision_intermediate_size;
    int64_t vision_num_layers;
    int64_t vision_num_heads;
    int64_t image_size;
    int64_t patch_size;
    double vision_layer_norm_eps;
    int32_t vision_qkv_bias;          /* bool */

    int64_t qformer_hidden_size;
    int64_t qformer_intermediate_size;
    int64_t qformer_num_layers;
    int64_t qformer_num_heads;
    int64_t qformer_vocab_size;
    int64_t qformer_max_position_embeddings;
    int64_t qformer_cross_attention_frequency;
    int64_t qformer_encoder_hidden_size;
    double qformer_layer_norm_eps;

    int64_t num_query_tokens;
    int64_t image_text_hidden_size;
} blip2_config;

/** Which parts of the model to load; a text-only search needs no vision tower. */
typedef enum blip2_parts {
    BLIP2_PART_IMAGE = 1,   /* vision tower, Q-Former query path, vision projection */
    BLIP2_PART_TEXT = 2,    /* text embeddings, Q-Former text path, text projection */
    BLIP2_PART_ITM = 4,     /* image-text matching head (needs both paths) */
    BLIP2_PART_ALL = 7
} blip2_parts;

/*
 * Precision. On CUDA fp16/bf16 compute in that dtype. On the CPU, bf16 keeps the linear
 * layers' weights in bf16 (memory-mapped when stored so) and computes in fp32, for half
 * the memory at fp32's accuracy; int8 (CPU only) holds the vision encoder's and Q-Former's
 * linear weights in int8 per output channel and quantises their inputs per token at each
 * call, with outlier channels computed exactly; everything else stays fp32.
 */
typedef enum blip2_dtype {
    BLIP2_DTYPE_AUTO = 0,   /* fp32 on CPU, fp16 on CUDA */
    BLIP2_DTYPE_FP32 = 1,
    BLIP2_DTYPE_FP16 = 2,
    BLIP2_DTYPE_BF16 = 3,
    BLIP2_DTYPE_INT8 = 4
} blip2_dtype;

typedef struct blip2_load_params {
    const char *device;     /* "auto", "cpu", "cuda" or "cuda:N"; NULL means "auto" */
    int32_t dtype;          /* a blip2_dtype */
    int32_t parts;          /* a mask of blip2_parts */
} blip2_load_params;

typedef struct blip2_model blip2_model;

blip2_load_params blip2_default_load_params(void);

/** Loads and checks every tensor of a snapshot directory. Returns NULL on failure. */
blip2_model *blip2_model_load(const char *snapshot_dir, const blip2_config *config,
                              const blip2_load_params *params, blip2_error *err);

/** NULL-safe. */
void blip2_model_free(blip2_model *model);

/** Writes the device the model runs on ("cpu", "cuda:0") and its precision ("fp32", "int8", ...). */
int blip2_model_describe(const blip2_model *model, char *device, size_t device_len,
                         char *dtype, size_t dtype_len);

/**
 * Image path (ITC): `pixels` is float32 [count, 3, image_size, image_size],
 * preprocessed; `out` receives float32 [count, num_query_tokens, image_text_hidden_size],
 * each vector L2-normalised.
 */
int blip2_embed_images(const blip2_model *model, const float *pixels, int64_t count,
                       float *out, blip2_error *err);

/**
 * Text path (ITC): `ids` and `mask` are int64 [count, length], right-padded;
 * `out` receives float32 [count, image_text_hidden_size], L2-normalised.
 */
int blip2_embed_texts(const blip2_model *model, const int64_t *ids, const int64_t *mask,
                      int64_t count, int64_t length, float *out, blip2_error *err);

/**
 * ITM: one image (float32 [1, 3, S, S]) against `count` texts (int64 [count, length],
 * right-padded); `out_probabilities` receives the match probability of each pair. When
 * `out_image_embedding` is not NULL it receives the image's ITC embedding
 * ([num_query_tokens, image_text_hidden_size]) from the same vision pass, the costly part.
 */
int blip2_match(const blip2_model *model, const float *pixels, const int64_t *ids,
                const int64_t *mask, int64_t count, int64_t length,
                float *out_probabilities, float *out_image_embedding, blip2_error *err);

/*
 * A vision pass shared with a captioning model (blip2_generate.h): BLIP-2 checkpoints
 * share the frozen ViT and train their own post_layernorm, so the encoder's output before
 * post_layernorm serves both when their fingerprints are equal.
 */

/**
 * A 64-bit hash of the vision encoder's weights (all but post_layernorm: their bytes as
 * placed, dtypes, shapes) and device kind. Reads every vision weight (~1 s for ViT-g).
 */
int blip2_model_vision_fingerprint(const blip2_model *model, uint64_t *out, blip2_error *err);

/** Tokens per image (P+1) and hidden size of the vision encoder's output. */
int blip2_model_vision_shape(const blip2_model *model, int64_t *tokens, int64_t *hidden, blip2_error *err);

/**
 * The vision encoder's states before post_layernorm: `pixels` float32 [count, 3, S, S] →
 * `out_states` float32 [count, tokens, hidden].
 */
int blip2_encode_vision(const blip2_model *model, const float *pixels, int64_t count,
                        float *out_states, blip2_error *err);

/** As blip2_embed_images, from blip2_encode_vision's states [count, tokens, hidden]. */
int blip2_embed_encoded_images(const blip2_model *model, const float *states, int64_t count,
                               float *out, blip2_error *err);

/** Sets libtorch's intra-op thread count (process-wide). */
void blip2_set_num_threads(int32_t threads);
int32_t blip2_get_num_threads(void);

/** 1 when the linked libtorch can use a CUDA device. */
int32_t blip2_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_BLIP2_H */
