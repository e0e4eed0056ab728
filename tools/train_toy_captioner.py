#!/usr/bin/env python3
"""Trains the bundled TOY captioner: captions and answers questions about coloured-shape pictures.

    tools/setup_reference_env.sh
    .venv/bin/python tools/train_toy_model.py          # first: the vision tower comes from there
    .venv/bin/python tools/train_toy_captioner.py      # ~4 min on 2 CPU threads

The bundled snapshot: `--pool-per-class 150 --steps 1500` (7 min), on the tower that
tools/pretrain_toy_vision.py pre-trained on shapes. On the tower before it (ITC only), the
captions collapsed to one shape on the varied mix (shape right 0.25); the defaults here give
the same holdout numbers (0.906) and 0.922 instead of 0.969 on the toy renderer's pictures.

This is NOT BLIP-2: it is a tiny Blip2ForConditionalGeneration (the architecture and tensor
names of Salesforce/blip2-opt-2.7b in its legacy layout: `image_token_index` null, the 32 query
outputs are prepended to the prompt's embeddings; OPT language model with GPT-2's real
byte-level BPE tokenizer) trained on the synthetic pictures of tools/train_toy_model.py
(8 colours x 4 shapes, its renderer `render()` and pool `make_pool()` with all their
augmentations, imported, not copied). It writes captions such as "a red circle" and answers
"Question: what colour is the shape? Short answer:" -> "red" and
"Question: what shape is it? Short answer:" -> "circle" (and a few paraphrases).
It lets imgsearch's caption / ask commands be tried without the 7.5 GB real model.

The vision tower is the toy RETRIEVAL model's (Sources/imgsearch/Resources/toy-model/), copied
bit for bit (fp16 -> fp32 -> fp16 is exact) and frozen, with an identical vision_config, so
that imgsearch can detect the shared tower and run it once for both models.

Writes Sources/imgsearch/Resources/toy-captioner/:
  config.json, generation_config.json   bos/pad 50256 (<|endoftext|>), eos 198 ("\\n", as LAVIS)
  model.safetensors                     fp16, what save_pretrained writes: every tensor of
                                        state_dict() except the tied language_model.lm_head.weight
  vocab.json, merges.txt                GPT-2's (copies of Tests/Fixtures/tokenizers/gpt2/)
  tokenizer_config.json                 GPT2Tokenizer, add_bos_token, <|endoftext|> specials
  processor_config.json, preprocessor_config.json (the toy model's), README.md

Training recipe: the vision outputs of a pre-rendered pool (toy.make_pool: its renderers,
canvases, aspect ratios, rotations, outlines, JPEG / WebP re-encoding; each picture as 2 random
flips / quarter turns) are computed once (the tower is frozen). The Q-Former (query path only,
as Blip2ForConditionalGeneration; the retrieval model's sizes) and the query tokens start from
the retrieval model's, as BLIP-2's second stage starts from its first; everything but the vision
tower is trained. Each step takes a batch of pool images through the Q-Former and
language_projection, and feeds the OPT decoder three sequences per image, each
[32 query outputs] + [BOS] + prompt + target, as LAVIS's blip2_opt (the query prefix runs once per
image and serves its three sequences as a key/value cache):
  - a caption: no prompt (or, 1 in 4, the prompt "a photo of") -> "a red circle\\n"
    ("an orange star\\n": the article agrees);
  - a colour question, "Question: what colour is the shape? Short answer:" or a paraphrase -> " red\\n";
  - a shape question, "Question: what shape is it? Short answer:" or a paraphrase -> " circle\\n".
Cross-entropy on the target tokens only (queries, BOS and prompt masked), computed at those
positions only. The tied 50257-row head is the costly part, so most steps use a sampled softmax
(the 17 tokens targets use + 2048 random others, whose exp-sum is scaled up to stand for all
50k) and every 8th step the full one. Ids are GPT2Tokenizer's (with
add_bos_token) of prompt + target, checked against the tokenizer loaded from the snapshot.
AdamW (5x the learning rate for the tied token embeddings, which otherwise take ~150 steps to
grow logits that name a token), warmup + cosine, no dropout (train(False): the data is unlimited).

Then reloads the saved fp16 snapshot in fp32 with transformers (model, BlipImageProcessor and
GPT2Tokenizer from the snapshot, as a user would) and measures, with greedy and 5-beam decoding
(max_new_tokens 10): caption names the right colour and shape; answer to each question kind is
exactly the right word. On (a) toy-renderer pictures from another seed and (b)
Tests/Fixtures/shapes-holdout/ (an independent renderer). Fails (exit 1) unless every measure
is >= 0.9 on (b). The numbers go into the snapshot's README.md.

Deterministic: fixed seeds; torch.set_num_threads (OpenBLAS / OpenMP reductions may still make
a re-run differ in the last bits, not in the results).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import inspect
import json
import math
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
import transformers
import transformers.generation.utils as generation_utils
from safetensors.torch import load_file, save_file
from transformers import Blip2Config, Blip2ForConditionalGeneration, BlipImageProcessor, GPT2Tokenizer

import train_toy_model as toy
from blip2_reference import FIXTURES, md5

# Debian's torch 1.13 on Python 3.11: generate() imports torch.distributed.fsdp and fails.
generation_utils.is_fsdp_managed_module = lambda module: False

RETRIEVAL_DIR = toy.MODEL_DIR
OUT_DIR = toy.RESOURCES / "toy-captioner"
GPT2_DIR = FIXTURES / "tokenizers" / "gpt2"
HOLDOUT_DIR = FIXTURES / "shapes-holdout"

EOT = "<|endoftext|>"
EOT_ID = 50256
NEWLINE_ID = 198  # GPT-2's "\n" ("Ċ"): BLIP-2 / LAVIS captions and answers end with it

# The vision tower must equal the retrieval model's (checked against its config.json).
VISION_REQUIRED = dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=4, intermediate_size=512,
                       image_size=64, patch_size=8, qkv_bias=True, layer_norm_eps=1e-6)
# The Q-Former is the retrieval model's (same sizes: hidden 96, 2 layers, 4 heads, MLP 384,
# cross-attention in every layer to the 128-d vision output), query path only, and starts from
# its trained weights, as BLIP-2's second stage starts from the first stage's Q-Former.
QFORMER_FROM_RETRIEVAL = dict(use_qformer_text_input=False)
TEXT = dict(
    model_type="opt",
    vocab_size=50257,
    hidden_size=32,
    word_embed_proj_dim=32,  # == hidden_size: no project_in/out
    num_hidden_layers=2,
    num_attention_heads=4,
    ffn_dim=128,
    max_position_embeddings=128,  # 32 queries + BOS + prompt + answer, with room for longer questions
    bos_token_id=EOT_ID,
    pad_token_id=EOT_ID,
    eos_token_id=NEWLINE_ID,
)
NUM_QUERY_TOKENS = 32

COLOUR_QUESTIONS = ["what colour is the shape?", "what color is the shape?", "what colour is it?",
                    "what color is it?", "what is the colour of the shape?"]
SHAPE_QUESTIONS = ["what shape is it?", "what is the shape?", "which shape is this?", "what shape is this?"]
CAPTION_PROMPTS = ["", "", "", "a photo of"]
TOKENIZER_CONFIG = {
    "tokenizer_class": "GPT2Tokenizer",
    "add_bos_token": True,
    "add_prefix_space": False,
    "bos_token": EOT,
    "eos_token": EOT,
    "unk_token": EOT,
    "pad_token": EOT,
    "errors": "replace",
    "clean_up_tokenization_spaces": False,
    "model_max_length": 128,
}


def vqa_prompt(question: str) -> str:
    return f"Question: {question} Short answer:"


def caption_text(colour: str, shape: str) -> str:
    return f"{toy.article(colour)} {colour} {shape}"


# ---------------------------------------------------------------------------------------------
# Snapshot pieces


def write_tokenizer(dest: Path) -> GPT2Tokenizer:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(GPT2_DIR / name, dest / name)
    (dest / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
    tok = GPT2Tokenizer.from_pretrained(str(dest))
    assert len(tok) == TEXT["vocab_size"] and tok.bos_token_id == EOT_ID, (len(tok), tok.bos_token_id)
    assert tok("\n", add_special_tokens=False)["input_ids"] == [NEWLINE_ID]
    assert tok("")["input_ids"] == [EOT_ID]
    return tok


def build_config() -> Blip2Config:
    retrieval = Blip2Config.from_pretrained(RETRIEVAL_DIR)
    vision = retrieval.vision_config.to_dict()
    for k, v in VISION_REQUIRED.items():
        assert vision[k] == v, f"retrieval vision_config.{k} = {vision[k]}, expected {v}"
    qformer = {**retrieval.qformer_config.to_dict(), **QFORMER_FROM_RETRIEVAL}
    return Blip2Config(vision_config=vision, qformer_config=qformer, text_config=TEXT,
                       num_query_tokens=NUM_QUERY_TOKENS, image_token_index=None)


def build_model(config: Blip2Config, seed: int) -> tuple[Blip2ForConditionalGeneration, dict]:
    """Vision tower (frozen) and Q-Former + query tokens (trained further) from the retrieval model."""
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config)
    retrieval = load_file(str(RETRIEVAL_DIR / "model.safetensors"))
    vision = {k: v for k, v in retrieval.items() if k.startswith("vision_model.")}
    own = {k for k in model.state_dict() if k.startswith("vision_model.")}
    assert own == set(vision), f"vision tensors differ: {sorted(own ^ set(vision))[:6]}"
    assert any("post_layernorm" in k for k in vision)
    qformer = {k for k in model.state_dict() if k.startswith("qformer.") or k == "query_tokens"}
    missing = qformer - set(retrieval)
    assert not missing, f"Q-Former tensors not in the retrieval model: {sorted(missing)[:6]}"
    with torch.no_grad():
        for k in sorted(set(vision) | qformer):
            model.get_parameter(k).copy_(retrieval[k].to(torch.float32))
    for p in model.vision_model.parameters():
        p.requires_grad_(False)
    return model, vision


def save_snapshot(model: Blip2ForConditionalGeneration, tokenizer_dir: Path, vision_fp16: dict) -> None:
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    model.config.torch_dtype = torch.float16
    model.config.save_pretrained(OUT_DIR)
    generation = transformers.GenerationConfig(bos_token_id=EOT_ID, eos_token_id=NEWLINE_ID, pad_token_id=EOT_ID)
    generation.save_pretrained(OUT_DIR)
    # What save_pretrained writes: the state dict without the tied head (= embed_tokens).
    tied = set(model._tied_weights_keys or [])
    assert tied == {"language_model.lm_head.weight"}, tied
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items() if k not in tied}
    for k, v in vision_fp16.items():
        assert torch.equal(state[k], v), f"{k} changed"
    save_file(state, str(OUT_DIR / "model.safetensors"), metadata={"format": "pt"})
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir / name, OUT_DIR / name)
    # No num_query_tokens: with image_token_index null (queries prepended), transformers'
    # Blip2Processor must not insert <image> placeholders (it would, given the count).
    (OUT_DIR / "processor_config.json").write_text(json.dumps({"processor_class": "Blip2Processor"}) + "\n")
    shutil.copyfile(RETRIEVAL_DIR / "preprocessor_config.json", OUT_DIR / "preprocessor_config.json")
    for f in OUT_DIR.iterdir():
        f.chmod(0o644)


def check_snapshot(vision_fp16: dict) -> dict:
    """Loads as a user would; no missing / unexpected keys; vision bytes == the retrieval model's."""
    model, info = Blip2ForConditionalGeneration.from_pretrained(OUT_DIR, torch_dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"loading {OUT_DIR}: {bad}"
    saved = load_file(str(OUT_DIR / "model.safetensors"))
    retrieval = load_file(str(RETRIEVAL_DIR / "model.safetensors"))
    for k in vision_fp16:
        assert saved[k].dtype == torch.float16 and torch.equal(saved[k].view(torch.int16), retrieval[k].view(torch.int16)), k
    a = Blip2Config.from_pretrained(OUT_DIR).vision_config.to_dict()
    b = Blip2Config.from_pretrained(RETRIEVAL_DIR).vision_config.to_dict()
    assert a == b, (a, b)
    assert model.language_model.lm_head.weight.data_ptr() == model.language_model.model.decoder.embed_tokens.weight.data_ptr()
    return {"tensors": len(saved), "params": sum(v.numel() for v in saved.values())}


# ---------------------------------------------------------------------------------------------
# Data


def make_pool(n_per_class: int, seed: int, jpeg_prob: float) -> dict:
    """toy.make_pool (the retrieval trainer's renderer, canvases and formats) -> uint8 [N,64,64,3] + labels."""
    size = VISION_REQUIRED["image_size"]
    params = inspect.signature(toy.make_pool).parameters
    kwargs = {"jpeg_prob": jpeg_prob} if "jpeg_prob" in params else {}
    pool = toy.make_pool(n_per_class, seed, size, **kwargs)
    labels = [toy.COMBOS[lab[0]] for lab in pool["labels"]]
    return {"images": pool["images"], "colours": [c for c, _ in labels], "shapes": [s for _, s in labels]}


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips / quarter turns of a [C, S, S] image (the retrieval trainer's, if it has one)."""
    if hasattr(toy, "dihedral"):
        return toy.dihedral(x, k)
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


@torch.no_grad()
def vision_features(model, images_u8: torch.Tensor, turns: list[int] | None = None) -> torch.Tensor:
    """last_hidden_state of the (frozen) vision tower; turns[i]: dihedral transform of image i."""
    out = []
    for i in range(0, len(images_u8), 256):
        px = toy.normalise(images_u8[i : i + 256])
        if turns is not None:
            px = torch.stack([dihedral(p, k) for p, k in zip(px, turns[i : i + 256])])
        out.append(model.vision_model(pixel_values=px, return_dict=True).last_hidden_state)
    return torch.cat(out)


class Sequences:
    """[BOS] + prompt + target ids as GPT2Tokenizer (add_bos_token) makes them; target = ids after the prompt's."""

    def __init__(self, tok: GPT2Tokenizer):
        self.tok = tok
        self.cache: dict[tuple[str, str], tuple[list[int], int]] = {}

    def __call__(self, prompt: str, target: str) -> tuple[list[int], int]:
        key = (prompt, target)
        if key not in self.cache:
            p = self.tok(prompt)["input_ids"]
            full = self.tok(prompt + target)["input_ids"]
            assert full[: len(p)] == p and full[0] == EOT_ID and full[-1] == NEWLINE_ID, (prompt, target, p, full)
            self.cache[key] = (full, len(p))
        return self.cache[key]


def examples(colour: str, shape: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, prompt, target) triples for one image: a caption, a colour question and a shape question."""
    cap = caption_text(colour, shape)
    p = rng.choice(CAPTION_PROMPTS)
    cq, sq = rng.choice(COLOUR_QUESTIONS), rng.choice(SHAPE_QUESTIONS)
    if rng.random() < 0.15:  # users do not always type the question mark
        cq = cq.rstrip("?")
    if rng.random() < 0.15:
        sq = sq.rstrip("?")
    return [
        ("caption", p, (" " if p else "") + cap + "\n"),
        ("colour", vqa_prompt(cq), f" {colour}\n"),
        ("shape", vqa_prompt(sq), f" {shape}\n"),
    ]


def batch_tensors(seqs: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids [S,L], mask [S,L], and target [S,L] (bool: a token the loss is computed on)."""
    n = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), n), EOT_ID, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.long)
    target = torch.zeros(len(seqs), n, dtype=torch.bool)
    for i, (s, p) in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        target[i, p : len(s)] = True
    return ids, mask, target


