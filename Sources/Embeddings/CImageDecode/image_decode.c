/*
 * Entry points of CImageDecode: parameters, errors, reading files, format sniffing,
 * dispatch to the format decoders, normalisation and the decode -> orient -> resize ->
 * normalise pipeline. See include/image_decode.h.
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

/* ---- format sniffing ---------------------------------------------------------------- */

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_signature[3] = {0xff, 0xd8, 0xff};

static int brand_is(const uint8_t *b, const char *const *list) {
    for (; *list; list++) {
        if (memcmp(b, *list, 4) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *const heif_brands[] = {"heic", "heix", "heim", "heis", "hevc", "hevx",
                                          "hevm", "hevs", NULL};
static const char *const avif_brands[] = {"avif", "avis", NULL};
static const char *const generic_brands[] = {"mif1", "msf1", "miaf", "mif2", NULL};

/* HEIF/AVIF from an ISO BMFF "ftyp" box at the start; UNKNOWN for other ISO media. */
static imgdec_format sniff_ftyp(const uint8_t *d, size_t n) {
    if (n < 16 || memcmp(d + 4, "ftyp", 4) != 0) {
        return IMGDEC_FORMAT_UNKNOWN;
    }
    const uint8_t *major = d + 8;
    if (brand_is(major, heif_brands)) return IMGDEC_FORMAT_HEIF;
    if (brand_is(major, avif_brands)) return IMGDEC_FORMAT_AVIF;
    /* a generic major brand: the compatible brands (after the 4-byte minor version) */
    uint64_t box = ((uint64_t)d[0] << 24) | ((uint64_t)d[1] << 16) | ((uint64_t)d[2] << 8) | d[3];
    size_t end = box < n ? (size_t)box : n;
    int generic = brand_is(major, generic_brands);
    imgdec_format found = IMGDEC_FORMAT_UNKNOWN;
    for (size_t off = 16; off + 4 <= end; off += 4) {
        if (brand_is(d + off, avif_brands)) {
            found = IMGDEC_FORMAT_AVIF;
        } else if (brand_is(d + off, heif_brands)) {
            return IMGDEC_FORMAT_HEIF;
        } else if (brand_is(d + off, generic_brands)) {
            generic = 1;
        }
    }
    if (found != IMGDEC_FORMAT_UNKNOWN) return found;
    return generic ? IMGDEC_FORMAT_HEIF : IMGDEC_FORMAT_UNKNOWN;
}

imgdec_format imgdec_detect_format(const uint8_t *d, size_t n) {
    if (!d) {
        return IMGDEC_FORMAT_UNKNOWN;
    }
    if (n >= sizeof jpeg_signature && memcmp(d, jpeg_signature, sizeof jpeg_signature) == 0)
        return IMGDEC_FORMAT_JPEG;
    if (n >= sizeof png_signature && memcmp(d, png_signature, sizeof png_signature) == 0)
        return IMGDEC_FORMAT_PNG;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return IMGDEC_FORMAT_GIF;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return IMGDEC_FORMAT_WEBP;
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0 ||
                   memcmp(d, "II+\0", 4) == 0 || memcmp(d, "MM\0+", 4) == 0))
        return IMGDEC_FORMAT_TIFF;
    return sniff_ftyp(d, n);
}

/* A name for content we recognise but do not decode, for a useful message. */
static const char *other_format_name(const uint8_t *m, size_t n) {
    if (n >= 2 && memcmp(m, "BM", 2) == 0) return "BMP";
    if (n >= 12 && memcmp(m + 4, "ftyp", 4) == 0) return "an ISO media file (MP4/MOV)";
    if (n >= 12 && memcmp(m, "\0\0\0\x0cjP  ", 8) == 0) return "JPEG 2000";
    if (n >= 4 && memcmp(m, "\xff\x4f\xff\x51", 4) == 0) return "JPEG 2000";
    if (n >= 2 && m[0] == 0xff && m[1] == 0x0a) return "JPEG XL";
    if (n >= 12 && memcmp(m, "\0\0\0\x0cJXL \r\n\x87\n", 12) == 0) return "JPEG XL";
    if (n >= 4 && memcmp(m, "8BPS", 4) == 0) return "Photoshop PSD";
    if (n >= 5 && memcmp(m, "%PDF-", 5) == 0) return "PDF";
    if (n >= 4 && memcmp(m, "\0\0\1\0", 4) == 0) return "ICO";
    if (n >= 12 && memcmp(m, "RIFF", 4) == 0) return "a RIFF file (not WebP)";
    if (n >= 5 && (memcmp(m, "<?xml", 5) == 0 || memcmp(m, "<svg", 4) == 0)) return "SVG/XML";
    return NULL;
}

/* Content that matches no decoder: a truncated signature, a known other format, or garbage. */
static imgdec_status fail_unrecognised(const uint8_t *d, size_t n, imgdec_error *err) {
    const char *prefix_of = NULL;
    if (n < sizeof jpeg_signature && memcmp(d, jpeg_signature, n) == 0) prefix_of = "JPEG";
    else if (n < sizeof png_signature && memcmp(d, png_signature, n) == 0) prefix_of = "PNG";
    else if (n < 6 && memcmp(d, "GIF89a", n) == 0) prefix_of = "GIF";
    else if (n < 12 && memcmp(d, "RIFF", n < 4 ? n : 4) == 0) prefix_of = "WebP";
    if (prefix_of) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "truncated %s (%zu bytes)",
                                    prefix_of, n);
    }
    const char *other = other_format_name(d, n);
    if (other) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                                    "unsupported image format: %s (decoded: JPEG, PNG, WebP, "
                                    "HEIF, AVIF, TIFF, GIF)",
                                    other);
    }
    return imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                                "not an image file (unrecognised content)");
}

