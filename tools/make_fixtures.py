#!/usr/bin/env python3
"""Regenerates the model fixtures under Tests/Fixtures/ (see Tests/Fixtures/README.md).

    tools/setup_reference_env.sh
    .venv/bin/python tools/make_fixtures.py

Writes vocab.txt, images/*.png, and models/<name>/ (config.json, safetensors weights,
preprocessor_config.json, vocab.txt -> ../../vocab.txt, pixels.f32, expected.json) for tiny
random-weight Blip2ForImageTextRetrieval models. Deterministic: fixed seeds, one thread, so
a re-run gives byte-identical files. The reference numbers are transformers' own forward in fp32.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import Blip2Config, Blip2ForImageTextRetrieval

from blip2_reference import (
    FIXTURES,
    bert_tokenizer,
    embed_images,
    fetch_photos,
    fetch_vocab,
    image_processor,
    randomize_,
)

# Two tiny shapes that differ in every dimension a port might hard-code: head count and
# size, patch grid, query count, cross-attention frequency, projection size, LayerNorm eps.
TINY_CONFIGS = {
    "tiny-a": dict(
        seed=20240501,
        vision_config=dict(
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=96,
            image_size=56,
            patch_size=14,
            qkv_bias=True,
            layer_norm_eps=1e-6,
        ),
        qformer_config=dict(
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
            cross_attention_frequency=2,
            encoder_hidden_size=48,
            layer_norm_eps=1e-12,
            use_qformer_text_input=True,
            vocab_size=30523,
        ),
        num_query_tokens=32,
        image_text_hidden_size=16,
    ),
    "tiny-b": dict(
        seed=20240502,
        vision_config=dict(
            hidden_size=40,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=80,
            image_size=42,
            patch_size=7,
            qkv_bias=True,
            layer_norm_eps=1e-5,
        ),
        qformer_config=dict(
            hidden_size=24,
            num_hidden_layers=2,
            num_attention_heads=3,
            intermediate_size=48,
            max_position_embeddings=40,
            cross_attention_frequency=1,
            encoder_hidden_size=40,
            layer_norm_eps=1e-6,
            use_qformer_text_input=True,
            vocab_size=30523,
        ),
        num_query_tokens=8,
        image_text_hidden_size=12,
    ),
}

# Captions: plain, punctuation + accents, long-ish (still < 40 tokens for tiny-b), one word.
TEXTS = [
    "a photo of an astronaut",
    "A ginger cat lying on a red blanket",
    "Café crème & naïve résumé: \"déjà vu\", isn't it?!",
    "a close-up photograph of a cup of coffee with latte art, next to a spoon "
    "on a white saucer, on a wooden table in a sunny cafe",
    "dog",
    "two people walking in the rain at night",
]


def build_model(name: str) -> Blip2ForImageTextRetrieval:
    spec = TINY_CONFIGS[name]
    config = Blip2Config(
        vision_config=spec["vision_config"],
        qformer_config=spec["qformer_config"],
        num_query_tokens=spec["num_query_tokens"],
        image_text_hidden_size=spec["image_text_hidden_size"],
    )
    torch.manual_seed(spec["seed"])
    model = Blip2ForImageTextRetrieval(config)
    randomize_(model, spec["seed"])
    return model.eval()


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def finish_dir(model_dir: Path, image_size: int) -> None:
    """Adds what a real snapshot also has: the tokenizer vocab and the image processor config."""
    os.symlink(os.path.join("..", "..", "vocab.txt"), model_dir / "vocab.txt")
    image_processor(image_size).save_pretrained(model_dir)
    for f in model_dir.iterdir():
        if not f.is_symlink():
            f.chmod(0o644)  # safetensors writes 0600


def split_qkv_bias(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LAVIS / original-checkpoint layout: self_attn.q_bias + self_attn.v_bias instead of qkv.bias."""
    out = {}
    for key, t in state.items():
        if key.endswith(".self_attn.qkv.bias"):
            h = t.shape[0] // 3
            assert torch.count_nonzero(t[h : 2 * h]) == 0, f"{key}: k third is not zero"
            prefix = key[: -len("qkv.bias")]
            out[prefix + "q_bias"] = t[:h].clone()
            out[prefix + "v_bias"] = t[2 * h :].clone()
        else:
            out[key] = t
    return out


