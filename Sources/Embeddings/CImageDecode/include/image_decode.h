/*
 * image_decode.h — imgsearch's C image front end: decode JPEG, PNG, WebP, HEIF/HEIC
 * (and AVIF), TIFF and GIF on the system libraries, turn phone photos upright from their
 * EXIF orientation, resize the way PIL does, normalise into the CHW float32 tensor that
 * BLIP-2's vision tower expects.
 *
 * Usage:
 *
 *     float pixels[3 * 224 * 224];
 *     imgdec_error err;
 *     if (imgdec_load_preprocessed("/photos/cat.heic", 224, 0, pixels, &err) != IMGDEC_OK) {
 *         fprintf(stderr, "cat.heic: %s\n", err.message);   // the caller adds the file name
 *     }
 *
 *     // or step by step, with every knob:
 *     imgdec_params params = imgdec_default_params();
 *     params.jpeg_dct_scaling = false;                 // exact-reference mode
 *     params.apply_exif_orientation = false;           // as BlipImageProcessor (no rotation)
 *     imgdec_image *img = imgdec_decode_file(path, &params, &err);   // 8-bit RGB
 *     if (!img) { ... err.code, err.message ... }
 *     uint8_t small[224 * 224 * 3];
 *     const float box[4] = {img->content_x, img->content_y,
 *                           img->content_x + img->content_width,
 *                           img->content_y + img->content_height};
 *     imgdec_resize_bicubic_box(img->pixels, img->width, img->height, box,
 *                               small, 224, 224, &err);
 *     imgdec_normalize_chw(small, 224, 224, &params, pixels, &err);
 *     imgdec_image_free(img);
 *
 *     // bytes already in memory (a zip member, a network buffer, a fuzzer input):
 *     imgdec_image *img2 = imgdec_decode_memory(bytes, length, &params, &err);
 *
 * Formats are chosen by content (magic bytes), never by the file name: a JPEG called
 * photo.png decodes as a JPEG.
 *   JPEG  libjpeg(-turbo): baseline, progressive, grayscale, CMYK/YCCK.
 *   PNG   libpng: every colour type and depth, interlaced.
 *   WebP  libwebp + libwebpdemux: lossy, lossless, alpha, extended; an animation gives
 *         its first frame, on its canvas (transparent black outside the frame).
 *   HEIF  libheif: the primary image of a HEIC/HEIF (and of an AVIF when libheif has an
 *         AV1 decoder), converted to 8-bit RGB, with the file's own rotation/mirror/crop
 *         boxes (irot/imir/clap) applied as libheif does, always (they are part of the
 *         image, like pillow-heif). Its EXIF orientation is not read (Apple writes it
 *         only as a copy of irot). Decoded on the calling thread.
 *   TIFF  libtiff: the first page (directory), turned by its Orientation tag as Pillow
 *         does on load. 8/16-bit contiguous strip images of
 *         gray / gray+alpha / RGB / RGBA are read sample by sample as PIL does; every
 *         other layout (tiled, planar, palette, YCbCr, CMYK, 1/2/4-bit, float, ...) goes
 *         through libtiff's TIFFRGBAImage, which premultiplies unassociated alpha.
 *   GIF   giflib: the first frame on the logical screen, as PIL's first frame.
 *
 * What it reproduces (transformers' BlipImageProcessor with its PIL backend):
 *   - `PIL.Image.open(path).convert("RGB")`. Alpha is DROPPED, not composited
 *     (transformers' `convert_to_rgb` is a plain `image.convert("RGB")`), palette images
 *     are expanded through their palette (tRNS ignored), grayscale is replicated to
 *     R=G=B. 16-bit PNG/TIFF follow PIL: RGB/RGBA/gray+alpha keep the high byte; 16-bit
 *     grayscale is CLIPPED to 255 (PIL's "I;16" -> "RGB" conversion) unless
 *     `png_gray16_pil_clip` is false. CMYK/YCCK JPEGs are read as Adobe-inverted CMYK and
 *     converted with PIL's formula.
 *   - with `apply_exif_orientation` (the default), then `ImageOps.exif_transpose`: the
 *     EXIF Orientation tag (1..8, IFD0, read with libexif) of a JPEG (first APP1
 *     "Exif"), PNG (eXIf chunk before or after the image data) or WebP (EXIF chunk) is
 *     applied to the decoded pixels before the resize. NOTE: BlipImageProcessor itself
 *     does NOT rotate these; compare with it with apply_exif_orientation = false (or
 *     with files without an orientation tag). A TIFF's Orientation tag is applied in both cases, because
 *     Pillow (8.0 and later) applies it when it loads a TIFF (with Pillow < 10.1,
 *     exif_transpose then turns a TIFF a second time: a Pillow bug not reproduced).
 *   - `Image.resize((w, h), Image.BICUBIC)` (no box, no reducing_gap): PIL's two-pass
 *     separable resampler (libImaging/Resample.c), bit for bit.
 *   - rescale (x * 1/255 in float64, stored as float32) then normalise
 *     ((x - mean) / std in float32), bit for bit.
 *   The one deliberate difference: by default a JPEG is decoded with libjpeg's DCT
 *   scaling at the smallest scale (1/8 .. 8/8) that keeps both sides >= `size`, which
 *   is much faster for photos but differs from PIL after the resize (measured: mean
 *   0.3-0.75 uint8 levels, max 4-15); jpeg_dct_min_side = 2 * size roughly halves that
 *   (Tests/Fixtures/images: mean 0.18-0.32, max 1-7), `jpeg_dct_scaling = false` gives
 *   the exact reference. Orientation is applied to the DCT-scaled buffer (the content
 *   box follows it). Every other format is decoded at full size, exactly as PIL.
 *
 * Guards: a file larger than max_file_bytes, and an image whose header declares more than
 * max_pixels, is refused before decoding (IMGDEC_ERROR_TOO_LARGE); an empty, truncated or
 * malformed file is IMGDEC_ERROR_CORRUPT (a truncated file is refused, not padded, as PIL
 * without LOAD_TRUNCATED_IMAGES); content that is no supported image (text, garbage, BMP,
 * PDF, ...) is IMGDEC_ERROR_UNSUPPORTED_FORMAT; a missing, unreadable or non-regular file
 * (a directory) is IMGDEC_ERROR_IO. A failed decode never returns partial pixels.
 *
 * Errors: every function returns IMGDEC_OK or another code (or NULL) and, when `err` is
 * not NULL, fills it with a one-line message naming the cause (never the file: the
 * caller knows it). Nothing calls exit() or abort() or prints; library errors are caught
 * (longjmp for libjpeg/libpng, per-handle handlers for libtiff, return codes elsewhere).
 *
 * Thread safety: there is no global state; every function may be called from several
 * threads at once on different buffers.
 *
 * NULL: every pointer argument may be NULL. `params` NULL means the defaults, `err` NULL
 * means no message, `box` NULL the whole image; imgdec_image_free(NULL) does nothing,
 * imgdec_detect_format(NULL, n) is UNKNOWN; any other NULL fails with
 * IMGDEC_ERROR_INVALID_ARGUMENT (NULL image for the decoders).
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
    IMGDEC_ERROR_IO = 1,                 /* cannot open or read the file, or not a regular file */
    IMGDEC_ERROR_UNSUPPORTED_FORMAT = 2, /* not an image format decoded here, or an unsupported variant */
    IMGDEC_ERROR_CORRUPT = 3,            /* empty, truncated or malformed data */
    IMGDEC_ERROR_TOO_LARGE = 4,          /* declared width*height above max_pixels, or file above max_file_bytes */
    IMGDEC_ERROR_OUT_OF_MEMORY = 5,
    IMGDEC_ERROR_INVALID_ARGUMENT = 6    /* a NULL pointer or a non-positive size */
} imgdec_status;

