#!/usr/bin/env python3
"""Writes a random-weight checkpoint with the real blip2-opt-2.7b architecture, for benchmarks.

    .venv/bin/python tools/make_full_caption_checkpoint.py OUTDIR [--seed N] [--tiny]

The config is the hub's (Blip2Config defaults: ViT-g, Q-Former, OPT-2.7b text_config with
vocab 50304 and EOS 50118, image_token_index 50265), so names, shapes and sharding match
Salesforce/blip2-opt-2.7b: 3.745e9 parameters, about 15 GB in fp32. Tensors are drawn one
at a time and written in 2 GB shards (model-0000N-of-0000M.safetensors + index), so making
it needs about 2 GB of memory, not the 30 GB of instantiating the model. The tokenizer is
GPT-2's BPE (tests' fixture) laid out with OPT's ids and config; texts are meaningless but
speed and memory are the real ones. Never commit the output.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import Blip2Config, Blip2ForConditionalGeneration
from transformers.modeling_utils import no_init_weights

from blip2_reference import FIXTURES, image_processor

SHARD_BYTES = 2 * 1024**3
OPT_2_7B = dict(model_type="opt", vocab_size=50304, hidden_size=2560, num_hidden_layers=32, num_attention_heads=32,
                ffn_dim=10240, word_embed_proj_dim=2560, eos_token_id=50118, bos_token_id=2, pad_token_id=1,
                prefix="</s>")
TINY = dict(vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
            qformer_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4),
            text_config={**OPT_2_7B, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                         "ffn_dim": 64, "word_embed_proj_dim": 32})


def random_tensor(name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    if len(shape) == 1:
        base = 1.0 if name.endswith("weight") and ("norm" in name.lower()) else 0.0
        return torch.randn(shape, generator=generator) * 0.02 + base
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=generator) / math.sqrt(fan_in)


def opt_tokenizer(dest: Path) -> None:
    """GPT-2's vocabulary with RoBERTa's four specials first, as OPT's vocab.json has them."""
    gpt2 = json.loads((FIXTURES / "tokenizers" / "gpt2" / "vocab.json").read_text())
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for token, index in sorted(gpt2.items(), key=lambda kv: kv[1]):
        if token != "<|endoftext|>" and len(vocab) < 50265:
            vocab[token] = len(vocab)
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    shutil.copyfile(FIXTURES / "tokenizers" / "gpt2" / "merges.txt", dest / "merges.txt")
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_prefix_space": False, "bos_token": "</s>", "eos_token": "</s>",
        "unk_token": "</s>", "pad_token": "<pad>", "tokenizer_class": "GPT2Tokenizer"}, indent=2))
    (dest / "processor_config.json").write_text(json.dumps({"num_query_tokens": 32, "processor_class": "Blip2Processor"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="small widths and depths, to test this script")
    args = parser.parse_args()

    t0 = time.time()
    if args.tiny:
        config = Blip2Config(vision_config=TINY["vision_config"], qformer_config=TINY["qformer_config"],
                             text_config=TINY["text_config"], image_token_index=50265)
    else:
        config = Blip2Config(text_config=OPT_2_7B, image_token_index=50265)
    # Uninitialised parameters are never touched: only their names and shapes are read.
    with no_init_weights():
        skeleton = Blip2ForConditionalGeneration(config)
    # What save_pretrained writes: the tied lm_head is left out.
    shapes = {name: tuple(t.shape) for name, t in skeleton.state_dict().items() if name != "language_model.lm_head.weight"}
    del skeleton

    # Shard membership first (file names carry the count), then one shard in memory at a time.
    groups: list[list[str]] = [[]]
    size = 0
    for name in sorted(shapes):
        nbytes = math.prod(shapes[name]) * 4
        if size + nbytes > SHARD_BYTES and groups[-1]:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += nbytes
    args.outdir.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    weight_map = {}
    total = 0
    for index, names in enumerate(groups):
        file = f"model-{index + 1:05d}-of-{len(groups):05d}.safetensors"
        shard = {name: random_tensor(name, shapes[name], generator) for name in names}
        total += sum(t.numel() for t in shard.values())
        save_file(shard, args.outdir / file, metadata={"format": "pt"})
        weight_map.update({name: file for name in names})
        del shard
    (args.outdir / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total * 4}, "weight_map": weight_map}, indent=2))
    config.architectures = ["Blip2ForConditionalGeneration"]
    config.save_pretrained(args.outdir)
    image_processor(config.vision_config.image_size).save_pretrained(args.outdir)
    opt_tokenizer(args.outdir)
    for f in args.outdir.iterdir():
        f.chmod(0o644)
    print(f"{args.outdir}: {total:,} parameters, fp32, {len(groups)} shards, {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
