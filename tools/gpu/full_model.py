#!/usr/bin/env python3
"""Full-size BLIP-2 (blip2-itm-vit-g) helpers for the GPU check, with plain torch only.

No transformers or safetensors package is needed (the GPU machine may lack them):

  full_model.py make-checkpoint OUTDIR [--dtype fp16] [--seed 0] [--device cuda]
      A random-weight checkpoint with the real architecture (hub config: only
      qformer_config {use_qformer_text_input: true, vocab_size: 30523} differs from the
      defaults): config.json + one model.safetensors, 809 tensors, 1.17e9 parameters
      (2.3 GB in fp16). Tensor names and shapes follow ../shared/blip2-itc-spec.md and the
      loader (Sources/Embeddings/CBlip2). Weights ~ N(0, 1/sqrt(fan_in)), LayerNorms ~1,
      biases small, as tools/blip2_reference.randomize_ does (not bitwise the same).
      --like FIXTURE_DIR writes that fixture's architecture instead (to test this script).

  full_model.py check-names FIXTURE_DIR
      Compares the names and shapes this script writes for FIXTURE_DIR's config with the
      fixture's own safetensors header (written by transformers).

  full_model.py parity FIXTURE_DIR [--device cpu]
      Runs this file's plain-torch image path on the fixture's pixels and compares with
      expected.json (validates the reference implementation below).

  full_model.py summary BENCH_OUTPUT...
      A table of the RESULT lines: images/s of each, the engine's ratio to each reference,
      peak device memory, and the largest |difference| of the first batch's embeddings.

  full_model.py pixels OUT --count N [--size 224] [--seed 0]
      Random preprocessed pixels, raw float32 [N,3,S,S].

  full_model.py bench --model DIR --pixels FILE [--precisions fp32,fp16,bf16] [--batches 32,64]
                      [--impls eager,sdpa,transformers] [--engine-embeddings PREFIX]
      Same-run reference timings of the ITC image path in PyTorch eager mode: host float32
      pixels -> device -> vision tower -> Q-Former query path -> vision_projection ->
      normalize -> host float32, as blip2_embed_images does. Implementations:
        eager         this file's module with matmul + softmax attention (the engine's on libtorch < 2.1)
        sdpa          the same with F.scaled_dot_product_attention (the engine's on libtorch >= 2.1)
        transformers  Blip2ForImageTextRetrieval, if the package is importable (skipped if not)
      Prints one "RESULT {json}" line per (impl, precision, batch).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import math
import mmap
import os
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HUB_CONFIG = {
    "architectures": ["Blip2ForImageTextRetrieval"],
    "model_type": "blip-2",
    "num_query_tokens": 32,
    "image_text_hidden_size": 256,
    "qformer_config": {"model_type": "blip_2_qformer", "use_qformer_text_input": True, "vocab_size": 30523},
    "text_config": {"model_type": "opt"},
    "vision_config": {"model_type": "blip_2_vision_model"},
    "torch_dtype": "float16",
}

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}


class Config:
    """config.json with transformers' class defaults, as Sources/Embeddings/Model/ModelConfig.swift."""

    def __init__(self, raw: dict):
        v = raw.get("vision_config") or {}
        q = raw.get("qformer_config") or {}
        self.vh = v.get("hidden_size", 1408)
        self.vi = v.get("intermediate_size", 6144)
        self.vl = v.get("num_hidden_layers", 39)
        self.vheads = v.get("num_attention_heads", 16)
        self.image = v.get("image_size", 224)
        self.patch = v.get("patch_size", 14)
        self.veps = v.get("layer_norm_eps", 1e-6)
        self.qkv_bias = v.get("qkv_bias", True)
        self.qh = q.get("hidden_size", 768)
        self.qi = q.get("intermediate_size", 3072)
        self.ql = q.get("num_hidden_layers", 12)
        self.qheads = q.get("num_attention_heads", 12)
        self.vocab = q.get("vocab_size", 30522)
        self.maxpos = q.get("max_position_embeddings", 512)
        self.freq = q.get("cross_attention_frequency", 2)
        self.qeps = q.get("layer_norm_eps", 1e-12)
        self.queries = raw.get("num_query_tokens", 32)
        self.dim = raw.get("image_text_hidden_size", 256)

    @staticmethod
    def load(directory: Path) -> "Config":
        return Config(json.loads((directory / "config.json").read_text()))


