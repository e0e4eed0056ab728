/*
 * What every part of CImageDecode shares: errors, image buffers and their size checks,
 * parameters and names. See include/image_decode.h.
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

imgdec_status imgdec_internal_fail(imgdec_error *err, imgdec_status code, const char *fmt,
                                   ...) {
    if (err) {
        va_list args;
        va_start(args, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
        /* one line: library messages may carry newlines or tabs */
        size_t n = strlen(err->message);
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)err->message[i] < 0x20 || err->message[i] == 0x7f) {
                err->message[i] = ' ';
            }
        }
        while (n > 0 && err->message[n - 1] == ' ') {
            err->message[--n] = '\0';
        }
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

imgdec_status imgdec_internal_check_size(int64_t w, int64_t h, const imgdec_params *p,
                                         const char *what, imgdec_error *err) {
    if (w <= 0 || h <= 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT,
                                    "corrupt %s: invalid size %lldx%lld", what, (long long)w,
                                    (long long)h);
    }
    if (w > UINT32_MAX || h > UINT32_MAX) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "image too large: %lldx%lld",
                                    (long long)w, (long long)h);
    }
    /* both sides < 2^32: the product fits in 64 unsigned bits */
    const uint64_t declared = (uint64_t)w * (uint64_t)h;
    if (p->max_pixels > 0 && declared > (uint64_t)p->max_pixels) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE,
                                    "image too large: %lldx%lld = %llu pixels, limit %lld",
                                    (long long)w, (long long)h, (unsigned long long)declared,
                                    (long long)p->max_pixels);
    }
    if (w > INT32_MAX || h > INT32_MAX || imgdec_internal_rgb_bytes(w, h) == 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "image too large: %lldx%lld",
                                    (long long)w, (long long)h);
    }
    return IMGDEC_OK;
}

imgdec_image *imgdec_internal_image_alloc(int64_t w, int64_t h, imgdec_format format,
                                          int zero, imgdec_error *err) {
    const size_t bytes = imgdec_internal_rgb_bytes(w, h);
    imgdec_image *image = imgdec_internal_image_new();
    uint8_t *pixels = bytes ? (zero ? calloc(1, bytes) : malloc(bytes)) : NULL;
    if (!image || !pixels) {
        free(image);
        free(pixels);
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                             "out of memory for a %lldx%lld image", (long long)w,
                             (long long)h);
        return NULL;
    }
    image->width = (int32_t)w;
    image->height = (int32_t)h;
    image->pixels = pixels;
    image->format = format;
    image->source_width = (int32_t)w;
    image->source_height = (int32_t)h;
    image->content_width = (float)w;
    image->content_height = (float)h;
    return image;
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
    p.apply_exif_orientation = true;
    p.max_file_bytes = (int64_t)2 << 30; /* 2 GiB */
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

const char *imgdec_format_name(imgdec_format format) {
    switch (format) {
    case IMGDEC_FORMAT_JPEG: return "JPEG";
    case IMGDEC_FORMAT_PNG: return "PNG";
    case IMGDEC_FORMAT_WEBP: return "WebP";
    case IMGDEC_FORMAT_HEIF: return "HEIF";
    case IMGDEC_FORMAT_AVIF: return "AVIF";
    case IMGDEC_FORMAT_TIFF: return "TIFF";
    case IMGDEC_FORMAT_GIF: return "GIF";
    case IMGDEC_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

void imgdec_image_free(imgdec_image *image) {
    if (!image) {
        return;
    }
    free(image->pixels);
    free(image);
}
