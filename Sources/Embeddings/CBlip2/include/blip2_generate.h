/*
 * blip2_generate.h — the C contract of imgsearch's native BLIP-2 captioning and visual
 * question answering engine (Blip2ForConditionalGeneration on libtorch: vision tower,
 * Q-Former query path, language projection, and an OPT decoder or a T5 encoder-decoder).
 *
 * Usage:
 *
 *     blip2_generator *gen = blip2_generator_load(dir, &vision_qformer, &language, &params, &err);
 *     blip2_generation_params g = blip2_default_generation_params();
 *     g.max_new_tokens = 30; g.num_beams = 5; g.eos_token_id = 50118; g.pad_token_id = 1;
 *     int64_t tokens[2 * 30], lengths[2];
 *     blip2_generate(gen, pixels, 2, ids, mask, length, &g, tokens, lengths, &err);
 *     blip2_generator_free(gen);
 *
 * Token ids are the tokenizer's output for the prompt (OPT: `</s> prompt…`, T5:
 * `prompt… </s>`); when the config has an `image_token_index` they start with
 * num_query_tokens placeholders, which the projected image queries replace. Rows are
 * left-padded (mask 0) to one length. Errors and thread safety as in blip2.h.
 */
#ifndef IMGSEARCH_BLIP2_GENERATE_H
#define IMGSEARCH_BLIP2_GENERATE_H

#include "blip2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blip2_language_kind {
    BLIP2_LANGUAGE_OPT = 1,   /* OPTForCausalLM, decoder only */
    BLIP2_LANGUAGE_T5 = 2     /* T5ForConditionalGeneration, encoder-decoder */
} blip2_language_kind;

typedef enum blip2_activation {
    BLIP2_ACTIVATION_RELU = 1,
    BLIP2_ACTIVATION_GELU = 2,       /* exact, erf */
    BLIP2_ACTIVATION_GELU_NEW = 3    /* tanh approximation */
} blip2_activation;

/** `text_config` of config.json, already defaulted and checked. */
typedef struct blip2_language_config {
    int32_t kind;                     /* a blip2_language_kind */
    int64_t vocab_size;
    int64_t hidden_size;              /* OPT hidden_size, T5 d_model */
    int64_t num_layers;               /* OPT num_hidden_layers, T5 num_layers (encoder) */
    int64_t num_decoder_layers;       /* T5 only */
    int64_t num_heads;
    int64_t head_dim;                 /* OPT hidden_size / heads, T5 d_kv */
    int64_t ffn_size;                 /* OPT ffn_dim, T5 d_ff */
    int64_t max_position_embeddings;  /* OPT only */
    int64_t relative_buckets;         /* T5 only */
    int64_t relative_max_distance;    /* T5 only */
    double layer_norm_eps;
    int32_t activation;               /* a blip2_activation */
    int32_t gated_ffn;                /* T5 "gated-*" feed-forward (bool) */
    int32_t tie_word_embeddings;      /* bool */
    int64_t image_token_index;        /* placeholder id, or -1: queries are prepended (legacy) */
} blip2_language_config;

/** How to pick tokens; transformers' `generate` semantics (4.46). */
typedef struct blip2_generation_params {
    int32_t max_new_tokens;
    int32_t min_new_tokens;          /* EOS is forbidden before this many tokens */
    int32_t num_beams;               /* 1: greedy or sampling */
    float length_penalty;            /* beam search: score = sum logprob / length^penalty */
    float repetition_penalty;        /* 1: off */
    int32_t no_repeat_ngram_size;    /* 0: off */
    int32_t do_sample;               /* bool; only with num_beams 1 */
    float temperature;
    int32_t top_k;                   /* 0: off */
    float top_p;                     /* 1: off */
    uint64_t seed;
    int64_t eos_token_id;
    int64_t pad_token_id;            /* fills a row after its EOS */
    int64_t decoder_start_token_id;  /* T5 only */
    /* Optional (NULL: never): asked before each new token, from the generating thread; a
     * non-zero answer stops the call with BLIP2_ERROR_CANCELLED. */
    int32_t (*should_stop)(void *context);
    void *should_stop_context;
} blip2_generation_params;

typedef struct blip2_generator blip2_generator;

/** Greedy, 20 new tokens, no penalties; the token ids are -1 and must be set. */
blip2_generation_params blip2_default_generation_params(void);

/** Loads and checks every tensor of a Blip2ForConditionalGeneration snapshot. NULL on failure. */
blip2_generator *blip2_generator_load(const char *snapshot_dir, const blip2_config *config,
                                      const blip2_language_config *language,
                                      const blip2_load_params *params, blip2_error *err);

/** NULL-safe. */
void blip2_generator_free(blip2_generator *generator);

/** As blip2_model_describe. */
int blip2_generator_describe(const blip2_generator *generator, char *device, size_t device_len,
                             char *dtype, size_t dtype_len);

/**
 * Generates for `count` images (float32 [count, 3, S, S], preprocessed) with the prompt
 * rows `ids`/`mask` (int64 [count, length], left-padded). `out_tokens` receives int64
 * [count, max_new_tokens]: the new tokens of each row, its EOS included when one was
 * generated, then `pad_token_id`; `out_lengths` [count] the number of new tokens.
 */
int blip2_generate(const blip2_generator *generator, const float *pixels, int64_t count,
                   const int64_t *ids, const int64_t *mask, int64_t length,
                   const blip2_generation_params *params, int64_t *out_tokens,
                   int64_t *out_lengths, blip2_error *err);

/**
 * As blip2_generate, from the states of a vision pass shared with a retrieval model:
 * blip2_encode_vision's float32 [count, tokens, hidden] (blip2.h), valid when
 * blip2_model_vision_fingerprint equals blip2_generator_vision_fingerprint.
 */
int blip2_generate_from_encoded(const blip2_generator *generator, const float *states, int64_t count,
                                const int64_t *ids, const int64_t *mask, int64_t length,
                                const blip2_generation_params *params, int64_t *out_tokens,
                                int64_t *out_lengths, blip2_error *err);

/** As blip2_model_vision_fingerprint (blip2.h), for the captioning model's vision tower. */
int blip2_generator_vision_fingerprint(const blip2_generator *generator, uint64_t *out, blip2_error *err);

/**
 * The language model's float32 logits [count, vocab] for the first new token (OPT: after
 * the prompt; T5: the decoder's first step), before any logits processor.
 */
int blip2_generator_first_logits(const blip2_generator *generator, const float *pixels,
                                 int64_t count, const int64_t *ids, const int64_t *mask,
                                 int64_t length, int64_t decoder_start_token_id,
                                 float *out_logits, blip2_error *err);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_BLIP2_GENERATE_H */
