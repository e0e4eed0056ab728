/*
 * PNG through libpng's progressive-free read API with PIL's conversions, not through the
 * simplified png_image_* API: the simplified API treats 16-bit data without gAMA as
 * linear light and gamma-converts it to sRGB, applies gAMA to 8-bit data too, and
 * scales 16->8 bits with rounding, none of which Pillow does (Pillow ignores gAMA and
 * keeps the high byte). Reproduced here, as `Image.open(p).convert("RGB")`:
 *   gray 1/2/4/8      -> replicated (bit replication for < 8 bits, as "L;2"/"L;4")
 *   gray 16           -> min(v, 255) (Pillow "I;16" -> "RGB"), or the high byte
 *   gray+alpha 8/16   -> gray (high byte) replicated, alpha dropped
 *   RGB 8/16          -> high byte
 *   RGBA 8/16         -> RGB (high byte), alpha dropped
 *   palette 1..8      -> palette colours, tRNS ignored
 * Ancillary chunks (gAMA, cHRM, iCCP, sBIT, tRNS on non-palette images) are ignored.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "imgdec_internal.h"

typedef struct png_guard {
    jmp_buf jump;
    const uint8_t *data; /* the whole file */
    size_t size;
    size_t pos;
    imgdec_status status; /* IMGDEC_OK until a callback decides otherwise */
    char message[512];
} png_guard;

/* ASCII case-insensitive "does `text` contain `needle`" (strcasestr is not portable) */
static int contains_nocase(const char *text, const char *needle) {
    size_t n = strlen(needle);
    for (; *text; text++) {
        size_t i = 0;
        while (i < n && text[i] &&
               (text[i] | 0x20) == (needle[i] | 0x20)) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return 0;
}

static void guard_error(png_structp png, png_const_charp msg) {
    png_guard *guard = (png_guard *)png_get_error_ptr(png);
    if (guard->status == IMGDEC_OK) {
        const char *text = msg ? msg : "unknown libpng error";
        if (contains_nocase(text, "out of memory")) {
            guard->status = IMGDEC_ERROR_OUT_OF_MEMORY;
        } else {
            guard->status = IMGDEC_ERROR_CORRUPT;
        }
        snprintf(guard->message, sizeof guard->message, "corrupt PNG: %s", text);
    }
    longjmp(guard->jump, 1);
}

static void guard_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* benign: never print */
}

static void guard_read(png_structp png, png_bytep data, size_t length) {
    png_guard *guard = (png_guard *)png_get_io_ptr(png);
    if (length > guard->size - guard->pos) {
        guard->status = IMGDEC_ERROR_CORRUPT;
        snprintf(guard->message, sizeof guard->message,
                 "truncated PNG (unexpected end of file)");
        png_error(png, guard->message);
    }
    memcpy(data, guard->data + guard->pos, length);
    guard->pos += length;
}

#ifdef PNG_eXIf_SUPPORTED
static int png_exif_orientation(png_structp png, png_infop info) {
    png_bytep exif = NULL;
    png_uint_32 n = png_get_eXIf_1(png, info, &n, &exif) ? n : 0;
    return (exif && n) ? imgdec_internal_exif_orientation(exif, n) : 0;
}
#endif

/* Convert one transformed row (8-bit 1..4 channels, or 16-bit gray) to packed RGB. */
static void row_to_rgb(const uint8_t *src, uint8_t *dst, int64_t w, int channels,
                       int depth) {
    int64_t x;
    if (depth == 16) { /* gray 16, Pillow clip: v > 255 -> 255 */
        for (x = 0; x < w; x++) {
            unsigned v = ((unsigned)src[2 * x] << 8) | src[2 * x + 1];
            uint8_t g = (uint8_t)(v > 255 ? 255 : v);
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = g;
        }
        return;
    }
    switch (channels) {
    case 1:
        for (x = 0; x < w; x++) {
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
        }
        break;
    case 2:
        for (x = 0; x < w; x++) {
            dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[2 * x];
        }
        break;
    case 3:
        memcpy(dst, src, (size_t)w * 3);
        break;
    default:
        for (x = 0; x < w; x++) {
            dst[3 * x] = src[4 * x];
            dst[3 * x + 1] = src[4 * x + 1];
            dst[3 * x + 2] = src[4 * x + 2];
        }
        break;
    }
}

