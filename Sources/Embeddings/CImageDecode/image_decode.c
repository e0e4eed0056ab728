/*
 * Entry points of CImageDecode: parameters, errors, format sniffing, normalisation and
 * the decode -> resize -> normalise pipeline. See include/image_decode.h.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* strerror_r, XSI variant */
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgdec_internal.h"

imgdec_status imgdec_internal_fail(imgdec_error *err, imgdec_status code, const char *fmt,
                                   ...) {
    if (err) {
        va_list args;
        va_start(args, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
    }
    return code;
}

const char *imgdec_internal_strerror(int errnum, char *buf, size_t len) {
    if (len == 0) {
        return "";
    }
    buf[0] = '\0';
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    {
        const char *s = strerror_r(errnum, buf, len); /* GNU variant */
        if (s != buf) {
            snprintf(buf, len, "%s", s ? s : "");
        }
    }
#else
    if (strerror_r(errnum, buf, len) != 0) { /* XSI variant */
        buf[0] = '\0';
    }
#endif
    if (buf[0] == '\0') {
        snprintf(buf, len, "error %d", errnum);
    }
    return buf;
}

size_t imgdec_internal_rgb_bytes(int64_t w, int64_t h) {
    if (w <= 0 || h <= 0) {
        return 0;
    }
    if ((uint64_t)w > SIZE_MAX / 3 / (uint64_t)h) {
        return 0;
    }
    return (size_t)w * (size_t)h * 3;
}

imgdec_image *imgdec_internal_image_new(void) {
    return calloc(1, sizeof(imgdec_image));
}

imgdec_params imgdec_default_params(void) {
    imgdec_params p;
    memset(&p, 0, sizeof p);
    p.size = 224;
    p.max_pixels = 178956970; /* 2 * PIL's Image.MAX_IMAGE_PIXELS */
    p.jpeg_dct_scaling = true;
    p.jpeg_dct_min_side = 0; /* = size */
    p.png_gray16_pil_clip = true;
    p.rescale_factor = 1.0 / 255.0;
    p.mean[0] = 0.48145466f;
    p.mean[1] = 0.4578275f;
    p.mean[2] = 0.40821073f;
    p.std[0] = 0.26862954f;
    p.std[1] = 0.26130258f;
    p.std[2] = 0.27577711f;
    return p;
}

const char *imgdec_status_name(imgdec_status status) {
    switch (status) {
    case IMGDEC_OK: return "IMGDEC_OK";
    case IMGDEC_ERROR_IO: return "IMGDEC_ERROR_IO";
    case IMGDEC_ERROR_UNSUPPORTED_FORMAT: return "IMGDEC_ERROR_UNSUPPORTED_FORMAT";
    case IMGDEC_ERROR_CORRUPT: return "IMGDEC_ERROR_CORRUPT";
    case IMGDEC_ERROR_TOO_LARGE: return "IMGDEC_ERROR_TOO_LARGE";
    case IMGDEC_ERROR_OUT_OF_MEMORY: return "IMGDEC_ERROR_OUT_OF_MEMORY";
    case IMGDEC_ERROR_INVALID_ARGUMENT: return "IMGDEC_ERROR_INVALID_ARGUMENT";
    }
    return "IMGDEC_ERROR_UNKNOWN";
}

void imgdec_image_free(imgdec_image *image) {
    if (!image) {
        return;
    }
    free(image->pixels);
    free(image);
}

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_signature[3] = {0xff, 0xd8, 0xff};

/* A name for the formats we recognise but do not decode, for a useful message. */
static const char *other_format_name(const uint8_t *m, size_t n) {
    if (n >= 6 && (memcmp(m, "GIF87a", 6) == 0 || memcmp(m, "GIF89a", 6) == 0)) return "GIF";
    if (n >= 12 && memcmp(m, "RIFF", 4) == 0 && memcmp(m + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && (memcmp(m, "II*\0", 4) == 0 || memcmp(m, "MM\0*", 4) == 0)) return "TIFF";
    if (n >= 2 && memcmp(m, "BM", 2) == 0) return "BMP";
    if (n >= 12 && memcmp(m + 4, "ftyp", 4) == 0) {
        if (memcmp(m + 8, "avif", 4) == 0 || memcmp(m + 8, "avis", 4) == 0) return "AVIF";
        if (memcmp(m + 8, "heic", 4) == 0 || memcmp(m + 8, "heix", 4) == 0 ||
            memcmp(m + 8, "mif1", 4) == 0 || memcmp(m + 8, "msf1", 4) == 0) return "HEIF/HEIC";
        return "an ISO media (MP4/MOV/HEIF) file";
    }
    if (n >= 12 && memcmp(m, "\0\0\0\x0cjP  ", 8) == 0) return "JPEG 2000";
    if (n >= 2 && m[0] == 0xff && m[1] == 0x0a) return "JPEG XL";
    if (n >= 4 && memcmp(m, "8BPS", 4) == 0) return "Photoshop PSD";
    if (n >= 5 && memcmp(m, "%PDF-", 5) == 0) return "PDF";
    return NULL;
}

imgdec_image *imgdec_decode_file(const char *path, const imgdec_params *params,
                                 imgdec_error *err) {
    if (!path) {
        imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "no file path given");
        return NULL;
    }
    const imgdec_params p = params ? *params : imgdec_default_params();
    char ebuf[128];

    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot open: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }

    uint8_t magic[16];
    size_t n = fread(magic, 1, sizeof magic, fp);
    if (n < sizeof magic && ferror(fp)) {
        int e = errno;
        fclose(fp);
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot read: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }
    if (n == 0) {
        fclose(fp);
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "empty file (0 bytes)");
        return NULL;
    }

    imgdec_format format = IMGDEC_FORMAT_UNKNOWN;
    if (n >= sizeof jpeg_signature && memcmp(magic, jpeg_signature, sizeof jpeg_signature) == 0) {
        format = IMGDEC_FORMAT_JPEG;
    } else if (n >= sizeof png_signature &&
               memcmp(magic, png_signature, sizeof png_signature) == 0) {
        format = IMGDEC_FORMAT_PNG;
    } else {
        const int jpeg_prefix = n < sizeof jpeg_signature && memcmp(magic, jpeg_signature, n) == 0;
        const int png_prefix = n < sizeof png_signature && memcmp(magic, png_signature, n) == 0;
        const char *other = other_format_name(magic, n);
        fclose(fp);
        if (jpeg_prefix || png_prefix) {
            imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "truncated %s (%zu bytes)",
                                 jpeg_prefix ? "JPEG" : "PNG", n);
        } else if (other) {
            imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                                 "unsupported image format: %s (only JPEG and PNG are decoded)",
                                 other);
        } else {
            imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                                 "not a JPEG or PNG file (unrecognised content)");
        }
        return NULL;
    }

    if (fseek(fp, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(fp);
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot seek: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }

    imgdec_image *image = (format == IMGDEC_FORMAT_JPEG)
                              ? imgdec_internal_decode_jpeg(fp, &p, err)
                              : imgdec_internal_decode_png(fp, &p, err);
    fclose(fp);
    return image;
}

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