/** The outcome of the last failing call: a code and a one-line, user-facing message. */
typedef struct imgdec_error {
    imgdec_status code;
    char message[512];
} imgdec_error;

/** Formats, as recognised by content. New values may be added at the end. */
typedef enum imgdec_format {
    IMGDEC_FORMAT_UNKNOWN = 0,
    IMGDEC_FORMAT_JPEG = 1,
    IMGDEC_FORMAT_PNG = 2,
    IMGDEC_FORMAT_WEBP = 3,
    IMGDEC_FORMAT_HEIF = 4, /* HEIC / HEIF (ISO BMFF "ftyp" heic, heix, mif1, ...) */
    IMGDEC_FORMAT_AVIF = 5, /* decoded through libheif when it has an AV1 decoder */
    IMGDEC_FORMAT_TIFF = 6,
    IMGDEC_FORMAT_GIF = 7
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
    /** 16-bit grayscale PNG or TIFF: true = PIL (values > 255 become 255), false = keep
        the high byte like every other 16-bit image. Default true. */
    bool png_gray16_pil_clip;
    /** rescale factor (applied in float64, stored as float32). Default 1/255. */
    double rescale_factor;
    /** Per-channel normalisation, RGB order. Default CLIP's mean and std. */
    float mean[3];
    float std[3];
    /** Read the EXIF orientation (JPEG, PNG, WebP) and turn the image upright, as PIL's
        ImageOps.exif_transpose. false: the stored pixels, as BlipImageProcessor sees
        them (the EXIF block is then not even parsed). TIFF orientation is applied either
        way (as Pillow's TIFF loader does). Default true. */
    bool apply_exif_orientation;
    /** imgdec_decode_file / imgdec_load_preprocessed*: refuse files larger than this
        many bytes before reading them. <= 0: no limit. Default 2 GiB. */
    int64_t max_file_bytes;
} imgdec_params;