def lm_hidden(model, feats: torch.Tensor, img_of_seq: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The OPT decoder's final hidden states over the ids of [queries] + ids (legacy BLIP-2 layout),
    [S, L, H]: the hidden state predicting ids[:, j] is [:, j - 1]. The query prefix, shared by the
    sequences of one image (causal attention: it does not see them), runs once per image and is
    reused as a key/value cache."""
    q = model.qformer(
        query_embeds=model.query_tokens.expand(feats.shape[0], -1, -1),
        encoder_hidden_states=feats,
        encoder_attention_mask=torch.ones(feats.shape[:-1], dtype=torch.long),
        return_dict=True,
    ).last_hidden_state
    proj = model.language_projection(q)
    decoder = model.language_model.model.decoder
    prefix = decoder(inputs_embeds=proj, attention_mask=torch.ones(proj.shape[:2], dtype=mask.dtype),
                     use_cache=True, return_dict=True).past_key_values
    past = tuple(tuple(t[img_of_seq] for t in layer) for layer in prefix)
    embeds = model.language_model.get_input_embeddings()(ids)
    attn = torch.cat([torch.ones(len(ids), proj.shape[1], dtype=mask.dtype), mask], dim=1)
    return decoder(inputs_embeds=embeds, attention_mask=attn, past_key_values=past, use_cache=False,
                   return_dict=True).last_hidden_state


def target_logits(model, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Full-vocabulary logits predicting each target token (token j from hidden state j - 1)."""
    s, j = target.nonzero(as_tuple=True)
    return hidden[s, j - 1] @ model.language_model.get_output_embeddings().weight.t()


# ---------------------------------------------------------------------------------------------
# Training


@torch.no_grad()
def teacher_forced(model, feats, colours, shapes, seqs: Sequences) -> dict:
    """Fraction of sequences whose every target token is the argmax (= what greedy decoding would write)."""
    rng = random.Random(0)
    right = {"caption": 0, "colour": 0, "shape": 0}
    for i in range(0, len(colours), 64):
        f = feats[i : i + 64]
        rows, img, kinds = [], [], []
        for b in range(len(f)):
            for kind, prompt, tgt in examples(colours[i + b], shapes[i + b], rng):
                if kind == "caption":
                    prompt, tgt = "", caption_text(colours[i + b], shapes[i + b]) + "\n"
                rows.append(seqs(prompt, tgt))
                img.append(b)
                kinds.append(kind)
        ids, mask, target = batch_tensors(rows)
        hidden = lm_hidden(model, f, torch.tensor(img), ids, mask)
        s, _ = target.nonzero(as_tuple=True)
        hit = target_logits(model, hidden, target).argmax(-1) == ids[target]
        for r in range(len(rows)):
            right[kinds[r]] += bool(hit[s == r].all())
    return {k: v / len(colours) for k, v in right.items()}


def target_vocabulary(seqs: Sequences) -> torch.Tensor:
    """Every token id any training target holds (tokenizing every prompt / target variant)."""
    used = set()
    for colour, shape in toy.COMBOS:
        pairs = [(p, (" " if p else "") + caption_text(colour, shape) + "\n") for p in set(CAPTION_PROMPTS)]
        for q in COLOUR_QUESTIONS:
            pairs += [(vqa_prompt(v), f" {colour}\n") for v in (q, q.rstrip("?"))]
        for q in SHAPE_QUESTIONS:
            pairs += [(vqa_prompt(v), f" {shape}\n") for v in (q, q.rstrip("?"))]
        for prompt, target in pairs:
            ids, n = seqs(prompt, target)
            used.update(ids[n:])
    return torch.tensor(sorted(used))


def train(args, model, seqs: Sequences) -> dict:
    t0 = time.time()
    pool = make_pool(args.pool_per_class, args.seed + 1, jpeg_prob=0.4)
    val = make_pool(2, args.seed + 2, jpeg_prob=0.4)
    t_render = time.time() - t0
    # Each picture enters as `views` different flips / quarter turns (every label stays true).
    rng = random.Random(args.seed + 3)
    n_img = len(pool["colours"])
    turns = [k for _ in range(n_img) for k in rng.sample(range(8), args.views)]
    src = [i for i in range(n_img) for _ in range(args.views)]
    model.train(False)  # no dropout: the data is unlimited, dropout only slows this down
    feats = vision_features(model, pool["images"][src], turns)
    val_feats = vision_features(model, val["images"])
    colours = [pool["colours"][i] for i in src]
    shapes = [pool["shapes"][i] for i in src]
    n = len(src)
    print(f"rendered {n_img} training + {len(val['colours'])} validation images in {t_render:.0f}s, "
          f"vision features of {n} views in {time.time() - t0 - t_render:.0f}s", flush=True)

    # Sampled softmax (most steps): the target tokens' logits + K uniformly drawn others, whose
    # exp-sum is scaled up to stand for all of them; every `full_every`-th step the full softmax.
    used = target_vocabulary(seqs)
    position = torch.full((TEXT["vocab_size"],), -1, dtype=torch.long)
    position[used] = torch.arange(len(used))
    others = torch.tensor(sorted(set(range(TEXT["vocab_size"])) - set(used.tolist())))
    correction = math.log(len(others) / args.negatives)
    g = torch.Generator().manual_seed(args.seed + 5)
    head = model.language_model.get_output_embeddings().weight

    # The tied token embedding / head gets a higher learning rate: from its N(0, 0.02) start,
    # at the base rate, logits large enough to name a token took ~150 steps of Adam.
    tokens = model.language_model.get_input_embeddings().weight
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad or p is tokens:
            continue
        (decay if p.dim() >= 2 and "embed" not in name and name != "query_tokens" else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05, "scale": 1.0},
                             {"params": no_decay, "weight_decay": 0.0, "scale": 1.0},
                             {"params": [tokens], "weight_decay": 0.0, "scale": args.embed_lr_scale}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    def lr_at(step):
        return toy.warmup_cosine_lr(step, args.steps, args.lr)

    log: dict = {"pool": n_img, "views": n, "render_seconds": t_render, "target_vocabulary": len(used)}
    t_train = time.time()
    running = None
    order: list[int] = []
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step) * group["scale"]
        if len(order) < args.batch:
            more = list(range(n))
            rng.shuffle(more)
            order += more
        idx, order = order[: args.batch], order[args.batch :]
        rows, img = [], []
        for b, i in enumerate(idx):
            for _, prompt, tgt in examples(colours[i], shapes[i], rng):
                rows.append(seqs(prompt, tgt))
                img.append(b)
        ids, mask, target = batch_tensors(rows)
        hidden = lm_hidden(model, feats[idx], torch.tensor(img), ids, mask)
        s, j = target.nonzero(as_tuple=True)
        h = hidden[s, j - 1]  # token j is predicted from the hidden state before it
        wanted = ids[target]
        if step == 0:  # those are the positions transformers' own forward predicts from
            with torch.no_grad():
                b0 = [r for r in range(len(rows)) if img[r] == 0]
                px = dihedral(toy.normalise(pool["images"][src[idx[0]] : src[idx[0]] + 1])[0], turns[idx[0]])[None]
                ref = model(pixel_values=px.expand(len(b0), -1, -1, -1), input_ids=ids[b0], attention_mask=mask[b0]).logits
                s0, j0 = target[b0].nonzero(as_tuple=True)
                diff = float((ref[s0, NUM_QUERY_TOKENS + j0 - 1] - h[: len(s0)] @ head.t()).abs().max())
                assert diff < 1e-4, f"training logits differ from Blip2ForConditionalGeneration.forward by {diff}"
        if (step + 1) % args.full_every == 0 or step + 1 == args.steps:
            loss = F.cross_entropy(h @ head.t(), wanted)
        else:
            neg = others[torch.randint(len(others), (args.negatives,), generator=g)]
            logits = h @ head[torch.cat([used, neg])].t()
            logits = torch.cat([logits[:, : len(used)], logits[:, len(used) :] + correction], dim=1)
            loss = F.cross_entropy(logits, position[wanted])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        running = float(loss) if running is None else 0.95 * running + 0.05 * float(loss)
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            msg = f"step {step + 1}/{args.steps} loss {running:.4f} lr {lr_at(step):.2e} {time.time() - t_train:.0f}s"
            if (step + 1) % (args.log_every * 5) == 0 or step + 1 == args.steps:
                acc = teacher_forced(model, val_feats, val["colours"], val["shapes"], seqs)
                msg += " | val " + " ".join(f"{k} {v:.3f}" for k, v in acc.items())
            print(msg, flush=True)
    log["train_seconds"] = time.time() - t_train
    log["final_loss"] = running
    return log