imgdec_status imgdec_load_preprocessed_with_params(const char *path,
                                                   const imgdec_params *params,
                                                   float *out_chw, imgdec_error *err) {
    if (!path || !out_chw) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "load_preprocessed: NULL argument");
    }
    imgdec_error local;
    if (!err) {
        err = &local; /* keep the code of a failed decode */
    }
    const imgdec_params p = params ? *params : imgdec_default_params();
    if (p.size <= 0 || imgdec_internal_rgb_bytes(p.size, p.size) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT,
                                    "load_preprocessed: invalid size %d", (int)p.size);
    }

    imgdec_image *image = imgdec_decode_file(path, &p, err);
    if (!image) {
        return err->code;
    }
    const size_t bytes = imgdec_internal_rgb_bytes(p.size, p.size);
    uint8_t *small = malloc(bytes);
    if (!small) {
        imgdec_image_free(image);
        return imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    /* after DCT scaling the last block column/row is partial: resize from the exact
       extent of the source so that the geometry matches a full-size decode */
    const float box[4] = {0.0f, 0.0f, image->content_width, image->content_height};
    imgdec_status status = imgdec_resize_bicubic_box(image->pixels, image->width,
                                                     image->height, box, small, p.size,
                                                     p.size, err);
    imgdec_image_free(image);
    if (status == IMGDEC_OK) {
        status = imgdec_normalize_chw(small, p.size, p.size, &p, out_chw, err);
    }
    free(small);
    return status;
}

imgdec_status imgdec_load_preprocessed(const char *path, int32_t size, int64_t max_pixels,
                                       float *out_chw, imgdec_error *err) {
    imgdec_params p = imgdec_default_params();
    p.size = size;
    p.max_pixels = max_pixels;
    return imgdec_load_preprocessed_with_params(path, &p, out_chw, err);
}
