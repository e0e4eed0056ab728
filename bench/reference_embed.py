#!/usr/bin/env python3
"""Reference image-embedding throughput: transformers' Blip2ForImageTextRetrieval, fp32.

    tools/setup_reference_env.sh
    .venv/bin/python bench/reference_embed.py --model SNAPSHOT_DIR --pixels FILE [--threads N]
    .venv/bin/python bench/reference_embed.py --model SNAPSHOT_DIR --random 4 --save-pixels /tmp/px.f32

Runs the ITC image path only (vision tower -> Q-Former on the query tokens -> vision_projection
-> L2 normalise, as Blip2ForImageTextRetrieval.forward does) on one batch of B images: one
untimed warm-up pass, then --runs timed passes. Prints one JSON line:

    {"images_per_s", "seconds" (median of the timed passes), "run_seconds", "load_seconds",
     "peak_rss_mb", "batch", "image_size", "embedding_shape", "threads", "blas", "device", "torch_version", "transformers_version"}

--pixels is raw little-endian float32 [B,3,S,S], already preprocessed (S = vision_config.image_size),
so the Swift side can embed exactly the same input; --random B makes such a batch from a seed
(and --save-pixels writes it). --embeddings-out writes the result as raw float32 [B,Q,D] for a
parity spot-check.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import numpy as np
import torch
import transformers
from transformers import Blip2ForImageTextRetrieval

from blip2_reference import embed_images


def random_pixels(batch: int, size: int, seed: int) -> np.ndarray:
    """Uniform [0,1] RGB, normalised with the CLIP mean/std like real preprocessed pixels."""
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    rgb = np.random.default_rng(seed).random((batch, 3, size, size), dtype=np.float32)
    mean = np.array(OPENAI_CLIP_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(OPENAI_CLIP_STD, dtype=np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((rgb - mean) / std, dtype="<f4")


def loaded_blas() -> list[str]:
    """The BLAS libraries libtorch resolved at run time (Debian's alternatives decide: reference
    BLAS is ~20x slower than OpenBLAS), from /proc/self/maps; empty where that does not exist."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def read_pixels(path: Path, size: int) -> np.ndarray:
    flat = np.fromfile(path, dtype="<f4")
    per_image = 3 * size * size
    if flat.size == 0 or flat.size % per_image:
        raise SystemExit(f"{path}: {flat.size} floats is not a multiple of 3*{size}*{size}")
    return flat.reshape(-1, 3, size, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="snapshot dir (config.json + safetensors)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pixels", type=Path, help="raw float32 [B,3,S,S] preprocessed pixels")
    source.add_argument("--random", type=int, metavar="B", help="generate B images from --seed instead")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    parser.add_argument("--save-pixels", type=Path, help="write the --random batch here (raw float32)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all cores)")
    parser.add_argument("--runs", type=int, default=1, help="timed passes after the warm-up (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--embeddings-out", type=Path, help="write embeddings as raw float32 [B,Q,D]")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    model = Blip2ForImageTextRetrieval.from_pretrained(args.model, torch_dtype=torch.float32).eval().to(device)
    sync()
    load_seconds = time.perf_counter() - t0

    size = model.config.vision_config.image_size
    if args.pixels is not None:
        pixels_np = read_pixels(args.pixels, size)
    else:
        pixels_np = random_pixels(args.random, size, args.seed)
        if args.save_pixels is not None:
            pixels_np.tofile(args.save_pixels)
    pixels = torch.from_numpy(pixels_np).to(device)

    with torch.inference_mode():
        embeddings = embed_images(model, pixels)  # warm-up
        sync()
        run_seconds = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            embeddings = embed_images(model, pixels)
            sync()
            run_seconds.append(time.perf_counter() - t0)

    if args.embeddings_out is not None:
        np.ascontiguousarray(embeddings.float().cpu().numpy(), dtype="<f4").tofile(args.embeddings_out)

    seconds = statistics.median(run_seconds)
    batch = pixels.shape[0]
    print(json.dumps({
        "images_per_s": batch / seconds,
        "seconds": seconds,
        "run_seconds": run_seconds,
        "load_seconds": load_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "batch": batch,
        "image_size": size,
        "embedding_shape": list(embeddings.shape),
        "threads": args.threads,
        "blas": loaded_blas(),
        "device": str(device),
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
    }))


if __name__ == "__main__":
    main()
