/*
 * decode_bench: images/s of CImageDecode's decode + preprocess (file -> CHW float32), the
 * work ImagePreprocessor does per image. Built and run by bench/decode.sh.
 *
 *   decode_bench [-t THREADS] [-s SIZE] [-n PASSES] [--exact] FILE...
 *
 * Every thread takes the next (pass, file) task from a shared counter; one warm-up pass
 * (untimed) fills the page cache. Default params as the Swift wrapper uses them: JPEG
 * DCT scaling with jpeg_dct_min_side = 2 * SIZE; --exact decodes at full size.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image_decode.h"

typedef struct job {
    char **files;
    int nfiles;
    long total; /* tasks */
    atomic_long next;
    atomic_long failures;
    imgdec_params params;
} job;

static void *worker(void *arg) {
    job *j = (job *)arg;
    float *out = malloc(sizeof(float) * 3 * (size_t)j->params.size * (size_t)j->params.size);
    if (!out) {
        atomic_fetch_add(&j->failures, 1);
        return NULL;
    }
    for (;;) {
        long t = atomic_fetch_add(&j->next, 1);
        if (t >= j->total) break;
        const char *path = j->files[t % j->nfiles];
        imgdec_error err;
        if (imgdec_load_preprocessed_with_params(path, &j->params, out, &err) != IMGDEC_OK) {
            fprintf(stderr, "%s: %s\n", path, err.message);
            atomic_fetch_add(&j->failures, 1);
        }
    }
    free(out);
    return NULL;
}

static double run(job *j, int threads, long tasks) {
    pthread_t tid[256];
    struct timespec a, b;
    atomic_store(&j->next, 0);
    j->total = tasks;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, worker, j);
    for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 1, size = 224, passes = 3, exact = 0, i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--exact")) exact = 1;
        else {
            fprintf(stderr, "usage: %s [-t THREADS] [-s SIZE] [-n PASSES] [--exact] FILE...\n", argv[0]);
            return 2;
        }
    }
    if (i >= argc || threads < 1 || threads > 256 || size < 1 || passes < 1) {
        fprintf(stderr, "usage: %s [-t THREADS] [-s SIZE] [-n PASSES] [--exact] FILE...\n", argv[0]);
        return 2;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.files = argv + i;
    j.nfiles = argc - i;
    j.params = imgdec_default_params();
    j.params.size = size;
    j.params.jpeg_dct_scaling = !exact;
    j.params.jpeg_dct_min_side = 2 * size;

    run(&j, threads, j.nfiles); /* warm-up: page cache, allocator */
    const long tasks = (long)passes * j.nfiles;
    const double secs = run(&j, threads, tasks);
    if (atomic_load(&j.failures)) {
        fprintf(stderr, "%ld failures\n", (long)atomic_load(&j.failures));
        return 1;
    }
    printf("imgsearch mode=%s threads=%d size=%d images=%ld seconds=%.3f images_per_s=%.2f\n",
           exact ? "exact" : "dct", threads, size, tasks, secs, (double)tasks / secs);
    return 0;
}
