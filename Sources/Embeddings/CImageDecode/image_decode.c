/*
 * Entry points of CImageDecode: format sniffing, reading files, and dispatch to the format
 * decoders. See include/image_decode.h.
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
