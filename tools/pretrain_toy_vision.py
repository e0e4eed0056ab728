#!/usr/bin/env python3
"""Pre-trains the TOY models' vision tower to tell colours, shapes and sizes apart.

    tools/setup_reference_env.sh
    .venv/bin/python tools/pretrain_toy_vision.py --pool-cache pools --first-pool-only --steps 2000 --out toy-vision-1.pt
    .venv/bin/python tools/pretrain_toy_vision.py --pool-cache pools --init toy-vision-1.pt --steps 4000 --out toy-vision.pt
    .venv/bin/python tools/train_toy_model.py --vision-from toy-vision.pt --steps 1500
    .venv/bin/python tools/train_toy_captioner.py

The bundled toy models' tower was made by those two stages (12 and 35 minutes on 2 CPU
threads, the second sharing them with other work; rendering each pool of 38,400 pictures
takes ~4.5 minutes, and --pool-cache keeps them). The heads' shape accuracy on the holdout
went 0.28 (step 100) -> 0.64 (end of stage 1) -> 0.95 (end of stage 2); on the validation
pool, 0.81 -> 0.96 (small shapes 0.68 -> 0.93). Shapes start to be learnt after ~600 steps.

Why: trained with the image-text contrastive loss alone, the tiny tower (3 layers, 64 px,
patch 8) never learnt shapes on the varied pictures of train_toy_model.py: on pictures from an
independent renderer (Tests/Fixtures/shapes-holdout/) its shape was right for ~0.42 of them,
and the captioner trained on it collapsed to one shape. Here the tower (built by
train_toy_model.build_model: sin-cos positions, mimetic attention) learns to classify colour
(8), shape (4) and size (2) of each picture from throw-away linear heads on the mean and the
max over its output tokens (max: a small shape covers one or two of the 65 tokens, and a mean
over the background drowns it; with the mean alone, shape accuracy stayed at chance for 500
steps). Plain supervised cross-entropy gets off the plateau that ITC sits on.

Data: train_toy_model.make_pool with 85% of the pictures from the varied renderer (any aspect
ratio, rotation, outline, shade, background, JPEG / WebP), every picture flipped / quarter-turned
at random in each batch. Reports the heads' accuracy on a validation pool from another seed and
on the holdout every 100 steps (the holdout is reported, never trained on or used to stop).

Writes --out: {"vision": the tower's state dict (fp32), "heads": the probes' state dict}.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import random
import time
from pathlib import Path

import PIL.Image
import torch
import torch.nn.functional as F

import train_toy_model as toy
from blip2_reference import image_processor

VARIED_SHARE = 0.85
POOL_SEEDS = (11, 12)  # two training pools
VALIDATION_SEED = 99


class Probes(torch.nn.Module):
    """Linear colour / shape / size heads on [mean, max] of the tower's output tokens."""

    def __init__(self, width: int):
        super().__init__()
        self.colour = torch.nn.Linear(2 * width, len(toy.COLOURS))
        self.shape = torch.nn.Linear(2 * width, len(toy.SHAPES))
        self.size = torch.nn.Linear(2 * width, len(toy.SIZES))

    @staticmethod
    def pooled(vision, pixels: torch.Tensor) -> torch.Tensor:
        states = vision(pixel_values=pixels, return_dict=True).last_hidden_state
        return torch.cat([states.mean(dim=1), states.max(dim=1).values], dim=1)


class Labels:
    """Colour, shape and size indices of a pool's pictures."""

    def __init__(self, labels: list[tuple[int, int]]):
        self.colour = torch.tensor([toy.COLOURS_INDEX[toy.COMBOS[c][0]] for c, _ in labels])
        self.shape = torch.tensor([toy.SHAPES.index(toy.COMBOS[c][1]) for c, _ in labels])
        self.size = torch.tensor([s for _, s in labels])


