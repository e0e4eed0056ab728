/*
 * image_ivf.h — approximate max-over-queries search for large libraries (1M images in
 * about 2 GB): images are partitioned into lists by the mean of their vectors, and each
 * vector is kept only as a 4-bit product-quantized residual from its list's centroid.
 *
 * Why not a FAISS IVF index: FAISS assigns each of an image's 32 vectors to a list on its
 * own (32 coarse searches per image, and an image's vectors scattered over lists, so a
 * probe sees only some of them), and Debian's FAISS 1.7.3 encodes PQ codes with its
 * scalar reference code. Here an image is assigned once, all its vectors sit together,
 * and a probed list scores every image completely.
 *
 * Codes: the residual r = v − c (c: the list's unit centroid) is cut into dimension/2
 * two-dimensional pieces, each replaced by the nearest of 16 trained centroids (4 bits),
 * so a vector takes dimension/4 bytes. An image's approximate score for search vector t
 * is max over its vectors of t·c + Σ t_piece·centroid[code]. Approximate scores only pick
 * candidates: the caller re-scores them exactly with the fp32 vectors.
 *
 * Usage:
 *     vindex_error err;
 *     image_ivf *index = image_ivf_create(256, 32, 2048, &err);
 *     image_ivf_train(index, means, mean_count, sample, sample_images, &err);
 *     image_ivf_add(index, ids, vectors, count, &err);
 *     image_ivf_search(index, text, 1, 32, 200, 0, ids_out, scores_out, &found, &err);
 *     image_ivf_free(index);
 *
 * Thread safety: searches may run concurrently; add, remove and train need exclusive access.
 * Errors: vindex_status codes with a one-line message in `err`; no exception crosses here.
 */
#ifndef IMGSEARCH_IMAGE_IVF_H
#define IMGSEARCH_IMAGE_IVF_H

#include <stdint.h>

#include "vindex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct image_ivf image_ivf;

/** An empty, untrained index of `lists` lists for images of `vectors_per_image` vectors of
 *  `dimension` (a multiple of 4: codes pack two 2-d pieces a byte); NULL on bad sizes, with
 *  the reason in `err`. */
image_ivf *image_ivf_create(int32_t dimension, int32_t vectors_per_image, int32_t lists, vindex_error *err);

/** NULL-safe, as are the three getters below (0 for NULL); every other call returns
 *  VINDEX_ERROR_INVALID_ARGUMENT for a NULL index. */
void image_ivf_free(image_ivf *index);

int64_t image_ivf_count(const image_ivf *index);
int32_t image_ivf_lists(const image_ivf *index);
int32_t image_ivf_is_trained(const image_ivf *index);

/** The unit-length mean of each image's vectors ([count, dimension] into `means`): what an
 *  image is assigned to a list by, and what `image_ivf_train` clusters. */
int image_ivf_image_means(const image_ivf *index, const float *images, int64_t count, float *means,
                          vindex_error *err);

/** Trains the list centroids (spherical k-means on `mean_count` image means, at least one a
 *  list; about 64 a list is plenty) and the residual codebooks (on `image_count` sample
 *  images, [image_count, vectors_per_image, dimension]; 2048 images are plenty). */
int image_ivf_train(image_ivf *index, const float *means, int64_t mean_count, const float *images,
                    int64_t image_count, vindex_error *err);

/** Adds `count` images ([count, vectors_per_image, dimension]) with their ids; an id already
 *  present is an error (nothing of that call is added). */
int image_ivf_add(image_ivf *index, const int64_t *ids, const float *images, int64_t count, vindex_error *err);

/** Removes the listed images; `removed` (may be NULL) gets how many were present. */
int image_ivf_remove(image_ivf *index, const int64_t *ids, int64_t count, int64_t *removed, vindex_error *err);

/**
 * The (up to) `k` images with the best approximate scores for `search_count` search vectors
 * ([search_count, dimension]), looking in the `probes` lists whose centroids score best;
 * best first into `ids` / `scores` (room for k each), `*found` set to how many. `threads`:
 * 0 for all cores.
 */
int image_ivf_search(const image_ivf *index, const float *search, int32_t search_count, int32_t probes,
                     int64_t k, int32_t threads, int64_t *ids, float *scores, int64_t *found, vindex_error *err);

/** Writes the index to `path` (replaced atomically: written to path.tmp, then renamed). */
int image_ivf_save(const image_ivf *index, const char *path, vindex_error *err);

/** Reads an index written by `image_ivf_save` (with its list count); NULL for a missing,
 *  truncated or damaged file, or one of other sizes. */
image_ivf *image_ivf_load(const char *path, int32_t dimension, int32_t vectors_per_image);

/** Bytes held by codes, ids and tables (not counting the allocator's overhead). */
int64_t image_ivf_memory_bytes(const image_ivf *index);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_IMAGE_IVF_H */
