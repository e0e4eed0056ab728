"""Preprocessed pixels of real photos for bench/precision.sh: the first N wallpaper photos
(plasma-workspace-wallpapers, unpacked by bench/fetch-wallpapers.sh) and the repository's
scikit-image photos, through transformers' BlipImageProcessor with the checkpoint's
preprocessor_config.json, written as raw float32 [N,3,S,S].

    .venv/bin/python bench/precision_pixels.py --model DIR --count 8 --out FILE
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from transformers import BlipImageProcessor

parser = argparse.ArgumentParser()
parser.add_argument("--model", type=Path, required=True)
parser.add_argument("--count", type=int, default=8)
parser.add_argument("--out", type=Path, required=True)
arguments = parser.parse_args()

root = Path(__file__).resolve().parent
photos = sorted((root / "out/wallpapers/usr/share/wallpapers").glob("*/contents/images/*.*"))
# Three scikit-image photos from the test fixtures, then one picture per wallpaper (its first size).
by_wallpaper = {}
for photo in photos:
    by_wallpaper.setdefault(photo.parts[-4], photo)
fixtures = root.parent / "Tests/Fixtures/images"
chosen = [fixtures / name for name in ("astronaut.png", "chelsea.png", "coffee.png")] + list(by_wallpaper.values())
chosen = chosen[: arguments.count]
if len(chosen) < arguments.count:
    raise SystemExit(f"only {len(chosen)} photos found; run bench/fetch-wallpapers.sh")
processor = BlipImageProcessor.from_pretrained(arguments.model)
pixels = processor(images=[Image.open(p).convert("RGB") for p in chosen], return_tensors="np")["pixel_values"]
pixels.astype("<f4").tofile(arguments.out)
for photo in chosen:
    print(photo.relative_to(root.parent))