# ---------------------------------------------------------------------------------------------
# Evaluation (as a user would, from the saved snapshot)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@torch.no_grad()
def evaluate(pils: list[PIL.Image.Image], colours: list[str], shapes: list[str], paraphrases: bool) -> dict:
    transformers.logging.set_verbosity_error()  # the legacy layout's deprecation and max_length notes
    model = Blip2ForConditionalGeneration.from_pretrained(OUT_DIR, torch_dtype=torch.float32).eval()
    processor = BlipImageProcessor.from_pretrained(OUT_DIR)
    tok = GPT2Tokenizer.from_pretrained(OUT_DIR)
    tok.padding_side = "left"
    pixels = processor(images=pils, return_tensors="pt")["pixel_values"]
    size = model.config.vision_config.image_size
    ours = toy.normalise(torch.from_numpy(np.stack([toy.resized_uint8(p, size) for p in pils])))
    diff = float((ours - pixels).abs().max())
    assert diff < 1e-5, f"training preprocessing differs from BlipImageProcessor by {diff}"

    def run(prompt: str, beams: int) -> list[str]:
        texts = []
        for i in range(0, len(pils), 64):
            px = pixels[i : i + 64]
            enc = tok([prompt] * len(px), return_tensors="pt")
            out = model.generate(pixel_values=px, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                 max_new_tokens=10, num_beams=beams, do_sample=False)
            texts += [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]
        return texts

    results = {}
    for label, beams in (("greedy", 1), ("beam5", 5)):
        caps = run("", beams)
        cols = run(vqa_prompt(COLOUR_QUESTIONS[0]), beams)
        shps = run(vqa_prompt(SHAPE_QUESTIONS[0]), beams)
        n = len(pils)
        cap_ok = [c in words(t) and s in words(t) for t, c, s in zip(caps, colours, shapes)]
        r = {
            "caption": sum(cap_ok) / n,
            "caption_exact": sum(t == caption_text(c, s) for t, c, s in zip(caps, colours, shapes)) / n,
            "colour": sum(a == c for a, c in zip(cols, colours)) / n,
            "shape": sum(a == s for a, s in zip(shps, shapes)) / n,
        }
        r["misses"] = [f"{c} {s}: caption {t!r}, colour {a!r}, shape {b!r}"
                       for t, a, b, c, s in zip(caps, cols, shps, colours, shapes)
                       if not (c in words(t) and s in words(t)) or a != c or b != s]
        results[label] = r
        if label == "greedy":
            results["examples"] = [f"{c} {s} -> {t!r}" for t, c, s in list(zip(caps, colours, shapes))[::max(1, n // 6)]]
    # Paraphrased questions and the "a photo of" prompt (greedy; reported, not required).
    para = {}
    if paraphrases:
        for q in COLOUR_QUESTIONS[1:]:
            para[q] = sum(a == c for a, c in zip(run(vqa_prompt(q), 1), colours)) / len(pils)
        for q in SHAPE_QUESTIONS[1:]:
            para[q] = sum(a == s for a, s in zip(run(vqa_prompt(q), 1), shapes)) / len(pils)
        photo = run("a photo of", 1)
        para["caption prompt 'a photo of'"] = sum(c in words(t) and s in words(t) for t, c, s in zip(photo, colours, shapes)) / len(pils)
    results["paraphrases"] = para
    return results


def render_holdout(seed: int) -> tuple[list, list, list]:
    pool = make_pool(2, seed, jpeg_prob=0.4)
    pils = [PIL.Image.fromarray(a.numpy()) for a in pool["images"]]  # 64x64: the processor's resize is a no-op
    return pils, pool["colours"], pool["shapes"]


def fixture_holdout() -> tuple[list, list, list] | None:
    labels = HOLDOUT_DIR / "labels.json"
    if not labels.exists():
        return None
    items = json.loads(labels.read_text())
    pils = [PIL.Image.open(HOLDOUT_DIR / it["file"]).convert("RGB") for it in items]
    return pils, [it["colour"] for it in items], [it["shape"] for it in items]


def print_results(name: str, res: dict) -> None:
    for label in ("greedy", "beam5"):
        r = res[label]
        print(f"{name:16s} {label:6s} caption {r['caption']:.3f} (exact {r['caption_exact']:.3f})  colour {r['colour']:.3f}  shape {r['shape']:.3f}"
              + (f"  misses: {r['misses'][:4]}" if r["misses"] else ""), flush=True)
    if res["paraphrases"]:
        print(f"{name:16s} paraphrases (greedy): " + ", ".join(f"{k!r} {v:.3f}" for k, v in res["paraphrases"].items()), flush=True)
    print(f"{name:16s} examples: {res['examples']}", flush=True)


def write_readme(args, log: dict, info: dict, results: dict, elapsed: float) -> None:
    cfg = json.loads((OUT_DIR / "config.json").read_text())
    v, q, t = cfg["vision_config"], cfg["qformer_config"], cfg["text_config"]
    weights = (OUT_DIR / "model.safetensors").stat().st_size
    total = sum(f.stat().st_size for f in OUT_DIR.iterdir() if f.name != "README.md")

    def rows(name):
        if name not in results:
            return f"| {name} | not evaluated (missing) | | | |"
        out = []
        for label in ("greedy", "beam5"):
            r = results[name][label]
            out.append(f"| {name}, {label} | {r['caption']:.3f} ({r['caption_exact']:.3f}) | {r['colour']:.3f} | {r['shape']:.3f} |")
        return "\n".join(out)

    sets = {"toy renderer": "toy renderer (another seed)", "shapes-holdout": "Tests/Fixtures/shapes-holdout"}
    n = {k: results[k]["n"] for k in results}
    para = results[list(results)[-1]]["paraphrases"]
    para_rows = "\n".join(f"| {k} | {v:.3f} |" for k, v in para.items())
    text = f"""# TOY captioner: synthetic coloured shapes, NOT BLIP-2

A Hugging Face-style snapshot of a **toy** `Blip2ForConditionalGeneration` (the architecture and
tensor names of `Salesforce/blip2-opt-2.7b`, legacy layout: `image_token_index` null, the
{cfg['num_query_tokens']} query outputs are prepended to the prompt; an OPT language model), at tiny sizes,
trained for about {log['train_seconds'] / 60:.0f} minutes on a 2-core CPU. It captions pictures of **one coloured
shape** ({', '.join(toy.COLOURS)}; {', '.join(toy.SHAPES)}) as e.g. "a red circle" and answers
"Question: what colour is the shape? Short answer:" ("red") and "Question: what shape is it? Short
answer:" ("circle"). It knows nothing else and is useless on photographs. It exists so that
imgsearch's `caption` and `ask` can be tried and tested end to end without the 7.5 GB real model.

## Shape

| part | value |
|---|---|
| vision | **the toy retrieval model's** (`../toy-model/`): hidden {v['hidden_size']}, {v.get('num_hidden_layers')} layers, image {v['image_size']}, patch {v['patch_size']}; frozen, its fp16 tensors copied byte for byte, same vision_config, so imgsearch runs it once for both models |
| Q-Former | query path only: hidden {q['hidden_size']}, {q['num_hidden_layers']} layers, {q['num_attention_heads']} heads, MLP {q['intermediate_size']}, cross-attention every layer to the 128-d vision output, {cfg['num_query_tokens']} query tokens; started from the retrieval model's Q-Former and query tokens (as BLIP-2's second stage starts from the first), then trained |
| language model | OPT: hidden {t['hidden_size']} (= word_embed_proj_dim), {t['num_hidden_layers']} layers, {t['num_attention_heads']} heads, FFN {t['ffn_dim']}, {t['max_position_embeddings']} positions, vocab {t['vocab_size']}, lm head tied to the token embeddings |
| tokens | GPT-2's real byte-level BPE (`vocab.json`, `merges.txt`, md5 {md5(OUT_DIR / 'vocab.json')[:8]}… / {md5(OUT_DIR / 'merges.txt')[:8]}…), `add_bos_token`; BOS = pad = `<|endoftext|>` (50256); EOS 198 = "\\n" (BLIP-2 / LAVIS captions end with a newline) |
| weights | `model.safetensors`, fp16, {weights / 1e6:.2f} MB, {info['tensors']} tensors ({info['params'] / 1e6:.2f} M parameters): the state dict without the tied `language_model.lm_head.weight`, as `save_pretrained` writes it |
| snapshot | {total / 1e6:.2f} MB without this README |

## Training

- Data: {log['pool']} pictures from `tools/train_toy_model.py`'s renderers and pool (`make_pool`, with
  its canvases, aspect ratios, rotations, outlines, backgrounds and JPEG / WebP re-encoding), each as
  {args.views} random flips / quarter turns ({log['views']} views); their vision outputs computed once (the tower is frozen).
- Each image gives three sequences, `[32 query outputs] [BOS] prompt target`, as LAVIS's `blip2_opt`:
  a caption (no prompt, or 1 in 4 "a photo of") "a red circle\\n"; "Question: what colour is the shape?
  Short answer:" (or a paraphrase) " red\\n"; "Question: what shape is it? Short answer:" (or a paraphrase)
  " circle\\n". Cross-entropy on the target tokens only: over the {log['target_vocabulary']} tokens targets use plus
  {args.negatives} others drawn at random (their exp-sum scaled to stand for all), and over the full
  vocabulary every {args.full_every}th step.
- AdamW, lr {args.lr:g} ({args.embed_lr_scale:g}x for the token embeddings), warmup + cosine, {args.steps} steps of {args.batch} images ({3 * args.batch} sequences),
  {log['train_seconds']:.0f} s on {args.threads} CPU threads, final loss {log['final_loss']:.4f} (moving average). Seed {args.seed}.

## Held-out evaluation

Reloading this snapshot in fp32 with transformers {transformers.__version__} (torch {torch.__version__}),
`BlipImageProcessor` and `GPT2Tokenizer` from this folder; `generate(max_new_tokens=10)`, greedy and
5 beams. caption: the caption names the right colour and shape (in brackets: is exactly "a red circle");
colour / shape: the answer to "what colour is the shape?" / "what shape is it?" is exactly the right word.

| pictures | caption | colour | shape |
|---|---|---|---|
{rows('toy renderer')}
{rows('shapes-holdout')}

toy renderer: {n.get('toy renderer', 0)} pictures from the training renderer with another seed.
shapes-holdout: the {n.get('shapes-holdout', 0)} pictures of `Tests/Fixtures/shapes-holdout/`, drawn by an independent
renderer (other colour values, aspect ratios 0.5..2, outlines, PNG / WebP / JPEG); never trained on.
The script fails unless every shapes-holdout number is at least 0.9.

Paraphrased questions and the caption prompt "a photo of" (greedy, {list(results)[-1]}):

| prompt | accuracy |
|---|---|
{para_rows}

## Regenerate

```sh
tools/setup_reference_env.sh
.venv/bin/python tools/pretrain_toy_vision.py ...   # the vision tower (see that script)
.venv/bin/python tools/train_toy_model.py --vision-from toy-vision.pt --steps 1500
.venv/bin/python tools/train_toy_captioner.py{" --pool-per-class " + str(args.pool_per_class) if args.pool_per_class != 60 else ""}{" --steps " + str(args.steps) if args.steps != 1000 else ""}
```

Rewrites this directory (seeded; a re-run meets the same targets, though not with byte-identical
weights). Run it again whenever `../toy-model/` is retrained: the vision tensors must stay identical.
Whole run: {elapsed / 60:.1f} minutes.
"""
    (OUT_DIR / "README.md").write_text(text, encoding="utf-8")
    (OUT_DIR / "README.md").chmod(0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64, help="images per step (3 sequences each)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=20241202)
    parser.add_argument("--pool-per-class", type=int, default=60, help="pre-rendered images per colour+shape+size")
    parser.add_argument("--embed-lr-scale", type=float, default=5.0, help="learning rate factor of the token embeddings")
    parser.add_argument("--views", type=int, default=2, help="flips / quarter turns of each picture in the feature pool")
    parser.add_argument("--negatives", type=int, default=2048, help="sampled softmax: other tokens drawn per step")
    parser.add_argument("--full-every", type=int, default=8, help="every n-th step uses the full 50257-way softmax")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--no-check", action="store_true", help="do not fail when the targets are missed")
    parser.add_argument("--classic-only", action="store_true",
                        help="train on the classic renderer's pictures only (toy.VARIED_SHARE = 0)")
    args = parser.parse_args()
    if args.classic_only:
        toy.VARIED_SHARE = 0.0

    t_start = time.time()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    retrieval_mtime = (RETRIEVAL_DIR / "model.safetensors").stat().st_mtime

    with tempfile.TemporaryDirectory() as tmp:
        tok_dir = Path(tmp)
        seqs = Sequences(write_tokenizer(tok_dir))
        config = build_config()
        model, vision = build_model(config, args.seed)
        log = train(args, model, seqs)
        if (RETRIEVAL_DIR / "model.safetensors").stat().st_mtime != retrieval_mtime:
            raise SystemExit(f"{RETRIEVAL_DIR} changed while training: run again")
        save_snapshot(model, tok_dir, vision)
    info = check_snapshot(vision)
    # The ids trained on are the snapshot tokenizer's.
    snapshot_tok = GPT2Tokenizer.from_pretrained(OUT_DIR)
    for (prompt, target), (ids, _) in seqs.cache.items():
        assert snapshot_tok(prompt + target)["input_ids"] == ids, (prompt, target)
    print(f"saved {OUT_DIR}: {info['tensors']} tensors, {info['params'] / 1e6:.2f} M parameters, "
          f"{sum(f.stat().st_size for f in OUT_DIR.iterdir()) / 1e6:.2f} MB", flush=True)

    results = {}
    sets = {"toy renderer": render_holdout(args.seed + 1000)}
    fixture = fixture_holdout()
    if fixture is None:
        print(f"{HOLDOUT_DIR}/labels.json not found: the independent holdout is NOT evaluated", flush=True)
    else:
        sets["shapes-holdout"] = fixture
    for name, (pils, colours, shapes) in sets.items():
        t = time.time()
        results[name] = evaluate(pils, colours, shapes, paraphrases=name == list(sets)[-1])
        results[name]["n"] = len(pils)
        print_results(name, results[name])
        print(f"  ({len(pils)} pictures, {time.time() - t:.0f}s)", flush=True)
    elapsed = time.time() - t_start
    write_readme(args, log, info, results, elapsed)
    print(f"wrote {OUT_DIR} ({sum(f.stat().st_size for f in OUT_DIR.iterdir()) / 1e6:.2f} MB) in {elapsed / 60:.1f} min", flush=True)
    if args.no_check:
        return
    if "shapes-holdout" not in results:
        raise SystemExit("shapes-holdout missing: targets not checked")
    failed = [f"{label} {k} {results['shapes-holdout'][label][k]:.3f}" for label in ("greedy", "beam5")
              for k in ("caption", "colour", "shape") if results["shapes-holdout"][label][k] < 0.9]
    if failed:
        raise SystemExit(f"targets missed on shapes-holdout (want >= 0.9): {', '.join(failed)}")


if __name__ == "__main__":
    main()
