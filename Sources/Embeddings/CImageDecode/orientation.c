/*
 * EXIF orientation: turning a decoded buffer upright (the tag is read in exif.c) the
 * way PIL's ImageOps.exif_transpose does:
 *   2 FLIP_LEFT_RIGHT   3 ROTATE_180   4 FLIP_TOP_BOTTOM   5 TRANSPOSE
 *   6 ROTATE_270 (90 deg clockwise)    7 TRANSVERSE        8 ROTATE_90 (counter-clockwise)
 * The content box (partial DCT blocks, see image_decode.h) is carried through the same
 * transform, so that a DCT-scaled decode keeps the full-size geometry after rotation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imgdec_internal.h"

/* ---- pixel transforms ----------------------------------------------------------------- */

static void swap3(uint8_t *a, uint8_t *b) {
    uint8_t t0 = a[0], t1 = a[1], t2 = a[2];
    a[0] = b[0];
    a[1] = b[1];
    a[2] = b[2];
    b[0] = t0;
    b[1] = t1;
    b[2] = t2;
}

static void flip_left_right(uint8_t *px, size_t w, size_t h) {
    for (size_t y = 0; y < h; y++) {
        uint8_t *row = px + y * w * 3;
        for (size_t x = 0; x < w / 2; x++) {
            swap3(row + 3 * x, row + 3 * (w - 1 - x));
        }
    }
}

static void flip_top_bottom(uint8_t *px, size_t w, size_t h) {
    const size_t stride = w * 3;
    for (size_t y = 0; y < h / 2; y++) {
        uint8_t *a = px + y * stride, *b = px + (h - 1 - y) * stride;
        for (size_t i = 0; i < stride; i++) {
            uint8_t t = a[i];
            a[i] = b[i];
            b[i] = t;
        }
    }
}

/*
 * 5..8: out is h x w (out width = in height). For output (xo, yo) the source is
 *   5 (yo, xo)   6 (yo, h-1-xo)   7 (w-1-yo, h-1-xo)   8 (w-1-yo, xo)
 * walked in 32x32 tiles so that both buffers stay in cache.
 */
static void transpose_into(const uint8_t *in, size_t w, size_t h, uint8_t *out,
                           int orientation) {
    const size_t ow = h, oh = w, tile = 32;
    const int mirror_x = (orientation == 7 || orientation == 8); /* sx = w-1-yo */
    const int mirror_y = (orientation == 6 || orientation == 7); /* sy = h-1-xo */
    for (size_t y0 = 0; y0 < oh; y0 += tile) {
        const size_t y1 = y0 + tile < oh ? y0 + tile : oh;
        for (size_t x0 = 0; x0 < ow; x0 += tile) {
            const size_t x1 = x0 + tile < ow ? x0 + tile : ow;
            for (size_t yo = y0; yo < y1; yo++) {
                const size_t sx = mirror_x ? w - 1 - yo : yo;
                uint8_t *dst = out + (yo * ow + x0) * 3;
                for (size_t xo = x0; xo < x1; xo++, dst += 3) {
                    const size_t sy = mirror_y ? h - 1 - xo : xo;
                    const uint8_t *src = in + (sy * w + sx) * 3;
                    dst[0] = src[0];
                    dst[1] = src[1];
                    dst[2] = src[2];
                }
            }
        }
    }
}

imgdec_status imgdec_image_apply_orientation(imgdec_image *image, int32_t orientation,
                                             imgdec_error *err) {
    if (!image || !image->pixels) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "apply_orientation: NULL image");
    }
    if (orientation < 1 || orientation > 8) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "apply_orientation: orientation %d outside 1..8",
                                    (int)orientation);
    }
    if (image->width <= 0 || image->height <= 0 ||
        imgdec_internal_rgb_bytes(image->width, image->height) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "apply_orientation: invalid size %dx%d", (int)image->width,
                                    (int)image->height);
    }
    const size_t w = (size_t)image->width, h = (size_t)image->height;
    const float W = (float)image->width, H = (float)image->height;
    const float x0 = image->content_x, y0 = image->content_y;
    const float x1 = x0 + image->content_width, y1 = y0 + image->content_height;
    float nx0 = x0, ny0 = y0, nx1 = x1, ny1 = y1; /* the content box after the transform */

    switch (orientation) {
    case 1:
        return IMGDEC_OK;
    case 2:
        flip_left_right(image->pixels, w, h);
        nx0 = W - x1;
        nx1 = W - x0;
        break;
    case 3:
        flip_left_right(image->pixels, w, h);
        flip_top_bottom(image->pixels, w, h);
        nx0 = W - x1;
        nx1 = W - x0;
        ny0 = H - y1;
        ny1 = H - y0;
        break;
    case 4:
        flip_top_bottom(image->pixels, w, h);
        ny0 = H - y1;
        ny1 = H - y0;
        break;
    default: { /* 5..8 */
        uint8_t *out = malloc(w * h * 3);
        if (!out) {
            return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                                        "out of memory rotating a %zux%zu image", w, h);
        }
        transpose_into(image->pixels, w, h, out, orientation);
        free(image->pixels);
        image->pixels = out;
        image->width = (int32_t)h;
        image->height = (int32_t)w;
        /* output x runs along input y (mirrored for 6, 7), output y along input x
           (mirrored for 7, 8) */
        if (orientation == 5 || orientation == 8) {
            nx0 = y0;
            nx1 = y1;
        } else {
            nx0 = H - y1;
            nx1 = H - y0;
        }
        if (orientation == 5 || orientation == 6) {
            ny0 = x0;
            ny1 = x1;
        } else {
            ny0 = W - x1;
            ny1 = W - x0;
        }
        break;
    }
    }
    image->content_x = nx0;
    image->content_y = ny0;
    image->content_width = nx1 - nx0;
    image->content_height = ny1 - ny0;
    return IMGDEC_OK;
}
