/* Internal helpers shared by the CImageDecode sources; not part of the public contract. */
#ifndef IMGSEARCH_IMGDEC_INTERNAL_H
#define IMGSEARCH_IMGDEC_INTERNAL_H

#include <stdio.h>

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

/* Format decoders: `fp` is positioned at the start of the file; the caller closes it. */
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_jpeg(FILE *fp, const imgdec_params *p,
                                                        imgdec_error *err);
IMGDEC_HIDDEN imgdec_image *imgdec_internal_decode_png(FILE *fp, const imgdec_params *p,
                                                       imgdec_error *err);

#endif /* IMGSEARCH_IMGDEC_INTERNAL_H */
