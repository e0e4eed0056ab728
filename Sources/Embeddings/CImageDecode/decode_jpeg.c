/*
 * JPEG through libjpeg(-turbo), matching Pillow's JpegDecode: default IDCT (ISLOW) and
 * fancy upsampling, grayscale replicated, CMYK/YCCK read as Adobe-inverted CMYK and
 * converted with Pillow's cmyk2rgb. Errors and the "premature end of file" warning
 * longjmp back here; every other libjpeg warning is ignored, as Pillow ignores them.
 * Reads from memory (jpeg_mem_src); the EXIF orientation comes from the first APP1.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "imgdec_internal.h"

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub; /* must stay first */
    jmp_buf jump;
    imgdec_status status;
    char message[JMSG_LENGTH_MAX];
} jpeg_guard;

static void guard_error_exit(j_common_ptr cinfo) {
    jpeg_guard *guard = (jpeg_guard *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    text[0] = '\0';
    (*cinfo->err->format_message)(cinfo, text);
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY:
        guard->status = IMGDEC_ERROR_OUT_OF_MEMORY;
        break;
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
        guard->status = IMGDEC_ERROR_TOO_LARGE;
        break;
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF:
        guard->status = IMGDEC_ERROR_CORRUPT;
        break;
    default:
        guard->status = IMGDEC_ERROR_CORRUPT;
        break;
    }
    snprintf(guard->message, sizeof guard->message, "corrupt JPEG: %s", text);
    longjmp(guard->jump, 1);
}

static void guard_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) {
        return; /* trace messages */
    }
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        /* libjpeg pads a truncated file with a fake EOI and carries on; Pillow (without
           LOAD_TRUNCATED_IMAGES) refuses it, and so do we. */
        jpeg_guard *guard = (jpeg_guard *)cinfo->err;
        guard->status = IMGDEC_ERROR_CORRUPT;
        snprintf(guard->message, sizeof guard->message,
                 "truncated JPEG (premature end of file)");
        longjmp(guard->jump, 1);
    }
    cinfo->err->num_warnings++;
}

static void guard_output_message(j_common_ptr cinfo) {
    (void)cinfo; /* never print to stderr */
}

static inline uint8_t clip8(int v) {
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/* Pillow's MULDIV255 */
static inline int muldiv255(int a, int b) {
    int tmp = a * b + 128;
    return ((tmp >> 8) + tmp) >> 8;
}

/* The first APP1 "Exif\0" marker, as Pillow's JpegImagePlugin keeps it (a later one is
   ignored); 0 when there is none. */
static int jpeg_exif_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0", 5) == 0) {
            return imgdec_internal_exif_orientation(m->data, m->data_length);
        }
    }
    return 0;
}

