#!/usr/bin/env python3
"""Writes Tests/Fixtures/shapes-holdout/: coloured shapes drawn by a SECOND, independent renderer.

    .venv/bin/python tools/make_shape_holdout.py        # a second or two

The toy retrieval model (tools/train_toy_model.py) is trained on pictures from its own renderer
(PIL.ImageDraw polygons). This script shares no code with it: shapes are rasterised
analytically in NumPy from signed-distance functions (exact circle and polygon SDFs, coverage
= clamp(0.5 - sdf, 0, 1) in pixel units, i.e. one-pixel anti-aliasing), with its own colour
values (plausibly named, none identical to the trainer's), sizes, canvases and backgrounds.
PIL is used only to ENCODE the files.

64 images: 8 colours x 4 shapes x 2. Each picture varies
  - canvas: shorter side 96..480 px, aspect ratio (width / height) 0.5..2, portrait or landscape
    (the model's processor squashes every picture to a square, so shapes arrive distorted);
  - shape: size (extent) 15..45% of the shorter side, any rotation, anywhere inside the canvas,
    star inner radius 0.38..0.5 of the outer one;
  - style: filled, or (about 1/4) a thick outline (stroke 14..24% of the size, at least 3 px);
  - background: plain, a two-colour linear gradient, or smooth "value noise" between two colours
    plus pixel noise; background colours are random but at least MIN_CONTRAST (RGB distance)
    from the shape's colour and at least MIN_NAMED from all 8 named colours, so that the
    background itself is not "red" or "blue";
  - format in rotation: PNG, WebP (lossy, quality 70..90), JPEG (quality 60..95).
Noise backgrounds go only into the lossy formats, which keeps the folder small.

labels.json: list of {"file", "colour", "shape"}. Deterministic (fixed seed; PIL encoders).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import PIL.Image

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "shapes-holdout"
SEED = 7021

# Plausible names, deliberately different values from the trainer's palette.
COLOURS = {
    "red": (255, 0, 0),
    "green": (10, 150, 40),
    "blue": (0, 60, 250),
    "yellow": (255, 230, 0),
    "purple": (130, 20, 170),
    "orange": (255, 140, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}
SHAPES = ["circle", "square", "triangle", "star"]
MIN_CONTRAST = 150.0
MIN_NAMED = 85.0
FORMATS = ["png", "webp", "jpeg"]
EXT = {"png": "png", "webp": "webp", "jpeg": "jpg"}


def dist(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def background_colour(fg, rng: np.random.Generator) -> np.ndarray:
    for _ in range(10000):
        c = rng.integers(0, 256, 3)
        if dist(c, fg) >= MIN_CONTRAST and all(dist(c, v) >= MIN_NAMED for v in COLOURS.values()):
            return c.astype(np.float64)
    raise RuntimeError("no background colour found")


def bilinear_noise(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in [0, 1]: a coarse random grid, bilinearly interpolated."""
    gh, gw = int(rng.integers(3, 8)), int(rng.integers(3, 8))
    grid = rng.random((gh, gw))
    y = np.linspace(0, gh - 1, h)
    x = np.linspace(0, gw - 1, w)
    y0 = np.minimum(np.floor(y).astype(int), gh - 2)
    x0 = np.minimum(np.floor(x).astype(int), gw - 2)
    fy = (y - y0)[:, None]
    fx = (x - x0)[None, :]
    g00 = grid[y0][:, x0]
    g01 = grid[y0][:, x0 + 1]
    g10 = grid[y0 + 1][:, x0]
    g11 = grid[y0 + 1][:, x0 + 1]
    t = g00 * (1 - fy) * (1 - fx) + g01 * (1 - fy) * fx + g10 * fy * (1 - fx) + g11 * fy * fx
    return (t - t.min()) / (t.max() - t.min() + 1e-9)


def background(h: int, w: int, kind: str, fg, rng: np.random.Generator) -> np.ndarray:
    c1 = background_colour(fg, rng)
    if kind == "plain":
        return np.broadcast_to(c1, (h, w, 3)).copy()
    c2 = background_colour(fg, rng)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        t = xs * math.cos(angle) + ys * math.sin(angle)
        t = (t - t.min()) / (t.max() - t.min() + 1e-9)
    else:  # noise
        t = bilinear_noise(h, w, rng)
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    if kind == "noise":
        img = img + rng.normal(0, rng.uniform(4, 12), img.shape)
    return img


# --- signed distances (negative inside), in pixels --------------------------------------------


def sdf_circle(px: np.ndarray, py: np.ndarray, r: float) -> np.ndarray:
    return np.hypot(px, py) - r


