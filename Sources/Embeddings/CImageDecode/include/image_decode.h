/*
 * image_decode.h — imgsearch's C image front end: decode JPEG/PNG, resize the way
 * PIL does, normalise into the CHW float32 tensor that BLIP-2's vision tower expects.
 *
 * Usage:
 *
 *     float pixels[3 * 224 * 224];
 *     imgdec_error err;
 *     if (imgdec_load_preprocessed("/photos/cat.jpg", 224, 0, pixels, &err) != IMGDEC_OK) {
 *         fprintf(stderr, "cat.jpg: %s\n", err.message);   // the caller adds the file name
 *     }
 *
 *     // or step by step, with every knob:
 *     imgdec_params params = imgdec_default_params();
 *     params.jpeg_dct_scaling = false;                 // exact-reference mode
 *     imgdec_image *img = imgdec_decode_file(path, &params, &err);   // 8-bit RGB
 *     if (!img) { ... err.code, err.message ... }
 *     uint8_t small[224 * 224 * 3];
 *     const float box[4] = {0, 0, img->content_width, img->content_height};
 *     imgdec_resize_bicubic_box(img->pixels, img->width, img->height, box,
 *                               small, 224, 224, &err);
 *     imgdec_normalize_chw(small, 224, 224, &params, pixels, &err);
 *     imgdec_image_free(img);
 *
 * What it reproduces (transformers' BlipImageProcessor with its PIL backend):
 *   - `PIL.Image.open(path).convert("RGB")`: the format is chosen by magic bytes, not by
 *     the extension. Alpha is DROPPED, not composited (transformers' `convert_to_rgb`
 *     is a plain `image.convert("RGB")`), palette images are expanded through their
 *     palette (tRNS ignored), grayscale is replicated to R=G=B. 16-bit PNGs follow PIL:
 *     RGB/RGBA/gray+alpha keep the high byte; 16-bit grayscale is CLIPPED to 255 (PIL's
 *     "I;16" -> "RGB" conversion) unless `png_gray16_pil_clip` is false. CMYK/YCCK JPEGs
 *     are read as Adobe-inverted CMYK and converted with PIL's formula. EXIF
 *     orientation is NOT applied (neither PIL's open nor the processor applies it).
 *   - `Image.resize((w, h), Image.BICUBIC)` (no box, no reducing_gap): PIL's two-pass
 *     separable resampler (libImaging/Resample.c), bit for bit.
 *   - rescale (x * 1/255 in float64, stored as float32) then normalise
 *     ((x - mean) / std in float32), bit for bit.
 *   The one deliberate difference: by default a JPEG is decoded with libjpeg's DCT
 *   scaling at the smallest scale (1/8 .. 8/8) that keeps both sides >= `size`, which
 *   is much faster for photos but differs from PIL after the resize (measured: mean
 *   0.3-0.75 uint8 levels, max 4-15); jpeg_dct_min_side = 2 * size roughly halves that,
 *   `jpeg_dct_scaling = false` gives the exact reference.
 *
 * Errors: every function returns IMGDEC_OK or another code and, when `err` is not NULL,
 * fills it with a one-line message naming the cause (never the file: the caller knows
 * it). Nothing calls exit() or abort(); libjpeg/libpng errors are caught with longjmp.
 *
 * Thread safety: there is no global state; every function may be called from several
 * threads at once on different buffers.
 */
#ifndef IMGSEARCH_IMAGE_DECODE_H
#define IMGSEARCH_IMAGE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum imgdec_status {
    IMGDEC_OK = 0,
    IMGDEC_ERROR_IO = 1,                 /* cannot open or read the file */
    IMGDEC_ERROR_UNSUPPORTED_FORMAT = 2, /* neither JPEG nor PNG, or an unsupported variant */
    IMGDEC_ERROR_CORRUPT = 3,            /* empty, truncated or malformed data */
    IMGDEC_ERROR_TOO_LARGE = 4,          /* declared width*height above max_pixels */
    IMGDEC_ERROR_OUT_OF_MEMORY = 5,
    IMGDEC_ERROR_INVALID_ARGUMENT = 6    /* a NULL pointer or a non-positive size */
} imgdec_status;

/** The outcome of the last failing call: a code and a one-line, user-facing message. */
typedef struct imgdec_error {
    imgdec_status code;
    char message[512];
} imgdec_error;

typedef enum imgdec_format {
    IMGDEC_FORMAT_UNKNOWN = 0,
    IMGDEC_FORMAT_JPEG = 1,
    IMGDEC_FORMAT_PNG = 2
} imgdec_format;

