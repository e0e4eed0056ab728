/* Internal helpers shared by the CImageDecode sources; not part of the public contract. */
#ifndef IMGSEARCH_IMGDEC_INTERNAL_H
#define IMGSEARCH_IMGDEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "image_decode.h"

#if defined(__GNUC__) || defined(__clang__)
#define IMGDEC_HIDDEN __attribute__((visibility("hidden")))
#define IMGDEC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IMGDEC_HIDDEN
#define IMGDEC_PRINTF(f, a)
#endif

/** Fill `err` (when not NULL) and return `code`. */
IMGDEC_HIDDEN imgdec_status imgdec_internal_fail(imgdec_error *err, imgdec_status code,
                                                 const char *fmt, ...) IMGDEC_PRINTF(3, 4);

/** Thread-safe strerror into `buf`. */
IMGDEC_HIDDEN const char *imgdec_internal_strerror(int errnum, char *buf, size_t len);

/** 3 * w * h as size_t, or 0 when it would overflow (w, h > 0). */
IMGDEC_HIDDEN size_t imgdec_internal_rgb_bytes(int64_t w, int64_t h);

/** Allocate an imgdec_image shell (pixels == NULL) or return NULL. */
IMGDEC_HIDDEN imgdec_image *imgdec_internal_image_new(void);

/**
 * The size guard every decoder runs on the declared size before decoding: zero sides
 * are CORRUPT, more than p->max_pixels (when > 0) or more than an int32 side or a
 * size_t buffer is TOO_LARGE. `what` names the format in messages ("PNG").
 */
IMGDEC_HIDDEN imgdec_status imgdec_internal_check_size(int64_t w, int64_t h,
                                                       const imgdec_params *p,
                                                       const char *what, imgdec_error *err);

/**
 * A new image with an uninitialised (or zeroed, `zero`) w x h RGB buffer; w, h must
 * have passed imgdec_internal_check_size. The source and content fields are set to
 * w x h. NULL on OOM (err filled).
 */
IMGDEC_HIDDEN imgdec_image *imgdec_internal_image_alloc(int64_t w, int64_t h,
                                                        imgdec_format format, int zero,
                                                        imgdec_error *err);

/**
 * EXIF orientation (1..8) from an EXIF block, either "Exif\0\0" + TIFF header or a bare
 * TIFF header ("II*\0" / "MM\0*"), parsed with libexif (IFD0 tag 0x0112). 0 when there
 * is none, it is not a SHORT/LONG with one value, or its value is outside 1..8.
 */
IMGDEC_HIDDEN int imgdec_internal_exif_orientation(const uint8_t *data, size_t size);

/*
 * The date taken, its UTC offset, camera make and model, orientation, GPS position and (for
 * a TIFF file, whose IFD0 is the image's) the size, from an EXIF block as above, into the
 * fields of `m` they fill. Malformed or absent tags leave their fields as they were.
 */
IMGDEC_HIDDEN void imgdec_internal_exif_metadata(const uint8_t *data, size_t size, imgdec_metadata *m);

/*
 * Format decoders over an in-memory file (`data`, `size` > 0, already recognised by
 * its magic bytes). Each checks the declared size with imgdec_internal_check_size
 * before decoding, returns a complete image or NULL (err filled), and, when
 * p->apply_exif_orientation, stores the file's EXIF orientation in image->orientation
 * WITHOUT applying it (imgdec_decode_memory does).
 */
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_jpeg(const uint8_t *data, size_t size,
                                                        const imgdec_params *p,
                                                        imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_png(const uint8_t *data, size_t size,
                                                       const imgdec_params *p,
                                                       imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_webp(const uint8_t *data, size_t size,
                                                        const imgdec_params *p,
                                                        imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_heif(const uint8_t *data, size_t size,
                                                        imgdec_format format,
                                                        const imgdec_params *p,
                                                        imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_tiff(const uint8_t *data, size_t size,
                                                        const imgdec_params *p,
                                                        imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_gif(const uint8_t *data, size_t size,
                                                       const imgdec_params *p,
                                                       imgdec_error *err);

#endif /* IMGSEARCH_IMGDEC_INTERNAL_H */
