/*
 * qscan.h — exact max-over-queries search made fast: an int8 copy of every vector is
 * scanned on all cores to find, with a proven error bound, the only images that can be in
 * the top K; the caller then re-scores those few with the fp32 vectors.
 *
 * Why: the fp32 vectors of 100k images (3.2M × 256) are 3.3 GB, and scanning them is
 * bound by memory bandwidth (~150 ms here). The int8 copy is 4× smaller, and a search
 * usually reads only half of it.
 *
 * How the bound works: vector x is stored as codes c and a scale s (x ≈ s·c, each
 * component off by at most s/2), so for a search vector t, |x·t − s·(c·t)| ≤ s/2 · ‖t‖₁.
 * An image's exact score (max over its vectors and the search vectors) therefore lies in
 * [lower, upper]; every image whose upper bound reaches the K-th largest lower bound is a
 * candidate, and no other image can be in the top K.
 *
 * Two passes: each code is kept as two 4-bit halves in two planes. A coarse pass reads only
 * the high halves (c = 16h + l is estimated as 16h + 7.5), which gives a bound about 16×
 * wider, and rules out the images that even this bound puts below the K-th best; a fine
 * pass reads both planes of the rest. When the coarse pass would rule out fewer than half
 * of the images (a coarse scan of one eighth of them tells), the fine pass reads them all.
 * qscan_search.cpp derives both bounds, rounding included.
 *
 * Many search vectors (an image's 32, "more like this"): bounding every pair of vectors costs
 * 32 times a text search. Each item also keeps a summary, a reference point r (int8) and the
 * radius ρ within which all its vectors lie, so with m the search vectors' mean and a_t = t − m,
 * an item scores at most max_j m·x_j + max_t (a_t·r + ‖a_t‖ρ): one pass with m plus 32 short
 * dot products an item. Items whose bound is below the k-th best lower bound of a few likely
 * items (scanned in full) are dropped before the passes above; the result is unchanged.
 *
 * Usage:
 *     qscan *scan = qscan_create(256, 32);
 *     qscan_add(scan, ids, vectors, count);                 // fp32 in, quantized inside
 *     int64_t n; qscan_candidates(scan, text, 1, 10, NULL, 0, 0, ids_out, upper_out, capacity, &n, NULL);
 *     qscan_free(scan);
 *
 * Thread safety: concurrent qscan_candidates calls are safe; add/remove need exclusive access.
 * Errors: return codes (QSCAN_OK = 0), described by qscan_status_text; no exception
 * crosses this boundary, and a failed call leaves the store as it was.
 */
#ifndef IMGSEARCH_QSCAN_H
#define IMGSEARCH_QSCAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qscan_status {
    QSCAN_OK = 0,
    QSCAN_ERROR_INVALID_ARGUMENT = 1,
    QSCAN_ERROR_OUT_OF_MEMORY = 2,
    QSCAN_ERROR_DUPLICATE_ID = 3,
    QSCAN_ERROR_CAPACITY = 4,      /* more candidates than the output buffers hold; *count tells how many */
    QSCAN_ERROR_IO = 5
} qscan_status;

typedef struct qscan qscan;

/**
 * An empty store of items (images) of `vectors_per_item` vectors of `dimension`; NULL on bad
 * sizes (dimension above 65536 included). Memory: the dimension rounded up to 64, plus 8
 * bytes, a vector, in huge pages where the system allows; and as much again plus 8 bytes an
 * item for its summary.
 */
qscan *qscan_create(int32_t dimension, int32_t vectors_per_item);

/** NULL-safe. */
void qscan_free(qscan *scan);

int64_t qscan_count(const qscan *scan);

/** Adds `count` items: `vectors` is [count, vectors_per_item, dimension] float32, finite.
 *  An id already present or given twice is QSCAN_ERROR_DUPLICATE_ID; on any error nothing of
 *  the call is added. */
int qscan_add(qscan *scan, const int64_t *ids, const float *vectors, int64_t count);

/** Removes the listed items; `removed` (may be NULL) gets how many existed. */
int qscan_remove(qscan *scan, const int64_t *ids, int64_t count, int64_t *removed);

/**
 * The candidates for the top `k` items for `search_count` search vectors ([search_count,
 * dimension] float32), scanned on `threads` threads (0: all cores): their ids and upper
 * bounds, in no particular order. With `among` (`among_count` ids; NULL: every item), only
 * those items are searched (ids the store lacks are skipped), so the candidates are those
 * of the top k among them, and only their codes are read. Returns QSCAN_ERROR_CAPACITY with *count set when
 * `capacity` is too small, QSCAN_ERROR_INVALID_ARGUMENT for a search value that is NaN or
 * infinite. `refined_count` (may be NULL) gets how many items the fine pass
 * read.
 */
int qscan_candidates(const qscan *scan, const float *search, int32_t search_count, int64_t k,
                     const int64_t *among, int64_t among_count, int32_t threads, int64_t *ids,
                     float *upper_bounds, int64_t capacity, int64_t *count, int64_t *refined_count);

/**
 * Writes the store to `path` (replaced atomically: written to `path`.tmp, then renamed),
 * followed by an XXH3-64 checksum of the body, and reads it back; `qscan_load` returns NULL
 * for a missing, truncated, damaged (checksum) or foreign file, or one of other sizes.
 */
int qscan_save(const qscan *scan, const char *path);
qscan *qscan_load(const char *path, int32_t dimension, int32_t vectors_per_item);

/** A one-line description of a status code (a static string). */
const char *qscan_status_text(int status);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_QSCAN_H */
