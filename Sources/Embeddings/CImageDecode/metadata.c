/*
 * imgdec_read_metadata: what a photo file says about itself (format, stored size, and
 * from its EXIF block the date taken, camera and location), read from the container
 * without decoding pixels. Each format's EXIF block is found where the decoders find it:
 * JPEG's first APP1 "Exif", PNG's eXIf chunk, WebP's EXIF chunk, HEIF's "Exif" item
 * (after its 4-byte offset to the TIFF header), a TIFF file's own directories.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>
#include <webp/demux.h>

#include "imgdec_internal.h"

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Markers up to the first scan: the frame header's size and the first APP1 "Exif". */
static void jpeg_metadata(const uint8_t *d, size_t n, imgdec_metadata *m) {
    const uint8_t *exif = NULL;
    size_t exif_size = 0, i = 2;
    while (i + 4 <= n && d[i] == 0xFF) {
        const uint8_t marker = d[i + 1];
        if (marker == 0xFF) {  /* fill byte */
            i++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  /* no length */
            i += 2;
            continue;
        }
        if (marker == 0xD9 || marker == 0xDA) {
            break;
        }
        const size_t length = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (length < 2 || i + 2 + length > n) {
            break;
        }
        const uint8_t *segment = d + i + 4;
        const size_t segment_size = length - 2;
        if (marker == 0xE1 && !exif && segment_size >= 6 && memcmp(segment, "Exif\0\0", 6) == 0) {
            exif = segment;
            exif_size = segment_size;
        }
        const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (frame && segment_size >= 5 && m->width == 0) {
            m->height = ((int32_t)segment[1] << 8) | segment[2];
            m->width = ((int32_t)segment[3] << 8) | segment[4];
        }
        i += 2 + length;
    }
    imgdec_internal_exif_metadata(exif, exif_size, m);
}

/* IHDR's size and the eXIf chunk (before or after the image data). */
static void png_metadata(const uint8_t *d, size_t n, imgdec_metadata *m) {
    size_t i = 8;
    while (i + 12 <= n) {
        const size_t length = be32(d + i);
        const uint8_t *type = d + i + 4, *body = d + i + 8;
        if (length > n - i - 12) {
            break;
        }
        if (memcmp(type, "IHDR", 4) == 0 && length >= 8) {
            m->width = (int32_t)(be32(body) & 0x7fffffff);
            m->height = (int32_t)(be32(body + 4) & 0x7fffffff);
        } else if (memcmp(type, "eXIf", 4) == 0) {
            imgdec_internal_exif_metadata(body, length, m);
        } else if (memcmp(type, "IEND", 4) == 0) {
            break;
        }
        i += 12 + length;
    }
}

static void webp_metadata(const uint8_t *d, size_t n, imgdec_metadata *m) {
    const WebPData data = {d, n};
    WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
    WebPDemuxer *demux = WebPDemuxPartial(&data, &state);
    if (!demux) {
        return;
    }
    m->width = (int32_t)WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    m->height = (int32_t)WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    WebPChunkIterator chunk;
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
        imgdec_internal_exif_metadata(chunk.chunk.bytes, chunk.chunk.size, m);
        WebPDemuxReleaseChunkIterator(&chunk);
    }
    WebPDemuxDelete(demux);
}

/* The primary image's size (as displayed) and its "Exif" item. */
static void heif_metadata(const uint8_t *d, size_t n, imgdec_metadata *m) {
    struct heif_context *context = heif_context_alloc();
    if (!context) {
        return;
    }
    struct heif_image_handle *handle = NULL;
    if (heif_context_read_from_memory_without_copy(context, d, n, NULL).code == heif_error_Ok &&
        heif_context_get_primary_image_handle(context, &handle).code == heif_error_Ok) {
        m->width = heif_image_handle_get_width(handle);
        m->height = heif_image_handle_get_height(handle);
        heif_item_id id;
        if (heif_image_handle_get_list_of_metadata_block_IDs(handle, "Exif", &id, 1) == 1) {
            const size_t size = heif_image_handle_get_metadata_size(handle, id);
            uint8_t *block = size >= 4 ? malloc(size) : NULL;
            if (block && heif_image_handle_get_metadata(handle, id, block).code == heif_error_Ok) {
                const size_t offset = be32(block);  /* from the end of these 4 bytes to the TIFF header */
                if (offset < size - 4) {
                    imgdec_internal_exif_metadata(block + 4 + offset, size - 4 - offset, m);
                }
            }
            free(block);
        }
        heif_image_handle_release(handle);
    }
    heif_context_free(context);
}

imgdec_status imgdec_read_metadata(const uint8_t *data, size_t size, imgdec_metadata *metadata,
                                   imgdec_error *err) {
    if (!data || !metadata) {
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "no data or no metadata to fill");
    }
    memset(metadata, 0, sizeof *metadata);
    metadata->format = imgdec_detect_format(data, size);
    switch (metadata->format) {
    case IMGDEC_FORMAT_JPEG: jpeg_metadata(data, size, metadata); break;
    case IMGDEC_FORMAT_PNG: png_metadata(data, size, metadata); break;
    case IMGDEC_FORMAT_WEBP: webp_metadata(data, size, metadata); break;
    case IMGDEC_FORMAT_HEIF:
    case IMGDEC_FORMAT_AVIF: heif_metadata(data, size, metadata); break;
    case IMGDEC_FORMAT_TIFF: imgdec_internal_exif_metadata(data, size, metadata); break;
    case IMGDEC_FORMAT_GIF:
        if (size >= 10) {
            metadata->width = data[6] | (data[7] << 8);
            metadata->height = data[8] | (data[9] << 8);
        }
        break;
    default:
        return imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT, "not an image format read here");
    }
    if (metadata->width <= 0 || metadata->height <= 0) {
        metadata->width = 0;
        metadata->height = 0;
    }
    return IMGDEC_OK;
}
