#!/usr/bin/env python3
"""images/s of the reference preprocessing: PIL.Image.open + BlipImageProcessor
(transformers 4.46.3, PIL backend, BICUBIC to SIZE x SIZE, CLIP mean/std), per file.

    decode_reference.py [--threads N] [--size S] [--passes P] FILE...

--threads 1 runs in this process; N > 1 uses a multiprocessing pool of N processes (the
processor holds the GIL: threads would not scale). One untimed warm-up pass (page cache,
worker start-up, imports). Prints one line in decode_bench's format.
"""
import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

_processor = None


def _init(size: int) -> None:
    global _processor
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from blip2_reference import image_processor

    _processor = image_processor(size)


def _one(path: str) -> int:
    from PIL import Image

    with Image.open(path) as im:
        out = _processor(images=im, return_tensors="np")["pixel_values"]
    return out.shape[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    tasks = a.files * a.passes
    if a.threads == 1:
        _init(a.size)
        for f in a.files:
            _one(f)
        t0 = time.perf_counter()
        for f in tasks:
            _one(f)
        secs = time.perf_counter() - t0
    else:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(a.threads, initializer=_init, initargs=(a.size,)) as pool:
            list(pool.imap_unordered(_one, a.files, chunksize=1))
            t0 = time.perf_counter()
            list(pool.imap_unordered(_one, tasks, chunksize=1))
            secs = time.perf_counter() - t0
    print(f"reference mode=pil threads={a.threads} size={a.size} images={len(tasks)} "
          f"seconds={secs:.3f} images_per_s={len(tasks) / secs:.2f}")


if __name__ == "__main__":
    main()
