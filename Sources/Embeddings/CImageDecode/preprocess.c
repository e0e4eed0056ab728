/*
 * Normalisation and the decode -> orient -> resize -> normalise pipeline of CImageDecode.
 * See include/image_decode.h.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* strerror_r (XSI variant), fstat */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "imgdec_internal.h"

/* ---- normalisation and the pipeline -------------------------------------------------- */

imgdec_status imgdec_normalize_chw(const uint8_t *rgb, int32_t width, int32_t height,
                                   const imgdec_params *params, float *out_chw,
                                   imgdec_error *err) {
    if (!rgb || !out_chw) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "normalize: NULL buffer");
    }
    if (width <= 0 || height <= 0 || imgdec_internal_rgb_bytes(width, height) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "normalize: invalid size %dx%d", (int)width, (int)height);
    }
    const imgdec_params p = params ? *params : imgdec_default_params();
    const size_t plane = (size_t)width * (size_t)height;

    /* transformers: rescale = (image.astype(float64) * scale).astype(float32), then
       normalize = (image - mean) / std with float32 image, mean and std. A 256-entry
       table per channel gives exactly those float32 operations (volatile: no excess
       precision or contraction may merge the steps). */
    for (int c = 0; c < 3; c++) {
        float table[256];
        const float mean = p.mean[c], std = p.std[c];
        for (int v = 0; v < 256; v++) {
            volatile float rescaled = (float)((double)v * p.rescale_factor);
            volatile float centred = rescaled - mean;
            table[v] = centred / std;
        }
        float *dst = out_chw + (size_t)c * plane;
        const uint8_t *src = rgb + c;
        for (size_t i = 0; i < plane; i++) {
            dst[i] = table[src[3 * i]];
        }
    }
    return IMGDEC_OK;
}

/* resize `image` (its content box) to p->size square and normalise into out_chw */
static imgdec_status preprocess_image(const imgdec_image *image, const imgdec_params *p,
                                      float *out_chw, imgdec_error *err) {
    const size_t bytes = imgdec_internal_rgb_bytes(p->size, p->size);
    uint8_t *small = malloc(bytes);
    if (!small) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    /* after DCT scaling the last block column/row is partial: resize from the exact
       extent of the source so that the geometry matches a full-size decode */
    float box[4] = {image->content_x, image->content_y,
                    image->content_x + image->content_width,
                    image->content_y + image->content_height};
    if (box[2] > (float)image->width) box[2] = (float)image->width;
    if (box[3] > (float)image->height) box[3] = (float)image->height;
    imgdec_status status = imgdec_resize_bicubic_box(image->pixels, image->width,
                                                     image->height, box, small, p->size,
                                                     p->size, err);
    if (status == IMGDEC_OK) {
        status = imgdec_normalize_chw(small, p->size, p->size, p, out_chw, err);
    }
    free(small);
    return status;
}

static imgdec_status check_preprocess_args(const void *source, const float *out_chw,
                                           const imgdec_params *p, imgdec_error *err) {
    if (!source || !out_chw) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "load_preprocessed: NULL argument");
    }
    if (p->size <= 0 || imgdec_internal_rgb_bytes(p->size, p->size) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "load_preprocessed: invalid size %d", (int)p->size);
    }
    return IMGDEC_OK;
}

imgdec_status imgdec_load_preprocessed_with_params(const char *path,
                                                   const imgdec_params *params,
                                                   float *out_chw, imgdec_error *err) {
    const imgdec_params p = params ? *params : imgdec_default_params();
    imgdec_status status = check_preprocess_args(path, out_chw, &p, err);
    if (status != IMGDEC_OK) {
        return status;
    }
    imgdec_error local;
    if (!err) {
        err = &local; /* keep the code of a failed decode */
    }
    imgdec_image *image = imgdec_decode_file(path, &p, err);
    if (!image) {
        return err->code;
    }
    status = preprocess_image(image, &p, out_chw, err);
    imgdec_image_free(image);
    return status;
}

imgdec_status imgdec_load_preprocessed_memory(const uint8_t *data, size_t size,
                                              const imgdec_params *params, float *out_chw,
                                              imgdec_error *err) {
    const imgdec_params p = params ? *params : imgdec_default_params();
    imgdec_status status = check_preprocess_args(data, out_chw, &p, err);
    if (status != IMGDEC_OK) {
        return status;
    }
    imgdec_error local;
    if (!err) {
        err = &local;
    }
    imgdec_image *image = imgdec_decode_memory(data, size, &p, err);
    if (!image) {
        return err->code;
    }
    status = preprocess_image(image, &p, out_chw, err);
    imgdec_image_free(image);
    return status;
}

imgdec_status imgdec_load_preprocessed(const char *path, int32_t size, int64_t max_pixels,
                                       float *out_chw, imgdec_error *err) {
    imgdec_params p = imgdec_default_params();
    p.size = size;
    p.max_pixels = max_pixels;
    return imgdec_load_preprocessed_with_params(path, &p, out_chw, err);
}
