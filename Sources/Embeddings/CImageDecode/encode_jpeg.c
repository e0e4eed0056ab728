/* encode_jpeg.c — 8-bit RGB to an in-memory JPEG (libjpeg-turbo), for thumbnails. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "image_decode.h"
#include "imgdec_internal.h"

typedef struct encode_error_manager {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
} encode_error_manager;

static void encode_error_exit(j_common_ptr cinfo) {
    encode_error_manager *manager = (encode_error_manager *)cinfo->err;
    manager->base.format_message(cinfo, manager->message);
    longjmp(manager->escape, 1);
}

imgdec_status imgdec_encode_jpeg(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality,
                                 uint8_t **out_bytes, size_t *out_size, imgdec_error *err) {
    if (!rgb || !out_bytes || !out_size || width <= 0 || height <= 0) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "encode_jpeg: invalid argument");
    }
    *out_bytes = NULL;
    *out_size = 0;
    struct jpeg_compress_struct cinfo;
    encode_error_manager manager;
    /* volatile: read after longjmp. libjpeg allocates the buffer; it is ours to free after. */
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&manager.base);
    manager.base.error_exit = encode_error_exit;
    if (setjmp(manager.escape)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "JPEG encoder: %s", manager.message);
    }
    jpeg_create_compress(&cinfo);
    unsigned char *destination = NULL;
    jpeg_mem_dest(&cinfo, &destination, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
        buffer = destination;
    }
    jpeg_finish_compress(&cinfo);
    buffer = destination;
    jpeg_destroy_compress(&cinfo);
    *out_bytes = buffer;
    *out_size = size;
    return IMGDEC_OK;
}

void imgdec_buffer_free(uint8_t *bytes) { free(bytes); }