/* ---- decoding ------------------------------------------------------------------------ */

imgdec_image *imgdec_decode_memory(const uint8_t *data, size_t size,
                                   const imgdec_params *params, imgdec_error *err) {
    if (!data) {
        imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "no data given (NULL)");
        return NULL;
    }
    if (size == 0) {
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "empty file (0 bytes)");
        return NULL;
    }
    const imgdec_params p = params ? *params : imgdec_default_params();

    imgdec_image *image = NULL;
    const imgdec_format format = imgdec_detect_format(data, size);
    switch (format) {
    case IMGDEC_FORMAT_JPEG: image = imgdec_internal_decode_jpeg(data, size, &p, err); break;
    case IMGDEC_FORMAT_PNG: image = imgdec_internal_decode_png(data, size, &p, err); break;
    case IMGDEC_FORMAT_WEBP: image = imgdec_internal_decode_webp(data, size, &p, err); break;
    case IMGDEC_FORMAT_HEIF:
    case IMGDEC_FORMAT_AVIF:
        image = imgdec_internal_decode_heif(data, size, format, &p, err);
        break;
    case IMGDEC_FORMAT_TIFF: image = imgdec_internal_decode_tiff(data, size, &p, err); break;
    case IMGDEC_FORMAT_GIF: image = imgdec_internal_decode_gif(data, size, &p, err); break;
    case IMGDEC_FORMAT_UNKNOWN:
        fail_unrecognised(data, size, err);
        return NULL;
    }
    if (!image) {
        return NULL;
    }
    /* a TIFF's Orientation tag is applied in any case, as Pillow applies it on load */
    if (!p.apply_exif_orientation && format != IMGDEC_FORMAT_TIFF) {
        image->orientation = 0;
    } else if (image->orientation >= 2 && image->orientation <= 8) {
        if (imgdec_image_apply_orientation(image, image->orientation, err) != IMGDEC_OK) {
            imgdec_image_free(image);
            return NULL;
        }
    }
    return image;
}

/* read() until `len` bytes or end of file; the count read, or -1 with errno. */
static ssize_t read_fully(int fd, uint8_t *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

imgdec_image *imgdec_decode_file(const char *path, const imgdec_params *params,
                                 imgdec_error *err) {
    if (!path) {
        imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "no file path given");
        return NULL;
    }
    const imgdec_params p = params ? *params : imgdec_default_params();
    char ebuf[128];

    /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; it is refused
       below as not a regular file. For regular files the flag changes nothing. */
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot open: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot stat: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "not a regular file (%s)",
                             S_ISDIR(st.st_mode) ? "a directory" : "a device, pipe or socket");
        return NULL;
    }
    if (st.st_size <= 0) {
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "empty file (0 bytes)");
        return NULL;
    }
    if (p.max_file_bytes > 0 && (int64_t)st.st_size > p.max_file_bytes) {
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "file too large: %lld bytes, limit %lld",
                             (long long)st.st_size, (long long)p.max_file_bytes);
        return NULL;
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "file too large: %lld bytes",
                             (long long)st.st_size);
        return NULL;
    }
    const size_t expected = (size_t)st.st_size;
    uint8_t *buf = malloc(expected);
    if (!buf) {
        close(fd);
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory for a %zu-byte file",
                             expected);
        return NULL;
    }

    /* the head first: a file that is no image is refused without reading it whole */
    const size_t head_len = expected < 64 ? expected : 64;
    ssize_t got = read_fully(fd, buf, head_len);
    if (got >= 0 && (size_t)got == head_len && head_len < expected &&
        imgdec_detect_format(buf, head_len) != IMGDEC_FORMAT_UNKNOWN) {
        ssize_t rest = read_fully(fd, buf + head_len, expected - head_len);
        got = rest < 0 ? rest : got + rest;
    }
    if (got < 0) {
        int e = errno;
        close(fd);
        free(buf);
        imgdec_internal_fail(err, IMGDEC_ERROR_IO, "cannot read: %s",
                             imgdec_internal_strerror(e, ebuf, sizeof ebuf));
        return NULL;
    }
    close(fd);
    /* a file that shrank while being read decodes (or fails) on what was read */
    imgdec_image *image = imgdec_decode_memory(buf, (size_t)got, &p, err);
    free(buf);
    return image;
}

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