def tensor_specs(c: Config) -> list[tuple[str, list[int], str]]:
    """(name, shape, kind) of every tensor of Blip2ForImageTextRetrieval; kind picks the init."""
    specs: list[tuple[str, list[int], str]] = []

    def linear(prefix: str, out_f: int, in_f: int, bias: bool = True) -> None:
        specs.append((f"{prefix}.weight", [out_f, in_f], "matrix"))
        if bias:
            specs.append((f"{prefix}.bias", [out_f], "bias"))

    def norm(prefix: str, size: int) -> None:
        specs.append((f"{prefix}.weight", [size], "ln_weight"))
        specs.append((f"{prefix}.bias", [size], "ln_bias"))

    side = c.image // c.patch
    specs.append(("query_tokens", [1, c.queries, c.qh], "embedding"))
    ve = "vision_model.embeddings"
    specs.append((f"{ve}.class_embedding", [1, 1, c.vh], "vision_embedding"))
    specs.append((f"{ve}.position_embedding", [1, side * side + 1, c.vh], "vision_embedding"))
    specs.append((f"{ve}.patch_embedding.weight", [c.vh, 3, c.patch, c.patch], "matrix"))
    specs.append((f"{ve}.patch_embedding.bias", [c.vh], "bias"))
    for i in range(c.vl):
        p = f"vision_model.encoder.layers.{i}"
        linear(f"{p}.self_attn.qkv", 3 * c.vh, c.vh, bias=False)
        if c.qkv_bias:
            specs.append((f"{p}.self_attn.qkv.bias", [3 * c.vh], "qkv_bias"))
        linear(f"{p}.self_attn.projection", c.vh, c.vh)
        norm(f"{p}.layer_norm1", c.vh)
        linear(f"{p}.mlp.fc1", c.vi, c.vh)
        linear(f"{p}.mlp.fc2", c.vh, c.vi)
        norm(f"{p}.layer_norm2", c.vh)
    norm("vision_model.post_layernorm", c.vh)
    specs.append(("embeddings.word_embeddings.weight", [c.vocab, c.qh], "embedding"))
    specs.append(("embeddings.position_embeddings.weight", [c.maxpos, c.qh], "embedding"))
    norm("qformer.layernorm", c.qh)
    for i in range(c.ql):
        p = f"qformer.encoder.layer.{i}"
        for part in ("query", "key", "value"):
            linear(f"{p}.attention.attention.{part}", c.qh, c.qh)
        linear(f"{p}.attention.output.dense", c.qh, c.qh)
        norm(f"{p}.attention.output.LayerNorm", c.qh)
        if i % c.freq == 0:
            linear(f"{p}.crossattention.attention.query", c.qh, c.qh)
            linear(f"{p}.crossattention.attention.key", c.qh, c.vh)
            linear(f"{p}.crossattention.attention.value", c.qh, c.vh)
            linear(f"{p}.crossattention.output.dense", c.qh, c.qh)
            norm(f"{p}.crossattention.output.LayerNorm", c.qh)
        linear(f"{p}.intermediate.dense", c.qi, c.qh)
        linear(f"{p}.output.dense", c.qh, c.qi)
        norm(f"{p}.output.LayerNorm", c.qh)
        linear(f"{p}.intermediate_query.dense", c.qi, c.qh)
        linear(f"{p}.output_query.dense", c.qh, c.qi)
        norm(f"{p}.output_query.LayerNorm", c.qh)
    linear("vision_projection", c.dim, c.qh)
    linear("text_projection", c.dim, c.qh)
    linear("itm_head", 2, c.qh)
    return specs


# ------------------------------------------------------------------ safetensors without the package

