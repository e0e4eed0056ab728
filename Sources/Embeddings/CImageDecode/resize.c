/*
 * PIL's Image.resize(size, Image.BICUBIC) for 8-bit RGB: libImaging/Resample.c's
 * ImagingResample with box = (0, 0, w, h) and no reducing_gap, reproduced step by step
 * so that the result is bit-identical:
 *   - bicubic kernel a = -0.5, support 2 stretched by the downscale factor
 *     (antialiasing), coefficients normalised to sum 1 in double precision;
 *   - fixed point with PRECISION_BITS = 32 - 8 - 2, coefficients rounded half away
 *     from zero, accumulators start at 1 << (PRECISION_BITS - 1), results clipped to
 *     0..255;
 *   - an optional source box (Image.resize's `box`), in float pixels;
 *   - horizontal pass first (only over the rows the vertical pass reads), rounded to
 *     uint8, then the vertical pass; a pass whose size does not change is skipped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imgdec_internal.h"

#define PRECISION_BITS (32 - 8 - 2)

typedef struct coeffs {
    int ksize;
    int *bounds;   /* per output index: first input index, number of taps */
    int32_t *k;    /* per output index: ksize fixed-point coefficients */
} coeffs;

static double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) {
        x = -x;
    }
    if (x < 1.0) {
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
        return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
}

static inline uint8_t clip8(int in) {
    int v = in >> PRECISION_BITS; /* arithmetic shift, as in Pillow */
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static void coeffs_free(coeffs *c) {
    free(c->bounds);
    free(c->k);
    c->bounds = NULL;
    c->k = NULL;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc. 0 on OOM. */
static int coeffs_init(coeffs *c, int in_size, float in0, float in1, int out_size) {
    double scale, filterscale, support;
    c->bounds = NULL;
    c->k = NULL;

    filterscale = scale = (double)(in1 - in0) / out_size;
    if (filterscale < 1.0) {
        filterscale = 1.0;
    }
    support = 2.0 * filterscale; /* BICUBIC support 2 */
    int ceil_support = (int)support;
    if ((double)ceil_support < support) {
        ceil_support++;
    }
    const int ksize = ceil_support * 2 + 1;
    c->ksize = ksize;

    if ((size_t)out_size > SIZE_MAX / ((size_t)ksize * sizeof(double))) {
        return 0;
    }
    double *pre = malloc((size_t)out_size * (size_t)ksize * sizeof(double));
    c->k = malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    c->bounds = malloc((size_t)out_size * 2 * sizeof(int));
    if (!pre || !c->k || !c->bounds) {
        free(pre);
        coeffs_free(c);
        return 0;
    }

    for (int xx = 0; xx < out_size; xx++) {
        const double center = in0 + (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) {
            xmin = 0;
        }
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) {
            xmax = in_size;
        }
        xmax -= xmin;
        double *k = &pre[(size_t)xx * (size_t)ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bicubic_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++) {
            if (ww != 0.0) {
                k[x] /= ww;
            }
        }
        for (; x < ksize; x++) {
            k[x] = 0;
        }
        c->bounds[xx * 2 + 0] = xmin;
        c->bounds[xx * 2 + 1] = xmax;
    }

    const size_t total = (size_t)out_size * (size_t)ksize;
    for (size_t i = 0; i < total; i++) {
        if (pre[i] < 0) {
            c->k[i] = (int32_t)(int)(-0.5 + pre[i] * (1 << PRECISION_BITS));
        } else {
            c->k[i] = (int32_t)(int)(0.5 + pre[i] * (1 << PRECISION_BITS));
        }
    }
    free(pre);
    return 1;
}

/* rows [row_offset, row_offset + out_h) of `in` (in_w wide) -> `out` (out_w x out_h) */
static void resample_horizontal(const uint8_t *in, int in_w, int row_offset, uint8_t *out,
                                int out_w, int out_h, const coeffs *c) {
    const size_t in_stride = (size_t)in_w * 3, out_stride = (size_t)out_w * 3;
    for (int yy = 0; yy < out_h; yy++) {
        const uint8_t *src = in + (size_t)(yy + row_offset) * in_stride;
        uint8_t *dst = out + (size_t)yy * out_stride;
        for (int xx = 0; xx < out_w; xx++) {
            const int xmin = c->bounds[xx * 2 + 0];
            const int xmax = c->bounds[xx * 2 + 1];
            const int32_t *k = &c->k[(size_t)xx * (size_t)c->ksize];
            int ss0 = 1 << (PRECISION_BITS - 1), ss1 = ss0, ss2 = ss0;
            const uint8_t *p = src + (size_t)xmin * 3;
            for (int x = 0; x < xmax; x++) {
                ss0 += p[3 * x + 0] * k[x];
                ss1 += p[3 * x + 1] * k[x];
                ss2 += p[3 * x + 2] * k[x];
            }
            dst[3 * xx + 0] = clip8(ss0);
            dst[3 * xx + 1] = clip8(ss1);
            dst[3 * xx + 2] = clip8(ss2);
        }
    }
}

static void resample_vertical(const uint8_t *in, int width, uint8_t *out, int out_h,
                              const coeffs *c) {
    const size_t stride = (size_t)width * 3;
    for (int yy = 0; yy < out_h; yy++) {
        const int ymin = c->bounds[yy * 2 + 0];
        const int ymax = c->bounds[yy * 2 + 1];
        const int32_t *k = &c->k[(size_t)yy * (size_t)c->ksize];
        uint8_t *dst = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int ss = 1 << (PRECISION_BITS - 1);
            const uint8_t *p = in + (size_t)ymin * stride + i;
            for (int y = 0; y < ymax; y++) {
                ss += p[(size_t)y * stride] * k[y];
            }
            dst[i] = clip8(ss);
        }
    }
}