def pool(per_class: int, seed: int, cache: Path | None) -> dict:
    path = cache / f"pool-{per_class}-{seed}-{VARIED_SHARE}.pt" if cache else None
    if path and path.exists():
        return torch.load(path)
    toy.VARIED_SHARE = VARIED_SHARE
    t0 = time.time()
    made = toy.make_pool(per_class, seed, toy.CONFIG["vision_config"]["image_size"], jpeg_prob=0.4)
    print(f"rendered {len(made['labels'])} pictures (seed {seed}) in {time.time() - t0:.0f} s", flush=True)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(made, path)
    return made


@torch.no_grad()
def accuracy(vision, probes: Probes, pixels: torch.Tensor, labels: Labels) -> tuple[float, float]:
    """Colour and shape accuracy of the heads."""
    f = torch.cat([Probes.pooled(vision, pixels[i : i + 256]) for i in range(0, len(pixels), 256)])
    colour = float((probes.colour(f).argmax(1) == labels.colour).float().mean())
    shape = float((probes.shape(f).argmax(1) == labels.shape).float().mean())
    return colour, shape


def holdout() -> tuple[torch.Tensor, Labels]:
    processor = image_processor(toy.CONFIG["vision_config"]["image_size"])
    entries = json.loads((toy.HOLDOUT_DIR / "labels.json").read_text(encoding="utf-8"))
    pils = [PIL.Image.open(toy.HOLDOUT_DIR / e["file"]).convert("RGB") for e in entries]
    pixels = processor(images=pils, return_tensors="pt")["pixel_values"]
    combos = [(toy.COMBOS.index((e["colour"], e["shape"])), 0) for e in entries]
    return pixels, Labels(combos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=20240610)
    parser.add_argument("--pool-per-class", type=int, default=600, help="pictures per colour+shape+size in each of the two pools")
    parser.add_argument("--pool-cache", type=Path, help="keep the rendered pools in this folder")
    parser.add_argument("--init", type=Path, help="continue from this file (tower and heads)")
    parser.add_argument("--first-pool-only", action="store_true", help="train on the first pool only (the bundled tower's first stage)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    seeds = POOL_SEEDS[:1] if args.first_pool_only else POOL_SEEDS
    pools = [pool(args.pool_per_class, seed, args.pool_cache) for seed in seeds]
    images = torch.cat([p["images"] for p in pools])
    labels = Labels([l for p in pools for l in p["labels"]])
    val = pool(4, VALIDATION_SEED, args.pool_cache)
    val_pixels, val_labels = toy.normalise(val["images"]), Labels(val["labels"])
    hold_pixels, hold_labels = holdout()

    vision = toy.build_model(args.seed).vision_model
    vision.train(False)  # no dropout
    probes = Probes(toy.CONFIG["vision_config"]["hidden_size"])
    if args.init:
        state = torch.load(args.init)
        vision.load_state_dict(state["vision"])
        probes.load_state_dict(state["heads"])
        print(f"continuing from {args.init}", flush=True)
    params = list(vision.parameters()) + list(probes.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.05)
    rng = random.Random(5)
    picks = torch.Generator().manual_seed(3)
    t0 = time.time()
    running = None
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = toy.warmup_cosine_lr(step, args.steps, args.lr)
        idx = torch.randint(len(images), (args.batch,), generator=picks)
        pixels = torch.stack([toy.dihedral(p, rng.randrange(8)) for p in toy.normalise(images[idx])])
        f = Probes.pooled(vision, pixels)
        loss = (F.cross_entropy(probes.colour(f), labels.colour[idx])
                + F.cross_entropy(probes.shape(f), labels.shape[idx])
                + 0.5 * F.cross_entropy(probes.size(f), labels.size[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        running = float(loss) if running is None else 0.95 * running + 0.05 * float(loss)
        if (step + 1) % 100 == 0 or step + 1 == args.steps:
            vc, vs = accuracy(vision, probes, val_pixels, val_labels)
            hc, hs = accuracy(vision, probes, hold_pixels, hold_labels)
            print(f"step {step + 1}/{args.steps} loss {running:.3f} {time.time() - t0:.0f}s | validation colour {vc:.3f} "
                  f"shape {vs:.3f} | holdout colour {hc:.3f} shape {hs:.3f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"vision": vision.state_dict(), "heads": probes.state_dict()}, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