def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of one .safetensors file (CPU, copy-on-write mapping: no read until used)."""
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    n = int.from_bytes(mapped[:8], "little")
    header = json.loads(mapped[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = ST_DTYPES[info["dtype"]]
        count = math.prod(info["shape"]) if info["shape"] else 1
        t = torch.frombuffer(mapped, dtype=dtype, count=count, offset=base + begin) if count else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def read_snapshot(directory: Path) -> dict[str, torch.Tensor]:
    index = directory / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        weights = {}
        for name in files:
            weights.update(read_safetensors(directory / name))
        return weights
    return read_safetensors(directory / "model.safetensors")


def safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


def make_checkpoint(args) -> None:
    outdir: Path = args.outdir
    if args.like:
        raw = json.loads((args.like / "config.json").read_text())
    else:
        raw = dict(HUB_CONFIG)
    raw["torch_dtype"] = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[args.dtype]
    c = Config(raw)
    specs = tensor_specs(c)
    dtype = DTYPES[args.dtype]
    device = torch.device(args.device if (args.device != "cuda" or torch.cuda.is_available()) else "cpu")
    t0 = time.time()
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "config.json").write_text(json.dumps(raw, indent=2) + "\n")

    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    width = torch.tensor([], dtype=dtype).element_size()
    for name, shape, _ in specs:
        size = math.prod(shape) * width
        header[name] = {"dtype": ST_NAMES[dtype], "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)

    g = torch.Generator(device=device).manual_seed(args.seed)
    params = 0
    with open(outdir / "model.safetensors", "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for name, shape, kind in specs:
            t = torch.randn(shape, generator=g, device=device, dtype=torch.float32)
            if kind == "matrix":
                t *= 1.0 / math.sqrt(math.prod(shape[1:]))
            elif kind == "ln_weight":
                t = 1.0 + 0.1 * t
            elif kind in ("bias", "ln_bias"):
                t *= 0.1
            elif kind == "qkv_bias":
                t *= 0.1
                h = shape[0] // 3
                t[h : 2 * h] = 0  # BLIP-2's layout cat(q_bias, zeros, v_bias)
            elif kind == "vision_embedding":
                t *= 0.5
            params += t.numel()
            host = t.to(dtype).cpu().contiguous()
            f.write(host.view(torch.uint8).numpy().tobytes() if host.numel() else b"")
    os.chmod(outdir / "model.safetensors", 0o644)
    size = (outdir / "model.safetensors").stat().st_size
    print(f"{outdir}: {len(specs)} tensors, {params:,} parameters, {args.dtype}, {size / 1e9:.3f} GB, "
          f"{time.time() - t0:.1f} s (random on {device})", flush=True)


def check_names(args) -> int:
    c = Config.load(args.fixture)
    ours = {name: shape for name, shape, _ in tensor_specs(c)}
    theirs: dict[str, list[int]] = {}
    index = args.fixture / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    for name in files:
        for key, info in safetensors_header(args.fixture / name).items():
            if key != "__metadata__":
                theirs[key] = info["shape"]
    if "q_bias" in " ".join(theirs):  # LAVIS-style split bias: fold into the fused name
        for key in [k for k in theirs if k.endswith(".q_bias")]:
            prefix = key[: -len("q_bias")]
            theirs[prefix + "qkv.bias"] = [3 * theirs.pop(key)[0]]
            theirs.pop(prefix + "v_bias")
    missing = sorted(set(theirs) - set(ours))
    extra = sorted(set(ours) - set(theirs))
    shape = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])
    print(f"{args.fixture.name}: {len(ours)} ours, {len(theirs)} in the file; not written by us {missing[:5]}, "
          f"not in the file {extra[:5]}, shape differs {shape[:5]}")
    return 1 if (missing or extra or shape) else 0


# ------------------------------------------------------------------ the reference forward (image path)

class ImagePath:
    """The ITC image path of Blip2ForImageTextRetrieval in plain torch, from the weights dict."""

    def __init__(self, weights: dict[str, torch.Tensor], c: Config, device, dtype, attention: str = "eager"):
        self.c = c
        self.attention = attention
        self.w = {}
        for name, t in weights.items():
            if name.startswith(("vision_model.", "qformer.", "query_tokens", "vision_projection.")):
                self.w[name] = t.to(device=device, dtype=dtype)
        for i in range(c.vl):  # LAVIS-style split q/v biases: fuse as cat(q, 0, v)
            p = f"vision_model.encoder.layers.{i}.self_attn."
            if p + "q_bias" in self.w and p + "qkv.bias" not in self.w:
                qb = self.w.pop(p + "q_bias")
                self.w[p + "qkv.bias"] = torch.cat([qb, torch.zeros_like(qb), self.w.pop(p + "v_bias")])

    def _lin(self, x, p):
        return F.linear(x, self.w[p + ".weight"], self.w.get(p + ".bias"))

    def _ln(self, x, p, eps):
        return F.layer_norm(x, (x.shape[-1],), self.w[p + ".weight"], self.w[p + ".bias"], eps)

    def _attend(self, q, k, v, scale):
        if self.attention == "sdpa":
            return F.scaled_dot_product_attention(q, k, v)
        return torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, dim=-1), v)

    def vision(self, px):
        c, w = self.c, self.w
        b = px.shape[0]
        x = F.conv2d(px, w["vision_model.embeddings.patch_embedding.weight"],
                     w["vision_model.embeddings.patch_embedding.bias"], stride=c.patch)
        x = x.flatten(2).transpose(1, 2)
        cls = w["vision_model.embeddings.class_embedding"].expand(b, 1, c.vh)
        x = torch.cat([cls, x], 1) + w["vision_model.embeddings.position_embedding"]
        t = x.shape[1]
        hd = c.vh // c.vheads
        for i in range(c.vl):
            p = f"vision_model.encoder.layers.{i}"
            h = self._ln(x, p + ".layer_norm1", c.veps)
            qkv = self._lin(h, p + ".self_attn.qkv").reshape(b, t, 3, c.vheads, hd).permute(2, 0, 3, 1, 4)
            ctx = self._attend(qkv[0], qkv[1], qkv[2], hd ** -0.5)
            x = x + self._lin(ctx.permute(0, 2, 1, 3).reshape(b, t, c.vh), p + ".self_attn.projection")
            h = self._ln(x, p + ".layer_norm2", c.veps)
            x = x + self._lin(F.gelu(self._lin(h, p + ".mlp.fc1")), p + ".mlp.fc2")
        return self._ln(x, "vision_model.post_layernorm", c.veps)

    def _qattn(self, x, ctx, p):
        c = self.c
        hd = c.qh // c.qheads

        def heads(y):
            return y.reshape(y.shape[0], y.shape[1], c.qheads, hd).permute(0, 2, 1, 3)

        q = heads(self._lin(x, p + ".attention.query"))
        k = heads(self._lin(ctx, p + ".attention.key"))
        v = heads(self._lin(ctx, p + ".attention.value"))
        a = self._attend(q, k, v, hd ** -0.5).permute(0, 2, 1, 3).reshape(x.shape)
        return self._ln(self._lin(a, p + ".output.dense") + x, p + ".output.LayerNorm", c.qeps)

    def __call__(self, px):
        c = self.c
        states = self.vision(px)
        x = self._ln(self.w["query_tokens"].expand(px.shape[0], -1, -1), "qformer.layernorm", c.qeps)
        for i in range(c.ql):
            p = f"qformer.encoder.layer.{i}"
            x = self._qattn(x, x, p + ".attention")
            if i % c.freq == 0:
                x = self._qattn(x, states, p + ".crossattention")
            y = self._lin(F.gelu(self._lin(x, p + ".intermediate_query.dense")), p + ".output_query.dense")
            x = self._ln(y + x, p + ".output_query.LayerNorm", c.qeps)
        return F.normalize(self._lin(x, "vision_projection"), dim=-1)


def parity(args) -> int:
    c = Config.load(args.fixture)
    expected = json.loads((args.fixture / "expected.json").read_text())
    px = torch.frombuffer(bytearray((args.fixture / "pixels.f32").read_bytes()), dtype=torch.float32)
    px = px.reshape(expected["pixels_shape"])
    dev = torch.device(args.device)
    model = ImagePath(read_snapshot(args.fixture), c, dev, torch.float32, args.attention)
    with torch.inference_mode():
        ours = model(px.to(dev)).cpu()
    diff = (ours - torch.tensor(expected["image_embeddings"])).abs().max().item()
    print(f"{args.fixture.name}: plain-torch image path ({args.attention}) vs transformers: max |diff| {diff:.2e}")
    return 0 if diff <= 1e-4 else 1


def make_pixels(args) -> None:
    g = torch.Generator().manual_seed(args.seed)
    rgb = torch.rand((args.count, 3, args.size, args.size), generator=g)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    ((rgb - mean) / std).contiguous().numpy().astype("<f4").tofile(args.out)


# ------------------------------------------------------------------ timing

class MemoryPoller:
    """Peak device memory in use (total - free), polled, like blip2_gpu_check's."""

    def __init__(self, enabled: bool = True):
        self.peak = 0
        self.running = False
        self.enabled = enabled

    def __enter__(self):
        if not self.enabled:
            return self
        self.running = True
        self.peak = self.used()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def used(self) -> int:
        free, total = torch.cuda.mem_get_info()
        return total - free

    def _loop(self):
        while self.running:
            self.peak = max(self.peak, self.used())
            time.sleep(0.01)

    def __exit__(self, *exc):
        if self.enabled:
            self.running = False
            self.thread.join()


