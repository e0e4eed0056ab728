/*
 * TIFF through libtiff (>= 4.5 for per-handle error handlers), first page only, from
 * memory (TIFFClientOpenExt over the buffer, memory-mapped so strips are read in place).
 *
 * Two paths:
 *   - strip images with contiguous 8- or 16-bit unsigned samples, photometric
 *     MINISBLACK (1 sample, or 2 with alpha), MINISWHITE (8-bit, 1 sample) or RGB
 *     (3, or 4 with alpha): read row by row and converted as Pillow does
 *     (alpha dropped, 16-bit -> high byte, 16-bit gray -> min(v, 255) like "I;16");
 *   - everything else (tiles, planar, palette, YCbCr/JPEG, CMYK, Lab, 1/2/4-bit, ...):
 *     libtiff's TIFFRGBAImage, asked for the stored row order (its orientation handling
 *     is off; the Orientation tag is applied afterwards, always: Pillow (8.0 on) turns a
 *     TIFF by its Orientation tag when loading it, so BlipImageProcessor sees it so). It
 *     premultiplies unassociated alpha, which Pillow does not: colours of RGBA images on
 *     this path differ where alpha < 255.
 * libtiff errors and warnings go to per-handle handlers (never stderr).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "imgdec_internal.h"

typedef struct tiff_source {
    const uint8_t *data;
    size_t size;
    uint64_t pos;
    char message[256]; /* the first libtiff error */
} tiff_source;

static tmsize_t tiff_read(thandle_t h, void *buf, tmsize_t len) {
    tiff_source *src = (tiff_source *)h;
    if (len <= 0 || src->pos >= src->size) {
        return 0;
    }
    uint64_t n = (uint64_t)len;
    if (n > src->size - src->pos) {
        n = src->size - src->pos;
    }
    memcpy(buf, src->data + src->pos, (size_t)n);
    src->pos += n;
    return (tmsize_t)n;
}

static tmsize_t tiff_write(thandle_t h, void *buf, tmsize_t len) {
    (void)h;
    (void)buf;
    (void)len;
    return 0; /* read only */
}

static toff_t tiff_seek(thandle_t h, toff_t off, int whence) {
    tiff_source *src = (tiff_source *)h;
    uint64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = src->pos; break;
    case SEEK_END: base = src->size; break;
    default: return (toff_t)-1;
    }
    if (off > UINT64_MAX - base) {
        return (toff_t)-1;
    }
    src->pos = base + off; /* past the end is allowed; reads there return 0 */
    return (toff_t)src->pos;
}

static int tiff_close(thandle_t h) {
    (void)h;
    return 0;
}

static toff_t tiff_size(thandle_t h) {
    return (toff_t)((tiff_source *)h)->size;
}

static int tiff_map(thandle_t h, void **base, toff_t *size) {
    tiff_source *src = (tiff_source *)h;
    *base = (void *)(uintptr_t)src->data; /* libtiff only reads a file opened "r" */
    *size = (toff_t)src->size;
    return 1;
}

static void tiff_unmap(thandle_t h, void *base, toff_t size) {
    (void)h;
    (void)base;
    (void)size;
}

static int tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt,
                         va_list ap) {
    (void)tif;
    tiff_source *src = (tiff_source *)user;
    if (src && src->message[0] == '\0') {
        char text[200];
        vsnprintf(text, sizeof text, fmt, ap);
        snprintf(src->message, sizeof src->message, "%s%s%s", module ? module : "",
                 module ? ": " : "", text);
    }
    return 1; /* handled: no global handler, nothing on stderr */
}