imgdec_image *imgdec_internal_decode_png(const uint8_t *data, size_t size,
                                         const imgdec_params *p, imgdec_error *err) {
    png_guard guard;
    png_structp png = NULL;
    png_infop info = NULL;
    imgdec_image *volatile image = NULL;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile rows = NULL;            /* one row, or the whole interlaced image */
    png_bytep *volatile row_pointers = NULL;  /* interlaced only */

    volatile int orientation = 0;

    memset(&guard, 0, sizeof guard);
    guard.data = data;
    guard.size = size;
    guard.status = IMGDEC_OK;

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &guard, guard_error, guard_warning);
    if (!png) {
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory (libpng)");
        return NULL;
    }
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory (libpng)");
        return NULL;
    }

    if (setjmp(guard.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(row_pointers);
        free(rows);
        free(pixels);
        free(image);
        imgdec_internal_fail(err, guard.status == IMGDEC_OK ? IMGDEC_ERROR_CORRUPT : guard.status,
                             "%s", guard.message);
        return NULL;
    }

    png_set_read_fn(png, &guard, guard_read);
    /* libpng's default 1,000,000-pixel side limit would report a corrupt file; let the
       caller's max_pixels decide instead. */
    png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
    png_read_info(png, info);
#ifdef PNG_eXIf_SUPPORTED
    if (p->apply_exif_orientation) {
        orientation = png_exif_orientation(png, info);
    }
#endif

    png_uint_32 w32 = 0, h32 = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &w32, &h32, &bit_depth, &color_type, &interlace, NULL, NULL);
    const int64_t w = w32, h = h32;
    {
        imgdec_error size_err;
        if (imgdec_internal_check_size(w, h, p, "PNG", &size_err) != IMGDEC_OK) {
            guard.status = size_err.code;
            snprintf(guard.message, sizeof guard.message, "%s", size_err.message);
            longjmp(guard.jump, 1);
        }
    }
    const size_t bytes = imgdec_internal_rgb_bytes(w, h);

    const int gray = (color_type == PNG_COLOR_TYPE_GRAY);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png); /* RGB, or RGBA when tRNS is present */
    }
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png); /* no tRNS -> alpha */
    }
    if (bit_depth == 16 && !(gray && p->png_gray16_pil_clip)) {
        png_set_strip_16(png); /* keep the high byte, as Pillow's ";16B" unpackers */
    }
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const int channels = png_get_channels(png, info);
    const int depth = png_get_bit_depth(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (!((depth == 8 && channels >= 1 && channels <= 4) || (depth == 16 && channels == 1)) ||
        rowbytes < (size_t)w * (size_t)channels * (size_t)(depth / 8)) {
        guard.status = IMGDEC_ERROR_UNSUPPORTED_FORMAT;
        snprintf(guard.message, sizeof guard.message,
                 "unsupported PNG layout (colour type %d, %d-bit)", color_type, bit_depth);
        longjmp(guard.jump, 1);
    }

    image = imgdec_internal_image_new();
    pixels = malloc(bytes);
    if (passes > 1) {
        if (rowbytes > SIZE_MAX / (size_t)h) {
            guard.status = IMGDEC_ERROR_TOO_LARGE;
            snprintf(guard.message, sizeof guard.message, "image too large: %lldx%lld",
                     (long long)w, (long long)h);
            longjmp(guard.jump, 1);
        }
        rows = malloc(rowbytes * (size_t)h);
        row_pointers = malloc(sizeof(png_bytep) * (size_t)h);
    } else {
        rows = malloc(rowbytes);
    }
    if (!image || !pixels || !rows || (passes > 1 && !row_pointers)) {
        guard.status = IMGDEC_ERROR_OUT_OF_MEMORY;
        snprintf(guard.message, sizeof guard.message, "out of memory for a %lldx%lld image",
                 (long long)w, (long long)h);
        longjmp(guard.jump, 1);
    }

    if (passes > 1) {
        for (int64_t y = 0; y < h; y++) {
            row_pointers[y] = rows + (size_t)y * rowbytes;
        }
        png_read_image(png, row_pointers);
        for (int64_t y = 0; y < h; y++) {
            row_to_rgb(row_pointers[y], pixels + (size_t)y * (size_t)w * 3, w, channels, depth);
        }
    } else {
        for (int64_t y = 0; y < h; y++) {
            png_read_row(png, rows, NULL);
            row_to_rgb(rows, pixels + (size_t)y * (size_t)w * 3, w, channels, depth);
        }
    }
    /* The pixels are complete; trailing chunks do not change them. Only an eXIf chunk
       after the image data (allowed since PNG 1.5 / eXIf 1.5.0) is looked for, and a
       damaged tail then is ignored, as Pillow ignores it. */
#ifdef PNG_eXIf_SUPPORTED
    if (p->apply_exif_orientation && orientation == 0) {
        /* a new landing point: an error in the tail just ends the search */
        if (setjmp(guard.jump) == 0) {
            png_read_end(png, info);
            orientation = png_exif_orientation(png, info);
        }
    }
#endif
    png_destroy_read_struct(&png, &info, NULL);
    free(row_pointers);
    free(rows);

    imgdec_image *out = image;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    out->pixels = pixels;
    out->format = IMGDEC_FORMAT_PNG;
    out->source_width = (int32_t)w;
    out->source_height = (int32_t)h;
    out->content_width = (float)w;
    out->content_height = (float)h;
    out->orientation = orientation;
    return out;
}