imgdec_params imgdec_default_params(void);

/** A decoded image: 8-bit RGB, interleaved, rows packed (stride = 3 * width). */
typedef struct imgdec_image {
    int32_t width;
    int32_t height;
    uint8_t *pixels;
    imgdec_format format;
    /** Size declared by the file, as stored (before orientation; differs from
        width/height after JPEG DCT scaling or a 90-degree orientation). */
    int32_t source_width;
    int32_t source_height;
    /** The source's extent in this buffer's pixels: width/height, except after JPEG DCT
        scaling by n/8, where it is source * n / 8 and the last block column/row is
        partial (3001 px at 1/8: width 376, content_width 375.125). Resize with the box
        (content_x, content_y, content_x + content_width, content_y + content_height)
        to keep a full-size decode's geometry. */
    float content_width;
    float content_height;
    /** EXIF orientation found in the file, 1..8 (1 = upright); 0 when the file has none
        (or an invalid value), for HEIF/GIF, and when apply_exif_orientation is false
        (except TIFF). When it is reported, the pixels are already turned upright. */
    int32_t orientation;
    /** Left/top of the content box: 0, except after DCT scaling plus an orientation that
        mirrors the partial last block column/row to the left/top. */
    float content_x;
    float content_y;
} imgdec_image;

/**
 * Decode an image file to 8-bit RGB (upright, unless params->apply_exif_orientation is
 * false). `params` may be NULL (defaults); used here: max_pixels, max_file_bytes,
 * jpeg_dct_scaling with jpeg_dct_min_side (or size), png_gray16_pil_clip,
 * apply_exif_orientation. Only the first bytes are read before the format is known:
 * a non-image file is refused without reading it whole. Returns NULL on failure (err filled).
 */
imgdec_image *imgdec_decode_file(const char *path, const imgdec_params *params,
                                 imgdec_error *err);

/**
 * As imgdec_decode_file, from `size` bytes at `data` (read only, not kept after the
 * call). size 0 is IMGDEC_ERROR_CORRUPT ("empty"); data NULL is INVALID_ARGUMENT.
 */
imgdec_image *imgdec_decode_memory(const uint8_t *data, size_t size,
                                   const imgdec_params *params, imgdec_error *err);

/** Release an image from imgdec_decode_file / imgdec_decode_memory. NULL-safe. */
void imgdec_image_free(imgdec_image *image);

/**
 * Turn `image` as EXIF orientation `orientation` says (1..8, PIL's exif_transpose: 2 flip
 * left-right, 3 rotate 180, 4 flip top-bottom, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise), in place: pixels, width/height and the
 * content box change; `orientation` and source_* do not. 1 does nothing. Used by the
 * decoders; exported for callers that decode with apply_exif_orientation = false and
 * rotate later (image->orientation is then 0: read it elsewhere).
 */
imgdec_status imgdec_image_apply_orientation(imgdec_image *image, int32_t orientation,
                                             imgdec_error *err);

/** The format of `data` by its magic bytes (the first 32 are enough); UNKNOWN if none.
    NULL-safe (UNKNOWN). */
imgdec_format imgdec_detect_format(const uint8_t *data, size_t size);

/** "JPEG", "PNG", "WebP", "HEIF", "AVIF", "TIFF", "GIF", "unknown"; never NULL. */
const char *imgdec_format_name(imgdec_format format);

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
 * decode -> (EXIF orientation) -> resize to size x size -> normalise into `out_chw`
 * (3 * size * size floats), with the default params except `size` and `max_pixels`
 * (<= 0: no limit): JPEG DCT scaling on, orientation applied, default mean/std.
 * The resize uses the image's content box.
 */