imgdec_image *imgdec_internal_decode_jpeg(const uint8_t *data, size_t size,
                                          const imgdec_params *p, imgdec_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    imgdec_image *volatile image = NULL;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    volatile int created = 0;

    memset(&cinfo, 0, sizeof cinfo);
    memset(&guard, 0, sizeof guard);
    cinfo.err = jpeg_std_error(&guard.pub);
    guard.pub.error_exit = guard_error_exit;
    guard.pub.emit_message = guard_emit_message;
    guard.pub.output_message = guard_output_message;

    if (setjmp(guard.jump)) {
        if (created) {
            jpeg_destroy_decompress(&cinfo);
        }
        free(row);
        free(pixels);
        free(image);
        imgdec_internal_fail(err, guard.status, "%s", guard.message);
        return NULL;
    }

    jpeg_create_decompress(&cinfo);
    created = 1;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    if (p->apply_exif_orientation) {
        jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    }
    (void)jpeg_read_header(&cinfo, TRUE); /* errors (not tables-only) longjmp */
    const int orientation = p->apply_exif_orientation ? jpeg_exif_orientation(&cinfo) : 0;

    const int32_t source_w = (int32_t)cinfo.image_width, source_h = (int32_t)cinfo.image_height;
    if (imgdec_internal_check_size(cinfo.image_width, cinfo.image_height, p, "JPEG", err) !=
        IMGDEC_OK) {
        jpeg_destroy_decompress(&cinfo);
        return NULL;
    }

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                             "unsupported JPEG colour space (%d components)",
                             cinfo.num_components);
        return NULL;
    }

    const int32_t min_side = p->jpeg_dct_min_side > 0 ? p->jpeg_dct_min_side : p->size;
    if (p->jpeg_dct_scaling && min_side > 0) {
        /* smallest n/8 whose output keeps both sides >= size; 8/8 if none does */
        unsigned int num;
        for (num = 1; num <= 8; num++) {
            cinfo.scale_num = num;
            cinfo.scale_denom = 8;
            jpeg_calc_output_dimensions(&cinfo);
            if (cinfo.output_width >= (JDIMENSION)min_side &&
                cinfo.output_height >= (JDIMENSION)min_side) {
                break;
            }
        }
        if (num > 8) {
            cinfo.scale_num = 8;
            cinfo.scale_denom = 8;
        }
    }

    jpeg_start_decompress(&cinfo);
    const unsigned int scale_num = cinfo.scale_num, scale_denom = cinfo.scale_denom;

    const int64_t w = cinfo.output_width, h = cinfo.output_height;
    const size_t bytes = imgdec_internal_rgb_bytes(w, h);
    if (bytes == 0 || w > INT32_MAX || h > INT32_MAX) {
        jpeg_destroy_decompress(&cinfo);
        imgdec_internal_fail(err, IMGDEC_ERROR_TOO_LARGE, "image too large: %lldx%lld",
                             (long long)w, (long long)h);
        return NULL;
    }
    image = imgdec_internal_image_new();
    pixels = malloc(bytes);
    if (cinfo.output_components != 3) {
        row = malloc((size_t)w * (size_t)cinfo.output_components);
    }
    if (!image || !pixels || (cinfo.output_components != 3 && !row)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        free(pixels);
        free(image);
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY,
                             "out of memory for a %lldx%lld image", (long long)w,
                             (long long)h);
        return NULL;
    }

    const int comps = cinfo.output_components;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = pixels + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW target = (comps == 3) ? (JSAMPROW)dst : (JSAMPROW)row;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) {
            jpeg_destroy_decompress(&cinfo);
            free(row);
            free(pixels);
            free(image);
            imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "truncated JPEG (no scanline)");
            return NULL;
        }
        if (comps == 1) {
            for (int64_t x = 0; x < w; x++) {
                uint8_t v = row[x];
                dst[3 * x] = v;
                dst[3 * x + 1] = v;
                dst[3 * x + 2] = v;
            }
        } else if (comps == 4 && cmyk) {
            /* Pillow: rawmode "CMYK;I" (inverted, Adobe convention) then cmyk2rgb */
            for (int64_t x = 0; x < w; x++) {
                const uint8_t *s = row + 4 * x;
                int c = 255 - s[0], m = 255 - s[1], y = 255 - s[2], k = 255 - s[3];
                int nk = 255 - k;
                dst[3 * x] = clip8(nk - muldiv255(c, nk));
                dst[3 * x + 1] = clip8(nk - muldiv255(m, nk));
                dst[3 * x + 2] = clip8(nk - muldiv255(y, nk));
            }
        } else if (comps != 3) {
            jpeg_destroy_decompress(&cinfo);
            free(row);
            free(pixels);
            free(image);
            imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                                 "unsupported JPEG output with %d components", comps);
            return NULL;
        }
    }

    /* No jpeg_finish_decompress: every scanline is in; a missing EOI after complete
       data is harmless (a truncation inside the data already failed above). */
    jpeg_destroy_decompress(&cinfo);
    free(row);

    imgdec_image *out = image;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    out->pixels = pixels;
    out->format = IMGDEC_FORMAT_JPEG;
    out->source_width = source_w;
    out->source_height = source_h;
    out->content_width = (float)((double)source_w * scale_num / scale_denom);
    out->content_height = (float)((double)source_h * scale_num / scale_denom);
    out->orientation = orientation;
    return out;
}
