/*
 * GIF through giflib (5.x), the first frame as Pillow 9/10 gives it (GifImagePlugin,
 * frame 0, then convert("RGB")):
 *   - the canvas is the logical screen, grown to hold the frame if it sticks out;
 *   - it starts as the frame's transparent index (graphic control extension before the
 *     image) or 0 elsewhere, the frame's indices are placed at its offset;
 *   - indices map through the local colour table, else the global one; with neither,
 *     an index is a gray level. Transparency is not applied (convert("RGB") ignores
 *     it); an index past the end of the table is a gray level too (Pillow 9.4).
 * Only the records up to the first image are read: later frames are never decoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "imgdec_internal.h"

typedef struct gif_source {
    const uint8_t *data;
    size_t size;
    size_t pos;
} gif_source;

static int gif_read(GifFileType *gif, GifByteType *buf, int len) {
    gif_source *src = (gif_source *)gif->UserData;
    if (len <= 0) {
        return 0;
    }
    size_t n = (size_t)len;
    if (n > src->size - src->pos) {
        n = src->size - src->pos;
    }
    memcpy(buf, src->data + src->pos, n);
    src->pos += n;
    return (int)n;
}

static imgdec_status gif_error_code(int code) {
    switch (code) {
    case D_GIF_ERR_NOT_ENOUGH_MEM: return IMGDEC_ERROR_OUT_OF_MEMORY;
    case D_GIF_ERR_READ_FAILED:
    case D_GIF_ERR_NOT_GIF_FILE:
    default: return IMGDEC_ERROR_CORRUPT;
    }
}

static imgdec_image *gif_fail(GifFileType *gif, int code, const char *what, imgdec_error *err) {
    const char *text = GifErrorString(code);
    if (code == D_GIF_ERR_READ_FAILED) {
        text = "truncated (unexpected end of file)";
    }
    imgdec_internal_fail(err, gif_error_code(code), "corrupt GIF: %s%s%s", what,
                         text ? ": " : "", text ? text : "");
    if (gif) {
        int ignored;
        DGifCloseFile(gif, &ignored);
    }
    return NULL;
}

imgdec_image *imgdec_internal_decode_gif(const uint8_t *data, size_t size,
                                         const imgdec_params *p, imgdec_error *err) {
    gif_source src = {data, size, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, gif_read, &code);
    if (!gif) {
        return gif_fail(NULL, code, "header", err);
    }
    /* the logical screen: refuse a decompression bomb before reading any image data */
    if (imgdec_internal_check_size(gif->SWidth > 0 ? gif->SWidth : 1,
                                   gif->SHeight > 0 ? gif->SHeight : 1, p, "GIF",
                                   err) != IMGDEC_OK) {
        DGifCloseFile(gif, &code);
        return NULL;
    }

    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            return gif_fail(gif, gif->Error, "record", err);
        }
        if (type == IMAGE_DESC_RECORD_TYPE) {
            break;
        }
        if (type == TERMINATE_RECORD_TYPE) {
            imgdec_internal_fail(err, IMGDEC_ERROR_CORRUPT, "corrupt GIF: no image");
            DGifCloseFile(gif, &code);
            return NULL;
        }
        if (type == EXTENSION_RECORD_TYPE) {
            int ext_code = 0;
            GifByteType *ext = NULL;
            if (DGifGetExtension(gif, &ext_code, &ext) == GIF_ERROR) {
                return gif_fail(gif, gif->Error, "extension", err);
            }
            /* graphic control: ext[0] = length, ext[1] = flags, ext[4] = transparent index */
            if (ext_code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) {
                transparent = (ext[1] & 1) ? ext[4] : -1;
            }
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) {
                    return gif_fail(gif, gif->Error, "extension", err);
                }
            }
        }
    }
    if (DGifGetImageDesc(gif) == GIF_ERROR) {
        return gif_fail(gif, gif->Error, "image descriptor", err);
    }
    const GifImageDesc *desc = &gif->Image;
    const int64_t left = desc->Left, top = desc->Top, fw = desc->Width, fh = desc->Height;
    int64_t w = gif->SWidth, h = gif->SHeight;
    if (left + fw > w) w = left + fw;
    if (top + fh > h) h = top + fh;
    if (imgdec_internal_check_size(w, h, p, "GIF", err) != IMGDEC_OK) {
        DGifCloseFile(gif, &code);
        return NULL;
    }

    /* the indices of the canvas, then the colours */
    const size_t npix = (size_t)w * (size_t)h;
    uint8_t *index = malloc(npix);
    imgdec_image *image = imgdec_internal_image_alloc(w, h, IMGDEC_FORMAT_GIF, 0, err);
    if (!index || !image) {
        free(index);
        imgdec_image_free(image);
        DGifCloseFile(gif, &code);
        imgdec_internal_fail(err, IMGDEC_ERROR_OUT_OF_MEMORY, "out of memory for a GIF");
        return NULL;
    }
    memset(index, transparent >= 0 ? transparent : 0, npix);
    if (fw > 0 && fh > 0) {
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        const int passes = desc->Interlace ? 4 : 1;
        for (int pass = 0; pass < passes; pass++) {
            const int64_t y0 = desc->Interlace ? start[pass] : 0;
            const int64_t dy = desc->Interlace ? step[pass] : 1;
            for (int64_t y = y0; y < fh; y += dy) {
                uint8_t *row = index + (size_t)(top + y) * (size_t)w + (size_t)left;
                if (DGifGetLine(gif, row, (int)fw) == GIF_ERROR) {
                    free(index);
                    imgdec_image_free(image);
                    return gif_fail(gif, gif->Error, "image data", err);
                }
            }
        }
    }

    const ColorMapObject *map = desc->ColorMap ? desc->ColorMap : gif->SColorMap;
    uint8_t lut[256 * 3];
    for (int i = 0; i < 256; i++) {
        /* no table, or an index past its end: a gray level (Pillow 9.4's palette starts
           as a gray ramp; Pillow 10+ gives black past the end) */
        uint8_t r = (uint8_t)i, g = (uint8_t)i, b = (uint8_t)i;
        if (map && map->Colors && i < map->ColorCount) {
            r = map->Colors[i].Red;
            g = map->Colors[i].Green;
            b = map->Colors[i].Blue;
        }
        lut[3 * i] = r;
        lut[3 * i + 1] = g;
        lut[3 * i + 2] = b;
    }
    uint8_t *dst = image->pixels;
    for (size_t i = 0; i < npix; i++, dst += 3) {
        const uint8_t *c = lut + 3 * index[i];
        dst[0] = c[0];
        dst[1] = c[1];
        dst[2] = c[2];
    }
    free(index);
    DGifCloseFile(gif, &code);
    return image;
}