static int tiff_on_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                           va_list ap) {
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static imgdec_image *tiff_fail(TIFF *tif, imgdec_image *image, void *buf, imgdec_status code,
                               const tiff_source *src, const char *what, imgdec_error *err) {
    if (src->message[0]) {
        imgdec_internal_fail(err, code, "corrupt TIFF: %s (%s)", what, src->message);
    } else {
        imgdec_internal_fail(err, code, "corrupt TIFF: %s", what);
    }
    free(buf);
    imgdec_image_free(image);
    if (tif) {
        TIFFClose(tif);
    }
    return NULL;
}

/* one row of `spp` samples of `bits` (8/16, native order) -> packed RGB */
static void tiff_row_to_rgb(const uint8_t *src, uint8_t *dst, uint32_t w, int spp, int bits,
                            int photometric, int gray16_clip) {
    const uint16_t *s16 = (const uint16_t *)(const void *)src;
    for (uint32_t x = 0; x < w; x++, dst += 3) {
        const size_t i = (size_t)x * (size_t)spp;
        if (photometric == PHOTOMETRIC_RGB) {
            if (bits == 8) {
                dst[0] = src[i];
                dst[1] = src[i + 1];
                dst[2] = src[i + 2];
            } else {
                dst[0] = (uint8_t)(s16[i] >> 8);
                dst[1] = (uint8_t)(s16[i + 1] >> 8);
                dst[2] = (uint8_t)(s16[i + 2] >> 8);
            }
        } else {
            uint8_t g;
            if (bits == 8) {
                g = src[i];
                if (photometric == PHOTOMETRIC_MINISWHITE) {
                    g = (uint8_t)(255 - g);
                }
            } else if (spp == 1 && gray16_clip) {
                g = (uint8_t)(s16[i] > 255 ? 255 : s16[i]); /* Pillow "I;16" -> "RGB" */
            } else {
                g = (uint8_t)(s16[i] >> 8);
            }
            dst[0] = dst[1] = dst[2] = g;
        }
    }
}

imgdec_image *imgdec_internal_decode_tiff(const uint8_t *data, size_t size,
                                          const imgdec_params *p, imgdec_error *err) {
    tiff_source src;
    memset(&src, 0, sizeof src);
    src.data = data;
    src.size = size;

    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) {
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory (libtiff)");
        return NULL;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, &src);
    if (p->max_pixels > 0) {
        /* no single libtiff buffer (a strip, a tile) larger than the largest allowed
           image at 8 bytes per pixel (16-bit RGBA), plus slack */
        const int64_t cap = p->max_pixels < (INT64_MAX >> 4) ? p->max_pixels * 8 + (64 << 20)
                                                              : 0;
        if (cap > 0 && (uint64_t)cap < (uint64_t)((tmsize_t)-1 >> 1)) {
            TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)cap);
        }
    }
    TIFF *tif = TIFFClientOpenExt("memory", "r", (thandle_t)&src, tiff_read, tiff_write,
                                  tiff_seek, tiff_close, tiff_size, tiff_map, tiff_unmap,
                                  opts);
    TIFFOpenOptionsFree(opts);
    if (!tif) {
        return tiff_fail(NULL, NULL, NULL, IMGDEC_ERROR_CORRUPT, &src, "cannot read header",
                         err);
    }

    uint32_t w = 0, h = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h)) {
        return tiff_fail(tif, NULL, NULL, IMGDEC_ERROR_CORRUPT, &src, "no image size", err);
    }
    if (imgdec_internal_check_size(w, h, p, "TIFF", err) != IMGDEC_OK) {
        TIFFClose(tif);
        return NULL;
    }

    uint16_t spp = 1, bits = 1, planar = PLANARCONFIG_CONTIG, orient = ORIENTATION_TOPLEFT;
    uint16_t sample_format = SAMPLEFORMAT_UINT, photometric = 0xffff;
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sample_format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
    const int has_photometric = TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);

    imgdec_image *image = imgdec_internal_image_alloc(w, h, IMGDEC_FORMAT_TIFF, 0, err);
    if (!image) {
        TIFFClose(tif);
        return NULL;
    }

    const int direct =
        has_photometric && !TIFFIsTiled(tif) && planar == PLANARCONFIG_CONTIG &&
        sample_format == SAMPLEFORMAT_UINT && (bits == 8 || bits == 16) &&
        ((photometric == PHOTOMETRIC_RGB && (spp == 3 || spp == 4)) ||
         (photometric == PHOTOMETRIC_MINISBLACK && (spp == 1 || spp == 2)) ||
         (photometric == PHOTOMETRIC_MINISWHITE && spp == 1 && bits == 8));
    if (direct) {
        const uint64_t need = (uint64_t)w * spp * (bits / 8);
        const uint64_t line = TIFFScanlineSize64(tif);
        if (line < need || line > SIZE_MAX / 2) {
            return tiff_fail(tif, image, NULL, IMGDEC_ERROR_CORRUPT, &src, "bad scanline size",
                             err);
        }
        uint8_t *row = malloc((size_t)line);
        if (!row) {
            return tiff_fail(tif, image, NULL, IMGDEC_ERROR_OUT_OF_MEMORY, &src,
                             "out of memory", err);
        }
        for (uint32_t y = 0; y < h; y++) {
            if (TIFFReadScanline(tif, row, y, 0) < 0) {
                return tiff_fail(tif, image, row, IMGDEC_ERROR_CORRUPT, &src,
                                 "cannot read image data", err);
            }
            tiff_row_to_rgb(row, image->pixels + (size_t)y * (size_t)w * 3, w, spp, bits,
                            photometric, p->png_gray16_pil_clip);
        }
        free(row);
    } else {
        char emsg[1024] = "";
        if (!TIFFRGBAImageOK(tif, emsg)) {
            imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT, "unsupported TIFF: %s",
                                 emsg[0] ? emsg : "unknown layout");
            imgdec_image_free(image);
            TIFFClose(tif);
            return NULL;
        }
        if ((uint64_t)w * h > SIZE_MAX / 4) {
            return tiff_fail(tif, image, NULL, IMGDEC_ERROR_TOO_LARGE, &src, "too large", err);
        }
        uint32_t *raster = malloc((size_t)w * h * sizeof(uint32_t));
        if (!raster) {
            return tiff_fail(tif, image, NULL, IMGDEC_ERROR_OUT_OF_MEMORY, &src,
                             "out of memory", err);
        }
        TIFFRGBAImage rgba;
        memset(&rgba, 0, sizeof rgba);
        if (!TIFFRGBAImageBegin(&rgba, tif, 1 /* stop on error */, emsg)) {
            imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT, "unsupported TIFF: %s",
                                 emsg[0] ? emsg : "unknown layout");
            free(raster);
            imgdec_image_free(image);
            TIFFClose(tif);
            return NULL;
        }
        /* rows in stored order, top first: asking for the file's own orientation makes
           libtiff flip nothing (it cannot rotate anyway) */
        rgba.req_orientation = rgba.orientation;
        src.message[0] = '\0'; /* from here, any libtiff error fails the decode */
        const int ok = TIFFRGBAImageGet(&rgba, raster, w, h);
        TIFFRGBAImageEnd(&rgba);
        if (!ok || src.message[0]) { /* never partial pixels */
            return tiff_fail(tif, image, raster, IMGDEC_ERROR_CORRUPT, &src,
                             "cannot read image data", err);
        }
        uint8_t *dst = image->pixels;
        const size_t n = (size_t)w * h;
        for (size_t i = 0; i < n; i++, dst += 3) {
            const uint32_t v = raster[i];
            dst[0] = (uint8_t)TIFFGetR(v);
            dst[1] = (uint8_t)TIFFGetG(v);
            dst[2] = (uint8_t)TIFFGetB(v);
        }
        free(raster);
    }
    TIFFClose(tif);
    /* applied by imgdec_decode_memory whatever apply_exif_orientation says: Pillow
       applies a TIFF's Orientation tag when it loads the file */
    if (orient >= 1 && orient <= 8) {
        image->orientation = orient;
    }
    return image;
}
