/*
 * vindex.h — the C contract of imgsearch's vector index, a thin wrapper over FAISS's C++ API
 * (Debian ships FAISS 1.7.3 as a static library without FAISS's own C API).
 *
 * Usage:
 *
 *     vindex_error err;
 *     vindex *index = vindex_create(256, "Flat", &err);        // exact inner product
 *     vindex_add(index, vectors, ids, count, &err);
 *     float scores[10]; int64_t ids[10];
 *     vindex_search(index, query, 1, 10, scores, ids, &err);   // best first; id -1 = no result
 *     vindex_free(index);
 *
 * Every index scores by inner product (cosine for L2-normalised vectors) and maps results
 * to caller-chosen 64-bit ids. `description` is a FAISS index_factory string: "Flat"
 * (exact), "SQ8", "SQfp16", "IVF4096,SQ8", "HNSW32", "SQ8,RFlat" ...; an index that needs
 * training must get `vindex_train` before `vindex_add`.
 *
 * Errors: functions return VINDEX_OK or another code and fill `err` (if not NULL) with a
 * one-line message. No C++ exception crosses this boundary.
 *
 * Thread safety: searches may run concurrently with each other; adds, removes, training and
 * parameter changes need exclusive access (the Swift owner holds a lock).
 */
#ifndef IMGSEARCH_VINDEX_H
#define IMGSEARCH_VINDEX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vindex_status {
    VINDEX_OK = 0,
    VINDEX_ERROR_INVALID_ARGUMENT = 1,
    VINDEX_ERROR_NOT_TRAINED = 2,
    VINDEX_ERROR_UNSUPPORTED = 3,   /* e.g. removing from an HNSW index */
    VINDEX_ERROR_IO = 4,
    VINDEX_ERROR_FAISS = 5
} vindex_status;

typedef struct vindex_error {
    int code;
    char message[512];
} vindex_error;

typedef struct vindex vindex;

/** A new, empty inner-product index of `dimension`; NULL on failure. */
vindex *vindex_create(int32_t dimension, const char *description, vindex_error *err);

/** NULL-safe. */
void vindex_free(vindex *index);

int32_t vindex_dimension(const vindex *index);
int64_t vindex_count(const vindex *index);
int32_t vindex_is_trained(const vindex *index);

/** Trains a quantizer or coarse clustering on `count` sample vectors. */
int vindex_train(vindex *index, const float *vectors, int64_t count, vindex_error *err);

/** Adds `count` vectors with their ids. */
int vindex_add(vindex *index, const float *vectors, const int64_t *ids, int64_t count,
               vindex_error *err);

/** Removes every vector whose id is listed; `removed` (may be NULL) gets how many went. */
int vindex_remove(vindex *index, const int64_t *ids, int64_t count, int64_t *removed,
                  vindex_error *err);

/**
 * For each of `query_count` queries, the `k` best vectors by inner product, best first:
 * `scores` and `ids` are [query_count, k]; missing results have id -1.
 */
int vindex_search(const vindex *index, const float *queries, int64_t query_count, int64_t k,
                  float *scores, int64_t *ids, vindex_error *err);

/** Sets a search-time parameter by FAISS name ("nprobe", "efSearch", "k_factor"). */
int vindex_set_parameter(vindex *index, const char *name, double value, vindex_error *err);

/** Writes the index to `path` (FAISS's own format); loads it back. */
int vindex_save(const vindex *index, const char *path, vindex_error *err);
vindex *vindex_load(const char *path, vindex_error *err);

/** FAISS's OpenMP thread count (process-wide). */
void vindex_set_threads(int32_t threads);

/**
 * Every pair (i < j) of the `count` vectors ([count, dimension] float32) whose inner product
 * is at least `threshold`: exact (FAISS's range search over a flat inner-product index, its
 * products in blocks through BLAS, on all cores). The pairs are written to a new buffer
 * *pairs (2 indexes a pair) and their products to *products; free both with vindex_free_pairs.
 * A threshold low enough to match most pairs costs memory in proportion to them.
 */
int vindex_similar_pairs(const float *vectors, int64_t count, int32_t dimension, float threshold, int64_t **pairs,
                         float **products, int64_t *pair_count, vindex_error *err);

/** Frees what vindex_similar_pairs returned. NULL-safe. */
void vindex_free_pairs(int64_t *pairs, float *products);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_VINDEX_H */
