/* The perceptual signature of a decoded picture: two 63-bit DCT hashes (see image_decode.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "imgdec_internal.h"

enum { GRID = 32, KEPT = 8, COEFFICIENTS = KEPT * KEPT - 1 };

/** One output cell's share of the source pixels: [first, last) with fractional ends. */
typedef struct {
    int32_t first, last;
    float first_weight, last_weight, scale;
} cell_span;

/** The spans of GRID cells over [start, end) source pixels (end - start >= 1). */
static void cell_spans(double start, double end, int32_t limit, cell_span spans[GRID]) {
    const double step = (end - start) / GRID;
    for (int i = 0; i < GRID; ++i) {
        double from = start + step * i, to = start + step * (i + 1);
        if (to > limit) to = limit;
        cell_span *s = &spans[i];
        s->first = (int32_t)floor(from);
        s->last = (int32_t)ceil(to);
        if (s->last <= s->first) s->last = s->first + 1;
        if (s->last > limit) s->last = limit;
        /* The end pixels count by how much of them the cell covers. */
        s->first_weight = (float)(s->first + 1 - from);
        s->last_weight = (float)(to - (s->last - 1));
        if (s->last - s->first == 1) s->first_weight = s->last_weight = (float)(to - from);
        s->scale = (float)(1.0 / (to - from));
    }
}

static float span_weight(const cell_span *s, int32_t x) {
    if (x == s->first) return s->first_weight;
    if (x == s->last - 1) return s->last_weight;
    return 1.0f;
}

/** The mean luma of each GRID x GRID cell of `image`'s box (x0, y0)-(x1, y1), area-weighted. */
static void box_means(const imgdec_image *image, const float box[4], float grid[GRID][GRID]) {
    cell_span xs[GRID], ys[GRID];
    cell_spans(box[0], box[2], image->width, xs);
    cell_spans(box[1], box[3], image->height, ys);
    float column_sums[GRID];
    for (int gy = 0; gy < GRID; ++gy) {
        for (int gx = 0; gx < GRID; ++gx) column_sums[gx] = 0;
        for (int32_t y = ys[gy].first; y < ys[gy].last; ++y) {
            const float wy = span_weight(&ys[gy], y);
            const uint8_t *row = image->pixels + (size_t)y * (size_t)image->width * 3;
            for (int gx = 0; gx < GRID; ++gx) {
                float sum = 0;
                for (int32_t x = xs[gx].first; x < xs[gx].last; ++x) {
                    const uint8_t *p = row + (size_t)x * 3;
                    sum += span_weight(&xs[gx], x) * (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]);
                }
                column_sums[gx] += wy * sum;
            }
        }
        for (int gx = 0; gx < GRID; ++gx) grid[gy][gx] = column_sums[gx] * xs[gx].scale * ys[gy].scale;
    }
}

static int compare_floats(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/** The hash of one box: bit i set when low-frequency coefficient i lies above their median. */
static uint64_t box_hash(const imgdec_image *image, const float box[4], float *spread) {
    static float basis[KEPT][GRID];
    static int ready = 0;
    if (!ready) {  /* Benign race: every thread writes the same values. */
        for (int k = 0; k < KEPT; ++k)
            for (int x = 0; x < GRID; ++x) basis[k][x] = (float)cos(3.14159265358979323846 * (2 * x + 1) * k / (2.0 * GRID));
        ready = 1;
    }
    float grid[GRID][GRID];
    box_means(image, box, grid);
    double mean = 0, squares = 0;
    for (int y = 0; y < GRID; ++y)
        for (int x = 0; x < GRID; ++x) mean += grid[y][x];
    mean /= GRID * GRID;
    for (int y = 0; y < GRID; ++y)
        for (int x = 0; x < GRID; ++x) squares += (grid[y][x] - mean) * (grid[y][x] - mean);
    *spread = (float)sqrt(squares / (GRID * GRID));
    /* The 8 x 8 lowest frequencies of the 2-D DCT-II: rows first, then columns. */
    float rows[KEPT][GRID], coefficients[KEPT * KEPT], sorted[COEFFICIENTS];
    for (int k = 0; k < KEPT; ++k)
        for (int x = 0; x < GRID; ++x) {
            float sum = 0;
            for (int y = 0; y < GRID; ++y) sum += basis[k][y] * grid[y][x];
            rows[k][x] = sum;
        }
    for (int k = 0; k < KEPT; ++k)
        for (int l = 0; l < KEPT; ++l) {
            float sum = 0;
            for (int x = 0; x < GRID; ++x) sum += rows[k][x] * basis[l][x];
            coefficients[k * KEPT + l] = sum;
        }
    /* The mean (coefficient 0) says nothing about structure: the other 63 make the hash. */
    memcpy(sorted, coefficients + 1, sizeof sorted);
    qsort(sorted, COEFFICIENTS, sizeof(float), compare_floats);
    const float median = sorted[COEFFICIENTS / 2];
    uint64_t hash = 0;
    for (int i = 0; i < COEFFICIENTS; ++i)
        if (coefficients[i + 1] > median) hash |= (uint64_t)1 << i;
    return hash;
}

imgdec_status imgdec_perceptual_signature(const uint8_t *data, size_t size, imgdec_signature *signature,
                                          imgdec_error *err) {
    if (data == NULL || signature == NULL)
        return imgdec_internal_fail(err, IMGDEC_ERROR_INVALID_ARGUMENT, "NULL argument");
    memset(signature, 0, sizeof *signature);
    imgdec_params params = imgdec_default_params();
    params.jpeg_dct_scaling = true;
    params.jpeg_dct_min_side = 256;
    imgdec_image *image = imgdec_decode_memory(data, size, &params, err);
    if (image == NULL) return err != NULL ? err->code : IMGDEC_ERROR_CORRUPT;
    const float x = image->content_x, y = image->content_y, w = image->content_width, h = image->content_height;
    const float whole[4] = {x, y, x + w, y + h};
    const float center[4] = {x + 0.05f * w, y + 0.05f * h, x + 0.95f * w, y + 0.95f * h};
    float spread = 0, unused = 0;
    signature->whole = box_hash(image, whole, &spread);
    signature->center = box_hash(image, center, &unused);
    signature->flat = spread < IMGDEC_SIGNATURE_FLAT_SPREAD;
    imgdec_image_free(image);
    return IMGDEC_OK;
}
