#!/usr/bin/env python3
"""Writes a random-weight checkpoint with the real blip2-itm-vit-g architecture, for benchmarks.

    .venv/bin/python tools/make_full_checkpoint.py OUTDIR [--dtype fp32|fp16] [--seed N]
    .venv/bin/python tools/make_full_checkpoint.py /tmp/tiny --tiny     # seconds, for testing

The config is the hub config (qformer_config: use_qformer_text_input=True, vocab_size=30523;
everything else default), so shapes, tensor names and file layout match Salesforce/blip2-itm-vit-g:
1.17e9 parameters, one model.safetensors of about 4.7 GB in fp32 (2.3 GB fp16). The weights are
random (tools/blip2_reference.randomize_), so embeddings are meaningless but speed and memory
are the real ones. Needs about 2x the file size in RAM. Never commit the output.

OUTDIR gets config.json, model.safetensors, preprocessor_config.json and a copy of vocab.txt.
--tiny shrinks depth and width (same code path) to check the script itself.
--vision-from DIR copies the vision tower of the Blip2ForConditionalGeneration snapshot in DIR
(e.g. tools/make_full_caption_checkpoint.py's) except its post_layernorm, as the real
blip2-itm-vit-g and blip2-opt-2.7b share the frozen ViT-g and train their own `ln_vision`:
imgsearch then runs one vision pass for embeddings and captions (bench/index_captions.sh).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import shutil
import time
from pathlib import Path

import torch
from transformers import Blip2Config, Blip2ForImageTextRetrieval
from transformers.modeling_utils import no_init_weights

from blip2_reference import FIXTURES, fetch_vocab, image_processor, randomize_

HUB_QFORMER_OVERRIDES = {"use_qformer_text_input": True, "vocab_size": 30523}
TINY_OVERRIDES = dict(
    vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
    qformer_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
    num_query_tokens=32,
    image_text_hidden_size=16,
)


def copy_vision_encoder(model: Blip2ForImageTextRetrieval, snapshot: Path) -> None:
    """Every `vision_model.*` tensor but post_layernorm from the (sharded) safetensors in `snapshot`."""
    from safetensors import safe_open

    state = model.state_dict()
    copied = 0
    for path in sorted(snapshot.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                if name.startswith("vision_model.") and not name.startswith("vision_model.post_layernorm."):
                    with torch.no_grad():
                        state[name].copy_(f.get_tensor(name))
                    copied += 1
    expected = sum(1 for n in state if n.startswith("vision_model.") and not n.startswith("vision_model.post_layernorm."))
    if copied != expected:
        raise SystemExit(f"{snapshot}: copied {copied} vision tensors, expected {expected}")
    print(f"copied {copied} vision encoder tensors from {snapshot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32", help="stored weight type")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="small widths and depths, to test this script")
    parser.add_argument("--vision-from", type=Path, help="copy the vision encoder of this captioning snapshot")
    args = parser.parse_args()

    if args.tiny:
        o = TINY_OVERRIDES
        config = Blip2Config(
            vision_config=o["vision_config"],
            qformer_config={**o["qformer_config"], **HUB_QFORMER_OVERRIDES},
            num_query_tokens=o["num_query_tokens"],
            image_text_hidden_size=o["image_text_hidden_size"],
        )
    else:
        config = Blip2Config(qformer_config=HUB_QFORMER_OVERRIDES)

    t0 = time.time()
    torch.manual_seed(args.seed)
    with no_init_weights():  # randomize_ overwrites every parameter; skip HF's slow init
        model = Blip2ForImageTextRetrieval(config).eval()
    randomize_(model, args.seed)
    if args.vision_from:
        copy_vision_encoder(model, args.vision_from)
    if args.dtype == "fp16":
        model = model.half()
    n_params = sum(p.numel() for p in model.parameters())

    args.outdir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.outdir, safe_serialization=True, max_shard_size="20GB")
    image_processor(config.vision_config.image_size).save_pretrained(args.outdir)
    shutil.copyfile(fetch_vocab(FIXTURES / "vocab.txt"), args.outdir / "vocab.txt")
    for f in args.outdir.iterdir():
        f.chmod(0o644)  # safetensors writes 0600
    size = sum(f.stat().st_size for f in args.outdir.glob("*.safetensors"))
    print(f"{args.outdir}: {n_params:,} parameters, {args.dtype}, {size / 1e9:.3f} GB, {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
