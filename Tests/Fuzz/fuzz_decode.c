/*
 * libFuzzer target for CImageDecode: any bytes -> imgdec_decode_memory, then the rest of
 * the pipeline on whatever decodes. Built and run by scripts/fuzz-decode (clang
 * -fsanitize=fuzzer,address,undefined); the seeds are Tests/Fixtures/images.
 *
 * Besides the sanitizers' findings it checks the contract: a failure has a non-OK code and
 * a non-empty, terminated, one-line message; a success has a complete pixel buffer (every byte is
 * read) and a content box inside the image; orientation keeps the pixel count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_decode.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "contract violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static void check_box(const imgdec_image *img) {
    CHECK(img->content_x >= 0.0f && img->content_y >= 0.0f);
    CHECK(img->content_width > 0.0f && img->content_height > 0.0f);
    CHECK(img->content_x + img->content_width <= (float)img->width + 1e-3f);
    CHECK(img->content_y + img->content_height <= (float)img->height + 1e-3f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    imgdec_params p = imgdec_default_params();
    p.size = 32;
    p.max_pixels = 1 << 20; /* 1 M pixels: keeps every run fast and far below the RSS limit */
    /* vary the options with the input (deterministically, so crashes reproduce) */
    p.jpeg_dct_scaling = (size & 1) != 0;
    p.jpeg_dct_min_side = (size & 2) ? 64 : 0;
    p.apply_exif_orientation = (size % 7) != 0;
    p.png_gray16_pil_clip = (size % 5) != 0;

    imgdec_error err;
    memset(&err, 0x55, sizeof err); /* a message must be written, terminated */
    imgdec_image *img = imgdec_decode_memory(data, size, &p, &err);
    if (!img) {
        CHECK(err.code != IMGDEC_OK);
        CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
        CHECK(err.message[0] != '\0');
        CHECK(strchr(err.message, '\n') == NULL); /* one line */
        return 0;
    }
    CHECK(img->width > 0 && img->height > 0 && img->pixels != NULL);
    CHECK((int64_t)img->width * img->height <= p.max_pixels);
    CHECK(img->format != IMGDEC_FORMAT_UNKNOWN);
    CHECK(img->format == imgdec_detect_format(data, size));
    check_box(img);

    /* every byte of the buffer must be there (ASan) and initialised (the sum is used) */
    const size_t bytes = (size_t)img->width * (size_t)img->height * 3;
    unsigned sum = 0;
    for (size_t i = 0; i < bytes; i++) sum += img->pixels[i];

    uint8_t small[32 * 32 * 3];
    float chw[3 * 32 * 32];
    const float box[4] = {img->content_x, img->content_y, img->content_x + img->content_width,
                          img->content_y + img->content_height};
    imgdec_status s = imgdec_resize_bicubic_box(img->pixels, img->width, img->height, box,
                                                small, 32, 32, &err);
    CHECK(s == IMGDEC_OK);
    CHECK(imgdec_normalize_chw(small, 32, 32, &p, chw, &err) == IMGDEC_OK);

    /* one more orientation on top, chosen by the data */
    const int32_t w = img->width, h = img->height;
    const int32_t o = (int32_t)(1 + (size + sum) % 8);
    CHECK(imgdec_image_apply_orientation(img, o, &err) == IMGDEC_OK);
    CHECK((int64_t)img->width * img->height == (int64_t)w * h);
    CHECK(o >= 5 ? (img->width == h && img->height == w) : (img->width == w && img->height == h));
    check_box(img);
    imgdec_image_free(img);

    /* the all-in-one entry point agrees on success/failure */
    CHECK(imgdec_load_preprocessed_memory(data, size, &p, chw, &err) == IMGDEC_OK);
    return 0;
}
