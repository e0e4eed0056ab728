/*
 * WebP through libwebp + libwebpdemux, as Pillow (with WebPAnimDecoder) gives the first
 * frame: the frame is decoded on a canvas of the file's canvas size that starts
 * transparent black, at the frame's offset; RGB is kept and alpha dropped (the decoder's
 * RGB is not premultiplied). A simple (VP8/VP8L) file is one frame covering the canvas,
 * decoded straight into the output. The EXIF orientation comes from the EXIF chunk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "imgdec_internal.h"

static imgdec_status vp8_status_to_imgdec(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OK: return IMGDEC_OK;
    case VP8_STATUS_OUT_OF_MEMORY: return IMGDEC_ERROR_OUT_OF_MEMORY;
    case VP8_STATUS_UNSUPPORTED_FEATURE: return IMGDEC_ERROR_UNSUPPORTED_FORMAT;
    default: return IMGDEC_ERROR_CORRUPT;
    }
}

static const char *vp8_status_text(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated (not enough data)";
    }
    return "unknown error";
}

imgdec_image *imgdec_internal_decode_webp(const uint8_t *data, size_t size,
                                          const imgdec_params *p, imgdec_error *err) {
    /* the declared (canvas) size from the header alone, before anything is decoded:
       an extended file's VP8X chunk first (RIFF header 12 bytes, chunk header 8, flags 4,
       then width-1 and height-1 as 24-bit little-endian), then libwebp's view */
    if (size >= 30 && memcmp(data + 12, "VP8X", 4) == 0) {
        const int64_t vw = 1 + (int64_t)(data[24] | (data[25] << 8) | (data[26] << 16));
        const int64_t vh = 1 + (int64_t)(data[27] | (data[28] << 8) | (data[29] << 16));
        if (imgdec_internal_check_size(vw, vh, p, "WebP", err) != IMGDEC_OK) {
            return NULL;
        }
    }
    WebPBitstreamFeatures features;
    VP8StatusCode vs = WebPGetFeatures(data, size, &features);
    if (vs != VP8_STATUS_OK) {
        imgdec_internal_fail(err, vp8_status_to_imgdec(vs), "corrupt WebP: %s",
                             vp8_status_text(vs));
        return NULL;
    }
    if (imgdec_internal_check_size(features.width, features.height, p, "WebP", err) !=
        IMGDEC_OK) {
        return NULL;
    }

    WebPData webp_data = {data, size};
    WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
    WebPDemuxer *demux = WebPDemuxPartial(&webp_data, &state);
    if (!demux || state != WEBP_DEMUX_DONE) {
        WebPDemuxDelete(demux);
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "%s WebP",
                             (demux && state >= WEBP_DEMUX_PARSED_HEADER)
                                 ? "truncated"
                                 : "corrupt");
        return NULL;
    }
    const int64_t cw = WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    const int64_t ch = WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    if (imgdec_internal_check_size(cw, ch, p, "WebP", err) != IMGDEC_OK) {
        WebPDemuxDelete(demux);
        return NULL;
    }

    WebPIterator iter;
    memset(&iter, 0, sizeof iter);
    if (!WebPDemuxGetFrame(demux, 1, &iter)) {
        WebPDemuxDelete(demux);
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "corrupt WebP: no image frame");
        return NULL;
    }
    if (iter.x_offset < 0 || iter.y_offset < 0 || iter.width <= 0 || iter.height <= 0 ||
        (int64_t)iter.x_offset + iter.width > cw || (int64_t)iter.y_offset + iter.height > ch) {
        WebPDemuxReleaseIterator(&iter);
        WebPDemuxDelete(demux);
        imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "corrupt WebP: frame outside the canvas");
        return NULL;
    }
    const int full = iter.x_offset == 0 && iter.y_offset == 0 && iter.width == cw &&
                     iter.height == ch;
    imgdec_image *image = imgdec_internal_image_alloc(cw, ch, IMGDEC_FORMAT_WEBP, !full, err);
    if (!image) {
        WebPDemuxReleaseIterator(&iter);
        WebPDemuxDelete(demux);
        return NULL;
    }

    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) {
        WebPDemuxReleaseIterator(&iter);
        WebPDemuxDelete(demux);
        imgdec_image_free(image);
        imgdec_internal_fail(err, IMGDEC_ERROR_UNSUPPORTED_FORMAT,
                             "libwebp version mismatch");
        return NULL;
    }
    const size_t stride = (size_t)cw * 3;
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba =
        image->pixels + (size_t)iter.y_offset * stride + (size_t)iter.x_offset * 3;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = stride * (size_t)(iter.height - 1) + (size_t)iter.width * 3;
    vs = WebPDecode(iter.fragment.bytes, iter.fragment.size, &config);
    WebPFreeDecBuffer(&config.output); /* nothing to free with external memory */
    WebPDemuxReleaseIterator(&iter);
    if (vs != VP8_STATUS_OK) {
        WebPDemuxDelete(demux);
        imgdec_image_free(image);
        imgdec_internal_fail(err, vp8_status_to_imgdec(vs), "corrupt WebP: %s",
                             vp8_status_text(vs));
        return NULL;
    }

    if (p->apply_exif_orientation &&
        (WebPDemuxGetI(demux, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG)) {
        WebPChunkIterator chunk;
        memset(&chunk, 0, sizeof chunk);
        if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
            image->orientation =
                imgdec_internal_exif_orientation(chunk.chunk.bytes, chunk.chunk.size);
            WebPDemuxReleaseChunkIterator(&chunk);
        }
    }
    WebPDemuxDelete(demux);
    return image;
}
