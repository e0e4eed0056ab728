/*
 * HEIF/HEIC (and AVIF) through libheif: the primary image, decoded to interleaved 8-bit
 * RGB (alpha dropped, >8-bit reduced by libheif), with the file's transformations
 * (irot/imir/clap) applied, as pillow-heif and every viewer show it. The EXIF
 * orientation is not read: in HEIF it only mirrors irot, and applying both would turn
 * the image twice. Tiles of a grid image are decoded on the calling thread
 * (max_decoding_threads 0): callers parallelise across images.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "imgdec_internal.h"

static imgdec_status heif_code(const struct heif_error *e) {
    switch (e->code) {
    case heif_error_Ok: return IMGDEC_OK;
    case heif_error_Memory_allocation_error: return IMGDEC_ERROR_OUT_OF_MEMORY;
    case heif_error_Unsupported_filetype:
    case heif_error_Unsupported_feature:
    case heif_error_Plugin_loading_error:
        return IMGDEC_ERROR_UNSUPPORTED_FORMAT;
    default: return IMGDEC_ERROR_CORRUPT;
    }
}

static imgdec_image *heif_fail(const struct heif_error *e, const char *what, const char *fmt_name,
                               imgdec_error *err) {
    const imgdec_status code = heif_code(e);
    imgdec_internal_fail(err, code, "%s %s: %s: %s",
                         code == IMGDEC_ERROR_UNSUPPORTED_FORMAT ? "unsupported" : "corrupt",
                         fmt_name, what, e->message ? e->message : "unknown error");
    return NULL;
}

imgdec_image *imgdec_internal_decode_heif(const uint8_t *data, size_t size,
                                          imgdec_format format, const imgdec_params *p,
                                          imgdec_error *err) {
    const char *name = imgdec_format_name(format);
    const enum heif_compression_format codec =
        format == IMGDEC_FORMAT_AVIF ? heif_compression_AV1 : heif_compression_HEVC;
    if (!heif_have_decoder_for_format(codec)) {
        imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                             "unsupported image format: %s (libheif has no %s decoder here)",
                             name, format == IMGDEC_FORMAT_AVIF ? "AV1" : "HEVC");
        return NULL;
    }

    struct heif_context *ctx = heif_context_alloc();
    if (!ctx) {
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory (libheif)");
        return NULL;
    }
    heif_context_set_max_decoding_threads(ctx, 0);
    struct heif_error e = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
    if (e.code != heif_error_Ok) {
        heif_fail(&e, "cannot read file", name, err);
        heif_context_free(ctx);
        return NULL;
    }
    struct heif_image_handle *handle = NULL;
    e = heif_context_get_primary_image_handle(ctx, &handle);
    if (e.code != heif_error_Ok || !handle) {
        if (e.code == heif_error_Ok) {
            e.code = heif_error_Invalid_input;
            e.message = "no primary image";
        }
        heif_fail(&e, "no primary image", name, err);
        heif_context_free(ctx);
        return NULL;
    }
    /* the declared size (after rotation), before decoding */
    const int64_t hw = heif_image_handle_get_width(handle);
    const int64_t hh = heif_image_handle_get_height(handle);
    if (imgdec_internal_check_size(hw, hh, p, name, err) != IMGDEC_OK) {
        heif_image_handle_release(handle);
        heif_context_free(ctx);
        return NULL;
    }

    struct heif_decoding_options *options = heif_decoding_options_alloc();
    if (options) {
        options->convert_hdr_to_8bit = 1;
    }
    struct heif_image *img = NULL;
    e = heif_decode_image(handle, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB,
                          options);
    heif_decoding_options_free(options);
    heif_image_handle_release(handle);
    if (e.code != heif_error_Ok || !img) {
        if (e.code == heif_error_Ok) {
            e.code = heif_error_Decoder_plugin_error;
            e.message = "no image decoded";
        }
        heif_fail(&e, "cannot decode", name, err);
        heif_image_release(img);
        heif_context_free(ctx);
        return NULL;
    }

    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    const int64_t w = heif_image_get_width(img, heif_channel_interleaved);
    const int64_t h = heif_image_get_height(img, heif_channel_interleaved);
    if (!plane || w <= 0 || h <= 0 || stride < w * 3 ||
        heif_image_get_bits_per_pixel_range(img, heif_channel_interleaved) != 8) {
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "corrupt %s: unexpected decoded layout",
                             name);
        heif_image_release(img);
        heif_context_free(ctx);
        return NULL;
    }
    if (imgdec_internal_check_size(w, h, p, name, err) != IMGDEC_OK) {
        heif_image_release(img);
        heif_context_free(ctx);
        return NULL;
    }
    imgdec_image *image = imgdec_internal_image_alloc(w, h, format, 0, err);
    if (image) {
        for (int64_t y = 0; y < h; y++) {
            memcpy(image->pixels + (size_t)y * (size_t)w * 3, plane + (size_t)y * (size_t)stride,
                   (size_t)w * 3);
        }
        image->source_width = (int32_t)hw;
        image->source_height = (int32_t)hh;
    }
    heif_image_release(img);
    heif_context_free(ctx);
    return image;
}
