#!/usr/bin/env python3
"""Re-derives every model fixture's expected.json with an independent float64 NumPy forward.

    .venv/bin/python tools/check_fixtures.py [MODEL_DIR ...]   # default: all of Tests/Fixtures/models/*

Written from /work/shared/blip2-itc-spec.md, not from transformers: it reads config.json with the
class defaults for missing keys, loads single-file, sharded, fp16/bf16 and q_bias/v_bias
checkpoints, and recomputes the vision states, image/text embeddings, ITC and ITM. A second
implementation agreeing with transformers to ~1e-6 shows the fixtures and the spec say the
same thing; it is also a compact, readable reference for the Swift/C++ port. Exits 1 on a
difference above --tolerance.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import math
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from blip2_reference import FIXTURES

VISION_DEFAULTS = dict(
    hidden_size=1408, num_hidden_layers=39, num_attention_heads=16, patch_size=14, image_size=224, layer_norm_eps=1e-6
)
QFORMER_DEFAULTS = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, layer_norm_eps=1e-12, cross_attention_frequency=2)

_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def normalize(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    weights = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        weights.update({k: v.float().numpy().astype(np.float64) for k, v in load_file(str(f)).items()})
    for key in [k for k in weights if k.endswith(".self_attn.q_bias")]:
        prefix = key[: -len("q_bias")]
        q, v = weights.pop(key), weights.pop(prefix + "v_bias")
        weights[prefix + "qkv.bias"] = np.concatenate([q, np.zeros_like(q), v])
    return weights


class Reference:
    def __init__(self, model_dir: Path):
        config = json.loads((model_dir / "config.json").read_text())
        self.vision = {**VISION_DEFAULTS, **config.get("vision_config", {})}
        self.qformer = {**QFORMER_DEFAULTS, **config.get("qformer_config", {})}
        self.num_query_tokens = config.get("num_query_tokens", 32)
        self.w = load_weights(model_dir)

    def linear(self, prefix, x):
        return x @ self.w[prefix + ".weight"].T + self.w[prefix + ".bias"]

    def ln(self, prefix, x, eps):
        return layer_norm(x, self.w[prefix + ".weight"], self.w[prefix + ".bias"], eps)

    @staticmethod
    def attention(q, k, v, heads, mask=None):
        b, t, h = q.shape
        s, hd = k.shape[1], h // heads
        q = q.reshape(b, t, heads, hd).transpose(0, 2, 1, 3)
        k = k.reshape(b, s, heads, hd).transpose(0, 2, 1, 3)
        v = v.reshape(b, s, heads, hd).transpose(0, 2, 1, 3)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        if mask is not None:
            scores = scores + ((1 - mask) * -10000.0)[:, None, None, :]
        return (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b, t, h)

    def vision_tower(self, pixels):
        c, w = self.vision, self.w
        n, _, size, _ = pixels.shape
        p, h = c["patch_size"], c["hidden_size"]
        g = size // p
        patches = pixels.reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g * g, 3 * p * p)
        x = patches @ w["vision_model.embeddings.patch_embedding.weight"].reshape(h, -1).T
        x = x + w["vision_model.embeddings.patch_embedding.bias"]
        cls = np.broadcast_to(w["vision_model.embeddings.class_embedding"], (n, 1, h))
        x = np.concatenate([cls, x], 1) + w["vision_model.embeddings.position_embedding"]
        eps = c["layer_norm_eps"]
        for i in range(c["num_hidden_layers"]):
            pre = f"vision_model.encoder.layers.{i}."
            qkv = self.linear(pre + "self_attn.qkv", self.ln(pre + "layer_norm1", x, eps))
            ctx = self.attention(qkv[..., :h], qkv[..., h : 2 * h], qkv[..., 2 * h :], c["num_attention_heads"])
            x = x + self.linear(pre + "self_attn.projection", ctx)
            x = x + self.linear(pre + "mlp.fc2", gelu(self.linear(pre + "mlp.fc1", self.ln(pre + "layer_norm2", x, eps))))
        return self.ln("vision_model.post_layernorm", x, eps)

    def qformer_forward(self, emb, query_length, mask, image):
        c = self.qformer
        eps, heads = c["layer_norm_eps"], c["num_attention_heads"]
        x = self.ln("qformer.layernorm", emb, eps)
        for i in range(c["num_hidden_layers"]):
            pre = f"qformer.encoder.layer.{i}."
            att = pre + "attention."
            ctx = self.attention(*(self.linear(att + "attention." + n, x) for n in ("query", "key", "value")), heads, mask)
            a = self.ln(att + "output.LayerNorm", self.linear(att + "output.dense", ctx) + x, eps)
            parts = []
            if query_length > 0:
                qa = a[:, :query_length]
                if i % c["cross_attention_frequency"] == 0:
                    cross = pre + "crossattention."
                    ctx = self.attention(
                        self.linear(cross + "attention.query", qa),
                        self.linear(cross + "attention.key", image),
                        self.linear(cross + "attention.value", image),
                        heads,
                    )
                    qa = self.ln(cross + "output.LayerNorm", self.linear(cross + "output.dense", ctx) + qa, eps)
                ffn = self.linear(pre + "output_query.dense", gelu(self.linear(pre + "intermediate_query.dense", qa)))
                parts.append(self.ln(pre + "output_query.LayerNorm", ffn + qa, eps))
            if a.shape[1] > query_length:
                t = a[:, query_length:]
                ffn = self.linear(pre + "output.dense", gelu(self.linear(pre + "intermediate.dense", t)))
                parts.append(self.ln(pre + "output.LayerNorm", ffn + t, eps))
            x = np.concatenate(parts, 1)
        return x

    def text_embeddings(self, ids):
        w = self.w
        return w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]

    def outputs(self, pixels, ids, mask) -> dict[str, np.ndarray]:
        image = self.vision_tower(pixels)
        n, q = pixels.shape[0], self.num_query_tokens
        queries = self.w["query_tokens"]
        query_out = self.qformer_forward(np.broadcast_to(queries, (n, q, queries.shape[-1])), q, None, image)
        image_emb = normalize(self.linear("vision_projection", query_out))
        text = self.text_embeddings(ids)
        text_emb = normalize(self.linear("text_projection", self.qformer_forward(text, 0, mask, None)[:, 0]))
        itm = np.zeros((n, len(ids)))
        for i in range(n):
            for j in range(len(ids)):
                length = int(mask[j].sum())
                emb = np.concatenate([queries, text[j : j + 1, :length]], 1)
                h = self.qformer_forward(emb, q, np.ones((1, q + length)), image[i : i + 1])
                itm[i, j] = softmax(self.linear("itm_head", h[:, :q]).mean(1))[0, 1]
        return {
            "vision_last_hidden_state": image,
            "image_embeddings": image_emb,
            "text_embeddings": text_emb,
            "itc": np.einsum("nqd,td->ntq", image_emb, text_emb).max(-1),
            "itm": itm,
        }


def check(model_dir: Path, tolerance: float) -> bool:
    expected = json.loads((model_dir / "expected.json").read_text())
    pixels = np.fromfile(model_dir / "pixels.f32", dtype="<f4").reshape(expected["pixels_shape"]).astype(np.float64)
    ids = np.array(expected["input_ids"])
    mask = np.array(expected["attention_mask"], dtype=np.float64)
    ok = True
    for key, got in Reference(model_dir).outputs(pixels, ids, mask).items():
        want = np.array(expected["intermediates"][key] if key in expected["intermediates"] else expected[key])
        diff = float(np.abs(want - got).max())
        ok &= diff <= tolerance
        print(f"{model_dir.name:18} {key:25} max |diff| {diff:.2e}{'' if diff <= tolerance else '  FAIL'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    dirs = args.models or sorted(p.parent for p in (FIXTURES / "models").glob("*/expected.json"))
    results = [check(d, args.tolerance) for d in dirs]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