def load_transformers(model_dir: Path, dtype, device):
    import transformers
    from transformers import Blip2ForImageTextRetrieval

    try:
        model = Blip2ForImageTextRetrieval.from_pretrained(model_dir, dtype=dtype)
    except TypeError:
        model = Blip2ForImageTextRetrieval.from_pretrained(model_dir, torch_dtype=dtype)
    model = model.to(device).eval()
    attn = getattr(model.config, "_attn_implementation", "?")

    def embed(px):
        states = model.vision_model(pixel_values=px)[0]
        # transformers 5 keeps query_tokens and the Q-Former in fp32 when loading fp16
        # (_keep_in_fp32_modules); cast between the parts as its own forward does.
        queries = model.query_tokens.expand(states.shape[0], -1, -1)
        states = states.to(queries.dtype)
        out = model.qformer(query_embeds=queries, encoder_hidden_states=states,
                            encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long, device=device))[0]
        out = out.to(model.vision_projection.weight.dtype)
        return F.normalize(model.vision_projection(out), dim=-1)

    return embed, f"transformers {transformers.__version__} ({attn} attention)"


def bench(args) -> int:
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    c = Config.load(args.model)
    per_image = 3 * c.image * c.image
    batches = [int(b) for b in args.batches.split(",")]
    raw = torch.frombuffer(bytearray(args.pixels.read_bytes()), dtype=torch.float32)
    pixels = raw[: max(batches) * per_image].reshape(-1, 3, c.image, c.image)
    weights = read_snapshot(args.model)
    status = 0
    for impl in args.impls.split(","):
        for precision in args.precisions.split(","):
            dtype = DTYPES[precision]
            try:
                if cuda:
                    torch.cuda.empty_cache()
                t0 = time.perf_counter()
                if impl == "transformers":
                    embed, label = load_transformers(args.model, dtype, dev)
                else:
                    embed, label = ImagePath(weights, c, dev, dtype, impl), f"torch {torch.__version__} {impl}"
                if cuda:
                    torch.cuda.synchronize()
                load_s = time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - report and go on
                print("RESULT " + json.dumps({"impl": impl, "precision": precision, "error": f"load: {type(e).__name__}: {e}"[:300]}), flush=True)
                if impl != "transformers":
                    status = 1
                continue
            for batch in batches:
                host = pixels[:batch]
                try:
                    with torch.inference_mode(), MemoryPoller(cuda) as memory:
                        if cuda:
                            torch.cuda.reset_peak_memory_stats()
                        for _ in range(args.fp32_warmup if precision == "fp32" else args.warmup):
                            out = embed(host.to(dev, dtype)).float().cpu()
                        iters = args.fp32_iters if precision == "fp32" else args.iters
                        seconds = []
                        for _ in range(iters):
                            t0 = time.perf_counter()
                            out = embed(host.to(dev, dtype)).float().cpu()
                            seconds.append(time.perf_counter() - t0)
                except Exception as e:  # noqa: BLE001
                    print("RESULT " + json.dumps({"impl": impl, "precision": precision, "batch": batch,
                                                  "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
                    status = 1
                    break
                result = {
                    "impl": impl, "label": label, "precision": precision, "batch": batch, "iters": iters,
                    "images_per_s": round(batch * iters / sum(seconds), 2),
                    "median_batch_s": round(sorted(seconds)[len(seconds) // 2], 4),
                    "load_s": round(load_s, 2),
                    "peak_used_mib": round(memory.peak / 2**20),
                    "torch_max_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
                    "finite": bool(torch.isfinite(out).all()),
                }
                engine_file = Path(f"{args.engine_embeddings}-{precision}.f32") if args.engine_embeddings else None
                if engine_file and engine_file.exists() and batch == batches[0]:
                    theirs = torch.frombuffer(bytearray(engine_file.read_bytes()), dtype=torch.float32)
                    if theirs.numel() == out.numel():
                        result["max_diff_vs_engine"] = float((theirs.reshape(out.shape) - out).abs().max())
                print("RESULT " + json.dumps(result), flush=True)
            del embed
    return status


def summary(args) -> int:
    """A compact table of the RESULT lines of the engine's and the references' bench output."""
    rows = []
    for path in args.files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            if line.startswith("RESULT "):
                try:
                    rows.append(json.loads(line[len("RESULT "):]))
                except json.JSONDecodeError:
                    pass
    for r in rows:
        if "error" in r:
            print(f"  error: {r.get('impl')} {r.get('precision')} batch {r.get('batch', '-')}: {r['error']}")
    ok = [r for r in rows if "images_per_s" in r]
    labels = {r["impl"]: r.get("label", r["impl"]) for r in ok}
    for impl, label in labels.items():
        if impl != "engine":
            print(f"  {impl}: {label}")
    impls = [i for i in ("engine", "eager", "sdpa", "transformers") if i in labels]
    head = f"  {'prec':5} {'batch':>5} " + " ".join(f"{i + ' img/s':>18}" for i in impls)
    head += " " + " ".join(f"{'engine/' + i:>18}" for i in impls if i != "engine")
    head += f" {'engine peak MiB':>16} {'eager peak MiB':>15}"
    head += " " + " ".join(f"{'|engine-' + i + '|':>15}" for i in impls if i != "engine")
    print(head)
    keys = sorted({(r["precision"], r["batch"]) for r in ok}, key=lambda k: (["fp16", "bf16", "fp32"].index(k[0]) if k[0] in ("fp16", "bf16", "fp32") else 9, k[1]))
    for precision, batch in keys:
        by = {r["impl"]: r for r in ok if r["precision"] == precision and r["batch"] == batch}
        line = f"  {precision:5} {batch:>5} " + " ".join(
            f"{by[i]['images_per_s']:>18.1f}" if i in by else f"{'-':>18}" for i in impls)
        for i in impls:
            if i == "engine":
                continue
            if "engine" in by and i in by:
                line += f" {by['engine']['images_per_s'] / by[i]['images_per_s']:>18.3f}"
            else:
                line += f" {'-':>18}"
        line += f" {by['engine']['peak_used_mib'] if 'engine' in by else '-':>16}"
        line += f" {by['eager']['peak_used_mib'] if 'eager' in by else '-':>15}"
        for i in impls:
            if i != "engine":
                diff = by.get(i, {}).get("max_diff_vs_engine")
                line += f" {diff:>15.2e}" if diff is not None else f" {'-':>15}"
        print(line)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make-checkpoint")
    p.add_argument("outdir", type=Path)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--like", type=Path, help="a fixture dir whose config.json to use instead of the hub's")
    p = sub.add_parser("check-names")
    p.add_argument("fixture", type=Path)
    p = sub.add_parser("parity")
    p.add_argument("fixture", type=Path)
    p.add_argument("--device", default="cpu")
    p.add_argument("--attention", choices=("eager", "sdpa"), default="eager")
    p = sub.add_parser("pixels")
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("bench")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--pixels", type=Path, required=True)
    p.add_argument("--precisions", default="fp32,fp16,bf16")
    p.add_argument("--batches", default="32,64")
    p.add_argument("--impls", default="eager,sdpa,transformers")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--fp32-warmup", type=int, default=1)
    p.add_argument("--fp32-iters", type=int, default=3)
    p.add_argument("--device", default="cuda", help="cuda (cpu only to test this script)")
    p.add_argument("--engine-embeddings", help="PREFIX of the engine's PREFIX-<precision>.f32 outputs of the first batch")
    p = sub.add_parser("summary")
    p.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "summary":
        return summary(args)
    if args.command == "make-checkpoint":
        make_checkpoint(args)
        return 0
    if args.command == "check-names":
        return check_names(args)
    if args.command == "parity":
        return parity(args)
    if args.command == "pixels":
        make_pixels(args)
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
