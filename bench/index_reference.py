#!/usr/bin/env python3
"""The straightforward Python way to embed a folder, as BLIP-2's usual examples do it:
for each image, PIL open -> BlipImageProcessor -> Blip2ForImageTextRetrieval image path,
one image at a time. Prints one JSON line with images/s and the share of time per stage.

    .venv/bin/python bench/index_reference.py --model DIR [--threads N] FILE...
"""
from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import os
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import PIL.Image
import torch
from transformers import Blip2ForImageTextRetrieval

from blip2_reference import embed_images, image_processor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = Blip2ForImageTextRetrieval.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    processor = image_processor(model.config.vision_config.image_size)
    stages = {"decode+preprocess": 0.0, "embed": 0.0}
    start = time.perf_counter()
    with torch.inference_mode():
        for path in args.files:
            t0 = time.perf_counter()
            pixels = processor(PIL.Image.open(path), return_tensors="pt")["pixel_values"]
            t1 = time.perf_counter()
            embed_images(model, pixels)
            stages["decode+preprocess"] += t1 - t0
            stages["embed"] += time.perf_counter() - t1
    total = time.perf_counter() - start
    print(json.dumps({"images": len(args.files), "seconds": total, "images_per_s": len(args.files) / total,
                      "stage_seconds": stages}))


if __name__ == "__main__":
    main()