def sdf_polygon(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Exact signed distance to a simple polygon (vertices in order), after I. Quilez."""
    d = (px - verts[0, 0]) ** 2 + (py - verts[0, 1]) ** 2
    s = np.ones_like(px)
    n = len(verts)
    for i in range(n):
        j = (i - 1) % n
        vi, vj = verts[i], verts[j]
        ex, ey = vj[0] - vi[0], vj[1] - vi[1]
        wx, wy = px - vi[0], py - vi[1]
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        bx, by = wx - ex * t, wy - ey * t
        d = np.minimum(d, bx * bx + by * by)
        c1 = py >= vi[1]
        c2 = py < vj[1]
        c3 = ex * wy > ey * wx
        flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
        s = np.where(flip, -s, s)
    return s * np.sqrt(d)


def regular(n: int, radii: list[float], rot: float) -> np.ndarray:
    k = n * len(radii)
    ang = rot + 2 * math.pi * np.arange(k) / k
    rad = np.array([radii[i % len(radii)] for i in range(k)])
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)


def shape_sdf(shape: str, px, py, size: float, rot: float, star_inner: float) -> tuple[np.ndarray, float]:
    """SDF of the shape centred at the origin, and its bounding radius."""
    if shape == "circle":
        r = size / 2
        return sdf_circle(px, py, r), r
    if shape == "square":
        verts = regular(4, [size / 2 * math.sqrt(2)], rot + math.pi / 4)  # side = size
    elif shape == "triangle":
        verts = regular(3, [size / math.sqrt(3)], rot)  # equilateral, side = size
    else:
        verts = regular(5, [size / 2 * 1.05, size / 2 * 1.05 * star_inner], rot)
    return sdf_polygon(px, py, verts), float(np.hypot(verts[:, 0], verts[:, 1]).max())


def render(colour: str, shape: str, outline: bool, bg_kind: str, rng: np.random.Generator) -> PIL.Image.Image:
    aspect = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
    long_over_short = max(aspect, 1 / aspect)
    short = int(rng.integers(96, int(480 / long_over_short) + 1))
    long = int(round(short * long_over_short))
    w, h = (long, short) if aspect >= 1 else (short, long)
    fg = np.clip(np.asarray(COLOURS[colour], np.float64) + rng.integers(-8, 9, 3), 0, 255)
    img = background(h, w, bg_kind, fg, rng)

    size = rng.uniform(0.15, 0.45) * short
    rot = rng.uniform(0, 2 * math.pi)
    star_inner = rng.uniform(0.38, 0.5)
    _, bound = shape_sdf(shape, np.zeros(1), np.zeros(1), size, rot, star_inner)
    cx = rng.uniform(bound + 2, w - bound - 2)
    cy = rng.uniform(bound + 2, h - bound - 2)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    d, _ = shape_sdf(shape, xs + 0.5 - cx, ys + 0.5 - cy, size, rot, star_inner)
    if outline:
        stroke = max(3.0, rng.uniform(0.14, 0.24) * size)
        d = np.abs(d + stroke / 2) - stroke / 2  # a stroke inside the shape's edge
    cover = np.clip(0.5 - d, 0.0, 1.0)[..., None]
    img = img * (1 - cover) + fg * cover
    return PIL.Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def encode(img: PIL.Image.Image, fmt: str, rng: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG", optimize=True)
    elif fmt == "webp":
        img.save(buf, format="WEBP", quality=int(rng.integers(70, 91)), method=6)
    else:
        img.save(buf, format="JPEG", quality=int(rng.integers(60, 96)), optimize=True)
    return buf.getvalue()


def main() -> None:
    rng = np.random.default_rng(SEED)
    combos = [(c, s) for c in COLOURS for s in SHAPES for _ in range(2)]
    n = len(combos)
    # Outline for exactly 1/4 of the pictures, spread over the colours and shapes at random.
    outline = np.zeros(n, bool)
    outline[rng.permutation(n)[: n // 4]] = True
    order = rng.permutation(n)  # formats in rotation over a shuffled order
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    labels, count = [], {}
    total = 0
    for rank, i in enumerate(order):
        colour, shape = combos[i]
        fmt = FORMATS[rank % len(FORMATS)]
        kinds = ["plain", "gradient"] if fmt == "png" else ["plain", "gradient", "noise", "noise"]
        kind = kinds[int(rng.integers(len(kinds)))]
        img = render(colour, shape, bool(outline[i]), kind, rng)
        count[(colour, shape)] = count.get((colour, shape), 0) + 1
        name = f"{colour}-{shape}-{count[(colour, shape)]}.{EXT[fmt]}"
        data = encode(img, fmt, rng)
        (OUT / name).write_bytes(data)
        total += len(data)
        labels.append({"file": name, "colour": colour, "shape": shape})
        print(f"{name:24s} {img.width}x{img.height} {'outline' if outline[i] else 'filled':7s} {kind:8s} {len(data) / 1e3:6.1f} kB")
    labels.sort(key=lambda x: x["file"])
    (OUT / "labels.json").write_text(json.dumps(labels, indent=1) + "\n", encoding="utf-8")
    (OUT / "README.md").write_text(README, encoding="utf-8")
    print(f"{len(labels)} images, {total / 1e6:.2f} MB in {OUT}")


README = """# shapes-holdout

64 pictures of one coloured shape each (8 colours x 4 shapes x 2), with their labels in
`labels.json` (`[{"file", "colour", "shape"}]`). They test whether the bundled toy model
(`Sources/imgsearch/Resources/toy-model`) generalises beyond its own training renderer:
`tools/train_toy_model.py` evaluates the queries "a COLOUR SHAPE" on them and fails unless
recall@1 >= 0.9 and recall@5 = 1. Never trained on.

Made by `tools/make_shape_holdout.py` (seeded, deterministic), a renderer independent of the
trainer's: shapes rasterised analytically in NumPy from signed-distance functions (circle and
exact polygon SDFs, anti-aliased coverage clamp(0.5 - sdf, 0, 1)), its own colour values
(e.g. red 255,0,0; none equal to the trainer's), canvases with a shorter side of 96..480 px
and aspect ratios 0.5..2 (portrait and landscape), any rotation, shapes 15..45% of the shorter
side, 1/4 drawn as a thick outline, plain / two-colour gradient / smooth-noise backgrounds at
least 150 (RGB distance) from the shape colour and not themselves one of the 8 named colours,
saved as PNG, WebP (quality 70..90) and JPEG (quality 60..95) in rotation. PIL only encodes.

```sh
.venv/bin/python tools/make_shape_holdout.py
```
"""


if __name__ == "__main__":
    main()