/** Options; start from imgdec_default_params() so that new fields keep old callers working. */
typedef struct imgdec_params {
    /** Output side S of the square resize. Default 224. */
    int32_t size;
    /** Refuse images whose declared width*height exceeds this, before decoding.
        <= 0: no limit. Default 178956970 (PIL's DecompressionBombError threshold). */
    int64_t max_pixels;
    /** Decode JPEGs at the smallest DCT scale n/8 keeping both sides >= jpeg_dct_min_side
        (faster, a few levels off PIL). false: full-size decode, exact. Default true. */
    bool jpeg_dct_scaling;
    /** The minimum side for DCT scaling; <= 0: `size`. Default 0. 2 * size halves the
        difference from PIL at some cost in speed. */
    int32_t jpeg_dct_min_side;
    /** 16-bit grayscale PNG: true = PIL (values > 255 become 255), false = keep the
        high byte like every other 16-bit PNG. Default true. */
    bool png_gray16_pil_clip;
    /** rescale factor (applied in float64, stored as float32). Default 1/255. */
    double rescale_factor;
    /** Per-channel normalisation, RGB order. Default CLIP's mean and std. */
    float mean[3];
    float std[3];
} imgdec_params;

imgdec_params imgdec_default_params(void);

/** A decoded image: 8-bit RGB, interleaved, rows packed (stride = 3 * width). */
typedef struct imgdec_image {
    int32_t width;
    int32_t height;
    uint8_t *pixels;
    imgdec_format format;
    /** Size declared by the file (differs from width/height after JPEG DCT scaling). */
    int32_t source_width;
    int32_t source_height;
    /** The source's extent in this buffer's pixels: width/height, except after JPEG DCT
        scaling by n/8, where it is source * n / 8 and the last block column/row is
        partial (3001 px at 1/8: width 376, content_width 375.125). Resize with the box
        (0, 0, content_width, content_height) to keep a full-size decode's geometry. */
    float content_width;
    float content_height;
} imgdec_image;

/**
 * Decode a JPEG or PNG file to 8-bit RGB. `params` may be NULL (defaults); used here:
 * max_pixels, jpeg_dct_scaling with jpeg_dct_min_side (or size), png_gray16_pil_clip.
 * Returns NULL on failure (err filled).
 */
imgdec_image *imgdec_decode_file(const char *path, const imgdec_params *params,
                                 imgdec_error *err);

/** Release an image from imgdec_decode_file. NULL-safe. */
void imgdec_image_free(imgdec_image *image);

/**
 * Resize 8-bit RGB `src` (src_w x src_h, packed) into `dst` (dst_w x dst_h, packed)
 * exactly as PIL's Image.resize((dst_w, dst_h), Image.BICUBIC). `src` and `dst` must
 * not overlap.
 */
imgdec_status imgdec_resize_bicubic(const uint8_t *src, int32_t src_w, int32_t src_h,
                                    uint8_t *dst, int32_t dst_w, int32_t dst_h,
                                    imgdec_error *err);

/**
 * As imgdec_resize_bicubic, from the region `box` = {x0, y0, x1, y1} (float pixels) of
 * `src`, as Image.resize((dst_w, dst_h), Image.BICUBIC, box=box). `box` NULL: the whole
 * image. The box must lie inside the image and not be empty.
 */
imgdec_status imgdec_resize_bicubic_box(const uint8_t *src, int32_t src_w, int32_t src_h,
                                        const float box[4], uint8_t *dst, int32_t dst_w,
                                        int32_t dst_h, imgdec_error *err);

/**
 * Write planar CHW float32 `out_chw[c * h * w + y * w + x]` =
 * ((float)(v * rescale_factor) - mean[c]) / std[c] from packed 8-bit RGB `rgb`.
 * `params` may be NULL (defaults).
 */
imgdec_status imgdec_normalize_chw(const uint8_t *rgb, int32_t width, int32_t height,
                                   const imgdec_params *params, float *out_chw,
                                   imgdec_error *err);

/**
 * decode -> resize to size x size -> normalise into `out_chw` (3 * size * size floats),
 * with JPEG DCT scaling on and the default mean/std. max_pixels <= 0: no limit.
 * After DCT scaling the resize uses the box (0, 0, content_width, content_height).
 */
imgdec_status imgdec_load_preprocessed(const char *path, int32_t size, int64_t max_pixels,
                                       float *out_chw, imgdec_error *err);

/** As imgdec_load_preprocessed, every option from `params` (NULL: defaults). */
imgdec_status imgdec_load_preprocessed_with_params(const char *path,
                                                   const imgdec_params *params,
                                                   float *out_chw, imgdec_error *err);

/** "IMGDEC_OK", "IMGDEC_ERROR_IO", ... for logs; never NULL. */
const char *imgdec_status_name(imgdec_status status);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_IMAGE_DECODE_H */