imgdec_status imgdec_load_preprocessed(const char *path, int32_t size, int64_t max_pixels,
                                       float *out_chw, imgdec_error *err);

/** As imgdec_load_preprocessed, every option from `params` (NULL: defaults). */
imgdec_status imgdec_load_preprocessed_with_params(const char *path,
                                                   const imgdec_params *params,
                                                   float *out_chw, imgdec_error *err);

/** As imgdec_load_preprocessed_with_params, from bytes in memory (see imgdec_decode_memory). */
imgdec_status imgdec_load_preprocessed_memory(const uint8_t *data, size_t size,
                                              const imgdec_params *params, float *out_chw,
                                              imgdec_error *err);

/**
 * Encode packed 8-bit RGB (width x height) as a baseline JPEG of `quality` (1..100,
 * clamped) into a new buffer: *out_bytes (free it with imgdec_buffer_free) and
 * *out_size. For thumbnails. On failure *out_bytes is NULL and err is filled.
 */
imgdec_status imgdec_encode_jpeg(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality,
                                 uint8_t **out_bytes, size_t *out_size, imgdec_error *err);

/** Release a buffer from imgdec_encode_jpeg. NULL-safe. */
void imgdec_buffer_free(uint8_t *bytes);

/** What a photo file says about itself. Strings are NUL-terminated printable ASCII (EXIF
    text, trailing spaces dropped, other bytes as '?'); "" when absent. */
typedef struct imgdec_metadata {
    imgdec_format format;
    /** The size as stored (HEIF: as displayed); 0 x 0 when the header gives none. */
    int32_t width;
    int32_t height;
    /** EXIF orientation 1..8; 0 when none. */
    int32_t orientation;
    /** EXIF DateTimeOriginal as "YYYY-MM-DD HH:MM:SS" (the camera's local time); "" when
        absent, malformed or a placeholder such as 0000:00:00. */
    char date_taken[20];
    /** EXIF OffsetTimeOriginal, "+HH:MM" or "-HH:MM"; "" when absent. */
    char utc_offset[7];
    char make[64];
    char model[64];
    /** GPS position in degrees, north and east positive, when the EXIF GPS block has both. */
    bool has_location;
    double latitude;
    double longitude;
} imgdec_metadata;

/**
 * Fill `metadata` from a file's bytes without decoding its pixels: the format by content,
 * the stored size from the container, the rest from its EXIF block (JPEG APP1, PNG eXIf,
 * WebP EXIF, HEIF/AVIF Exif item, TIFF directories). Malformed EXIF is ignored (its
 * fields stay empty); only content that is no supported image is an error
 * (IMGDEC_ERROR_UNSUPPORTED_FORMAT).
 */
imgdec_status imgdec_read_metadata(const uint8_t *data, size_t size, imgdec_metadata *metadata,
                                   imgdec_error *err);

/** Below this standard deviation of luma (0..255) over the 32 x 32 grid a picture is flat. */
#define IMGDEC_SIGNATURE_FLAT_SPREAD 2.0f

/**
 * A picture's perceptual signature, for finding re-encodes, resizes and small edits of it:
 * the upright picture (EXIF orientation applied) as luma, averaged into a 32 x 32 grid, its
 * 2-D DCT, and one bit for each of the 63 lowest frequencies above the 8 x 8 block's DC
 * (bit set: above their median). `whole` hashes the whole picture, `center` its central
 * 90 % (5 % off each edge), so that a picture cropped by 10 % matches through it. Two
 * pictures are near-duplicates when the Hamming distance of whole/whole, whole/center or
 * center/whole is small (bench/duplicates: 10 of 63). A flat picture (one colour, or
 * nearly: see IMGDEC_SIGNATURE_FLAT_SPREAD) has no structure to compare: `flat` is set.
 */
typedef struct imgdec_signature {
    uint64_t whole;
    uint64_t center;
    bool flat;
} imgdec_signature;

/**
 * The signature of the image in `size` bytes at `data`, decoded as imgdec_decode_memory
 * does (JPEG at a DCT scale of at least 256 px a side). Errors as imgdec_decode_memory.
 */
imgdec_status imgdec_perceptual_signature(const uint8_t *data, size_t size, imgdec_signature *signature,
                                          imgdec_error *err);

/** "IMGDEC_OK", "IMGDEC_ERROR_IO", ... for logs; never NULL. */
const char *imgdec_status_name(imgdec_status status);

#ifdef __cplusplus
}
#endif

#endif /* IMGSEARCH_IMAGE_DECODE_H */