def fuse_qkv_bias(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, t in state.items():
        if key.endswith(".self_attn.q_bias"):
            prefix = key[: -len("q_bias")]
            v = state[prefix + "v_bias"]
            out[prefix + "qkv.bias"] = torch.cat([t, torch.zeros_like(t), v])
        elif not key.endswith(".self_attn.v_bias"):
            out[key] = t
    return out


def write_models(models_dir: Path) -> dict[str, dict]:
    """Saves every fixture model; returns name -> how its weights are stored."""
    layouts = {}

    a = build_model("tiny-a")
    s_a = a.config.vision_config.image_size

    d = fresh_dir(models_dir / "tiny-a")
    a.save_pretrained(d, safe_serialization=True)
    finish_dir(d, s_a)
    layouts["tiny-a"] = {"dtype": "float32", "layout": "single-file"}

    d = fresh_dir(models_dir / "tiny-a-sharded")
    a.save_pretrained(d, safe_serialization=True, max_shard_size="1MB")
    finish_dir(d, s_a)
    layouts["tiny-a-sharded"] = {"dtype": "float32", "layout": "sharded"}

    d = fresh_dir(models_dir / "tiny-a-split-bias")
    state = load_file(str(models_dir / "tiny-a" / "model.safetensors"))
    save_file(split_qkv_bias(state), str(d / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(models_dir / "tiny-a" / "config.json", d / "config.json")
    finish_dir(d, s_a)
    layouts["tiny-a-split-bias"] = {"dtype": "float32", "layout": "split-qkv-bias"}

    d = fresh_dir(models_dir / "tiny-a-bf16")
    build_model("tiny-a").to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    finish_dir(d, s_a)
    layouts["tiny-a-bf16"] = {"dtype": "bfloat16", "layout": "single-file"}

    b = build_model("tiny-b")
    d = fresh_dir(models_dir / "tiny-b")
    b.half().save_pretrained(d, safe_serialization=True)
    finish_dir(d, b.config.vision_config.image_size)
    layouts["tiny-b"] = {"dtype": "float16", "layout": "single-file"}
    return layouts


def load_reference(model_dir: Path, layout: str) -> Blip2ForImageTextRetrieval:
    """The model as transformers sees it, upcast to fp32."""
    if layout != "split-qkv-bias":
        return Blip2ForImageTextRetrieval.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    # transformers 4.46.3 has no loader hook for q_bias/v_bias: fuse them the way
    # convert_blip_2_original_to_pytorch.py does, then load strictly.
    config = Blip2Config.from_pretrained(model_dir)
    model = Blip2ForImageTextRetrieval(config)
    model.load_state_dict(fuse_qkv_bias(load_file(str(model_dir / "model.safetensors"))), strict=True)
    return model.eval()


def as_list(t: torch.Tensor) -> list:
    # float32 -> Python float is exact, and json writes the shortest repr that round-trips.
    return t.detach().to(torch.float32).tolist()


@torch.no_grad()
def reference_outputs(model, pixels: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> dict:
    out = model(
        pixel_values=pixels,
        input_ids=ids,
        attention_mask=mask,
        use_image_text_matching_head=False,
        return_dict=True,
    )
    # The bench / index path computes image embeddings without any text: must be identical.
    assert torch.equal(embed_images(model, pixels), out.image_embeds)

    image_states = out.vision_model_output.last_hidden_state
    query_out = model.qformer(
        query_embeds=model.query_tokens.expand(pixels.shape[0], -1, -1),
        encoder_hidden_states=image_states,
        return_dict=True,
    ).last_hidden_state

    # ITM pairs image i with text i inside one batch (it concatenates the query tokens,
    # expanded to the image batch, with the text embeddings, so both batches must match) and
    # returns [B, 2] logits, not an [N, T] grid. Run one pair at a time, text unpadded.
    itm_logits, itm = [], []
    for i in range(pixels.shape[0]):
        row_logits, row = [], []
        for j in range(ids.shape[0]):
            n = int(mask[j].sum())
            o = model(
                pixel_values=pixels[i : i + 1],
                input_ids=ids[j : j + 1, :n],
                attention_mask=mask[j : j + 1, :n],
                use_image_text_matching_head=True,
                return_dict=True,
            )
            row_logits.append(as_list(o.logits_per_image[0]))
            row.append(float(torch.softmax(o.logits_per_image[0], dim=-1)[1]))
        itm_logits.append(row_logits)
        itm.append(row)

    return {
        "image_embeddings": as_list(out.image_embeds),
        "text_embeddings": as_list(out.text_embeds),
        "itc": as_list(out.logits_per_image),
        "itm": itm,
        "itm_logits": itm_logits,
        "intermediates": {
            "vision_last_hidden_state": as_list(image_states),
            "qformer_query_output": as_list(query_out),
            "qformer_text_cls": as_list(out.text_model_output.last_hidden_state[:, 0]),
        },
    }


def write_json(path: Path, obj: dict) -> None:
    """One top-level key per line: readable diffs, compact numbers."""
    lines = [json.dumps(k) + ": " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in obj.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def write_expected(model_dir: Path, weights: dict, photos: list[Path], tokenizer) -> dict:
    model = load_reference(model_dir, weights["layout"])
    cfg = model.config
    size = cfg.vision_config.image_size

    processor = image_processor(size)
    pixels_np = processor(images=[PIL.Image.open(p) for p in photos], return_tensors="np")["pixel_values"]
    pixels_np = np.ascontiguousarray(pixels_np, dtype="<f4")
    pixels_np.tofile(model_dir / "pixels.f32")

    enc = tokenizer(TEXTS, padding=True)
    ids = torch.tensor(enc["input_ids"])
    mask = torch.tensor(enc["attention_mask"])
    assert ids.shape[1] <= cfg.qformer_config.max_position_embeddings

    expected = {
        "model": model_dir.name,
        "weights": weights,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "image_size": size,
        "num_query_tokens": cfg.num_query_tokens,
        "embedding_dim": cfg.image_text_hidden_size,
        "images": [{"source": p.name, "pixels_file": "pixels.f32"} for p in photos],
        "pixels_shape": list(pixels_np.shape),
        "texts": TEXTS,
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
    }
    expected.update(reference_outputs(model, torch.from_numpy(pixels_np), ids, mask))
    write_json(model_dir / "expected.json", expected)
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="output root (default: Tests/Fixtures)")
    args = parser.parse_args()

    torch.set_num_threads(1)  # bit-for-bit reproducible and gentle on a shared machine
    root: Path = args.fixtures
    vocab = fetch_vocab(root / "vocab.txt")
    photos = fetch_photos(root / "images")
    tokenizer = bert_tokenizer(vocab)

    layouts = write_models(root / "models")
    results = {}
    for name, weights in layouts.items():
        results[name] = write_expected(root / "models" / name, weights, photos, tokenizer)
        r = results[name]
        itc = np.array(r["itc"])
        print(f"{name}: itc range [{itc.min():.3f}, {itc.max():.3f}], "
              f"itm range [{min(map(min, r['itm'])):.3f}, {max(map(max, r['itm'])):.3f}]")

    # Same weights, different storage: the reference must not change.
    for name in ("tiny-a-sharded", "tiny-a-split-bias"):
        for key in ("image_embeddings", "text_embeddings", "itc", "itm_logits"):
            assert results[name][key] == results["tiny-a"][key], (name, key)


if __name__ == "__main__":
    main()