imgdec_status imgdec_resize_bicubic_box(const uint8_t *src, int32_t src_w, int32_t src_h,
                                        const float box[4], uint8_t *dst, int32_t dst_w,
                                        int32_t dst_h, imgdec_error *err) {
    if (!src || !dst) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "resize: NULL image buffer");
    }
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "resize: invalid size %dx%d -> %dx%d", (int)src_w,
                                    (int)src_h, (int)dst_w, (int)dst_h);
    }
    if (imgdec_internal_rgb_bytes(src_w, src_h) == 0 ||
        imgdec_internal_rgb_bytes(dst_w, dst_h) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "resize: image too large");
    }
    const float bx0 = box ? box[0] : 0.0f, by0 = box ? box[1] : 0.0f;
    const float bx1 = box ? box[2] : (float)src_w, by1 = box ? box[3] : (float)src_h;
    /* Image.resize's checks: inside the image and not empty (NaN fails them too) */
    if (!(bx0 >= 0.0f && by0 >= 0.0f && bx1 <= (float)src_w && by1 <= (float)src_h &&
          bx1 > bx0 && by1 > by0)) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "resize: box (%g, %g, %g, %g) outside a %dx%d image",
                                    (double)bx0, (double)by0, (double)bx1, (double)by1,
                                    (int)src_w, (int)src_h);
    }

    /* ImagingResampleInner */
    const int need_h = dst_w != src_w || bx0 != 0.0f || bx1 != (float)dst_w;
    const int need_v = dst_h != src_h || by0 != 0.0f || by1 != (float)dst_h;
    if (!need_h && !need_v) { /* a copy */
        memcpy(dst, src, (size_t)src_w * (size_t)src_h * 3);
        return IMGDEC_OK;
    }

    coeffs vert;
    if (!coeffs_init(&vert, src_h, by0, by1, dst_h)) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                                    "resize: out of memory");
    }
    const int ybox_first = vert.bounds[0];
    const int ybox_last = vert.bounds[dst_h * 2 - 2] + vert.bounds[dst_h * 2 - 1];

    const uint8_t *in = src;
    int in_w = src_w;
    uint8_t *temp = NULL;

    if (need_h) {
        coeffs horiz;
        if (!coeffs_init(&horiz, src_w, bx0, bx1, dst_w)) {
            coeffs_free(&vert);
            return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                                        "resize: out of memory");
        }
        for (int i = 0; i < dst_h; i++) {
            vert.bounds[i * 2] -= ybox_first;
        }
        const int temp_h = ybox_last - ybox_first; /* == dst_h when !need_v */
        uint8_t *target = dst;
        if (need_v) {
            temp = malloc((size_t)dst_w * (size_t)temp_h * 3);
            if (!temp) {
                coeffs_free(&horiz);
                coeffs_free(&vert);
                return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                                            "resize: out of memory");
            }
            target = temp;
        }
        resample_horizontal(src, src_w, ybox_first, target, dst_w, temp_h, &horiz);
        coeffs_free(&horiz);
        in = temp;
        in_w = dst_w;
    }

    if (need_v) {
        resample_vertical(in, in_w, dst, dst_h, &vert);
    }
    free(temp);
    coeffs_free(&vert);
    return IMGDEC_OK;
}

imgdec_status imgdec_resize_bicubic(const uint8_t *src, int32_t src_w, int32_t src_h,
                                    uint8_t *dst, int32_t dst_w, int32_t dst_h,
                                    imgdec_error *err) {
    return imgdec_resize_bicubic_box(src, src_w, src_h, NULL, dst, dst_w, dst_h, err);
}
