#!/usr/bin/env python3
"""Regenerates the captioning fixtures under Tests/Fixtures/generation/ and tokenizers/.

    tools/setup_reference_env.sh
    .venv/bin/python tools/make_generation_fixtures.py

Writes:
- tokenizers/gpt2/{vocab.json,merges.txt}: GPT-2's real byte-level BPE, rebuilt from the
  ranks that the PyPI package openai-whisper ships (whisper/assets/gpt2.tiktoken);
- tokenizers/sp-{en,ja}/spiece.model: the real unigram models of the sentencepiece sdist's
  tests (test/test_model.model, test/test_ja_model.model);
- tokenizer_cases_generation.json: >= 300 strings and their ids and decodes by transformers'
  slow and fast tokenizers (GPT2Tokenizer/-Fast, T5Tokenizer/-Fast);
- generation/<name>/: tiny random Blip2ForConditionalGeneration snapshots (OPT legacy and
  placeholder layouts, T5 with gelu and gelu_new; fp32, fp16, bf16, sharded) with their
  own tokenizers, pixels.f32 and expected.json: transformers 4.46.3's first-step logits
  and generate() token ids (greedy, beam search with length penalty, penalties, batched).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import base64
import json
import math
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import PIL.Image
import torch
import transformers
import transformers.generation.utils as generation_utils
from safetensors.torch import load_file, save_file
from torch import nn

from blip2_reference import FIXTURES, fetch_photos, image_processor

# Debian's torch 1.13 on Python 3.11: generate() imports torch.distributed.fsdp and fails.
generation_utils.is_fsdp_managed_module = lambda module: False

from transformers import (  # noqa: E402
    Blip2Config,
    Blip2ForConditionalGeneration,
    GPT2Tokenizer,
    GPT2TokenizerFast,
    T5Tokenizer,
    T5TokenizerFast,
)

TOKENIZERS = FIXTURES / "tokenizers"
GENERATION = FIXTURES / "generation"
SP_SDIST = "sentencepiece==0.2.0"

CORPUS = [
    "a woman sitting on the beach with a dog",
    "a photo of a cat sleeping on a red sofa",
    "two people riding bicycles down a city street",
    "Question: what is in the picture? Answer: a dog",
    "Question: how many people are there? Short answer: two",
    "a plate of food with rice and vegetables",
    "an astronaut standing next to a flag",
    "a cup of coffee on a wooden table",
    "the sun sets over the ocean and the mountains",
    "a man holding an umbrella in the rain",
]


# --------------------------------------------------------------------------- tokenizers


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def gpt2_files(dest: Path) -> None:
    """vocab.json + merges.txt from tiktoken ranks: each merge is the split BPE makes of a token."""
    import importlib.util

    # Only the asset file: importing whisper would need tiktoken and its model code.
    package = Path(importlib.util.find_spec("whisper").submodule_search_locations[0])
    ranks_path = package / "assets" / "gpt2.tiktoken"
    ranks: dict[bytes, int] = {}
    for line in ranks_path.read_text().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)

    def split(token: bytes, max_rank: int) -> list[bytes]:
        parts = [bytes([b]) for b in token]
        while True:
            best = None
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < max_rank and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                return parts
            i = best[1]
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]

    byte_map = bytes_to_unicode()
    as_text = lambda b: "".join(byte_map[x] for x in b)  # noqa: E731
    vocab = {as_text(token): rank for token, rank in ranks.items()}
    vocab["<|endoftext|>"] = len(ranks)
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) == 1:
            continue
        parts = split(token, rank)
        assert len(parts) == 2, (token, parts)
        merges.append(f"{as_text(parts[0])} {as_text(parts[1])}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")))
    (dest / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    # GPT2Tokenizer's own defaults (no BOS added); OPT's snapshots say otherwise.
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "add_bos_token": False, "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
    }, indent=2) + "\n")


def sentencepiece_test_models(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "--no-build-isolation", SP_SDIST, "-d", tmp],
            check=True,
        )
        (archive,) = Path(tmp).glob("sentencepiece-*.tar.gz")
        shutil.unpack_archive(str(archive), tmp)
        root = next(Path(tmp).glob("sentencepiece-*/test"))
        for name, source in (("sp-en", "test_model.model"), ("sp-ja", "test_ja_model.model")):
            (dest / name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / source, dest / name / "spiece.model")


def case_strings() -> list[str]:
    """Strings a tokenizer can get wrong, then random mixtures of them (fixed seed)."""
    fixed = [
        "", " ", "  ", "\n", "\t", "a", "A photo of", "a photo of a cat", "Question: which city is this? Answer:",
        "Question: how many people are there? Short answer:", "it's not a city, it's a beach",
        "I'm here, you're there, we've done it, they'll go, he'd say, she's", "'s 're 've 'm 'll 'd 't",
        "DON'T SHOUT", "hello   world", "hello \n\n world", "trailing spaces   ", "   leading spaces",
        "tabs\tand\nnewlines\r\n", "numbers 123 4567 3.14159 1e-9 -42", "١٢٣ ٤٥٦ arabic digits", "Ⅻ roman ½ fraction",
        "café naïve résumé", "straße Größe", "ﬁ ligature ﬀ", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "e\u0301 combining", "Å Å",
        "日本語のテキスト", "中文文本，标点。", "한국어 텍스트", "ไทย ภาษา", "Ελληνικά κείμενα", "Русский текст",
        "עברית טקסט", "العربية نص", "हिन्दी पाठ", "emoji 😀😃😄", "family 👨‍👩‍👧‍👦 zwj", "flags 🇫🇷🇯🇵",
        "skin 👍🏽", "keycap 1️⃣", "control \x00 \x01 \x1b \x7f", "\x1c\x1d\x1e\x1f separators", "zero\u200bwidth",
        "nbsp\u00a0here", "line\u2028sep", "ideographic\u3000space", "soft\u00adhyphen", "bom\ufeffmark",
        "<s> </s> <pad> <unk> specials", "a</s>b", "<image> token", "punctuation!!! ??? ... ---", "(parens) [brackets] {braces}",
        "email@example.com https://example.com/path?q=1", "#hashtag @mention $100 %50 ^caret &amp;",
        "C++ & Swift's `code` \"quotes\"", "‘curly’ “quotes” «guillemets»", "math ∑∫√∞≠≤", "→ arrows ← ↑ ↓",
        "a" * 300, "word " * 200, ("The quick brown fox jumps over the lazy dog. " * 40).strip(),
        "mixed日本語and English", "1st 2nd 3rd 4th", "CamelCaseWords and snake_case_words",
    ]
    pieces = [
        "photo", " of", " a", " dog", "  ", "\n", "\t", "日本", "😀", "é", "'s", "'ll", "123", "!", "?", " ",
        "Ω", "ß", "ﬁ", "\u200b", "\x01", "Ｆ", "ค", "é", "—", "…", "beach", " sunset", "über", "がんばって",
    ]
    rng = random.Random(20241201)
    mixed = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(330 - len(fixed))]
    return fixed + mixed


def tokenizer_cases(strings: list[str]) -> dict:
    gpt2_dir = TOKENIZERS / "gpt2"
    gpt2 = {
        "slow": GPT2Tokenizer(str(gpt2_dir / "vocab.json"), str(gpt2_dir / "merges.txt")),
        "fast": GPT2TokenizerFast(str(gpt2_dir / "vocab.json"), str(gpt2_dir / "merges.txt")),
    }
    result: dict = {"strings": strings, "gpt2": {}, "sp-en": {}, "sp-ja": {}}
    for kind, tok in gpt2.items():
        ids = [tok(s)["input_ids"] for s in strings]
        result["gpt2"][kind] = {"ids": ids, "decoded": [tok.decode(i, skip_special_tokens=True) for i in ids]}
    for name in ("sp-en", "sp-ja"):
        model = str(TOKENIZERS / name / "spiece.model")
        for kind, cls in (("slow", T5Tokenizer), ("fast", T5TokenizerFast)):
            tok = cls(model, legacy=True) if kind == "slow" else cls(vocab_file=model, legacy=True, from_slow=True)
            ids = [tok(s)["input_ids"] for s in strings]
            result[name][kind] = {"ids": ids, "decoded": [tok.decode(i, skip_special_tokens=True) for i in ids]}
    return result


def tiny_opt_tokenizer(dest: Path) -> GPT2Tokenizer:
    """A byte-level BPE trained on CORPUS with OPT's special tokens and tokenizer_config."""
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(CORPUS * 20, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                show_progress=False)
    trainer.save_model(str(dest))
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_prefix_space": False, "bos_token": "</s>", "eos_token": "</s>",
        "unk_token": "</s>", "pad_token": "<pad>", "errors": "replace", "tokenizer_class": "GPT2Tokenizer",
    }, indent=2) + "\n")
    return GPT2Tokenizer.from_pretrained(str(dest))


def tiny_t5_tokenizer(dest: Path) -> T5Tokenizer:
    """A unigram SentencePiece model trained on CORPUS with T5's ids (pad 0, eos 1, unk 2, no bos)."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.txt"
        text.write_text("\n".join(CORPUS * 5) + "\n")
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(Path(tmp) / "spiece"), vocab_size=80, model_type="unigram",
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, character_coverage=1.0,
            normalization_rule_name="nmt_nfkc", minloglevel=2,
        )
        shutil.copyfile(Path(tmp) / "spiece.model", dest / "spiece.model")
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": 100, "legacy": True,
        "tokenizer_class": "T5Tokenizer",
    }, indent=2) + "\n")
    return T5Tokenizer(str(dest / "spiece.model"), legacy=True)


# --------------------------------------------------------------------------- models

VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=28,
              patch_size=14)
QFORMER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, vocab_size=99,
               max_position_embeddings=64)


def opt_text_config(vocab: int, eos: int) -> dict:
    return dict(model_type="opt", vocab_size=vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                ffn_dim=32, max_position_embeddings=96, word_embed_proj_dim=16, eos_token_id=eos, bos_token_id=2,
                pad_token_id=1)


def t5_text_config(vocab: int, act: str | None) -> dict:
    config = dict(model_type="t5", vocab_size=vocab, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_decoder_layers=3,
                  num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=16,
                  feed_forward_proj="gated-gelu", decoder_start_token_id=0, eos_token_id=1, pad_token_id=0,
                  bos_token_id=1, tie_word_embeddings=False)
    if act:
        config["dense_act_fn"] = act
    return config


MODELS = {
    # OPT, queries prepended (no image_token_index), fp32, with an explicit (tied) lm_head copy.
    "opt-legacy": dict(seed=1, kind="opt", placeholder=False, dtype=torch.float32, shard=None, extra_copies=True),
    # OPT, 4 placeholders at the front, stored fp16 in two shards, tied head left out.
    "opt-placeholder": dict(seed=2, kind="opt", placeholder=True, dtype=torch.float16, shard="40KB", extra_copies=False),
    # Flan-T5 as BLIP-2 converts it (dense_act_fn gelu), fp32, queries prepended.
    "t5-gelu": dict(seed=3, kind="t5", act="gelu", placeholder=False, dtype=torch.float32, shard=None, extra_copies=False),
    # opt-legacy's weights with a token the model generates often as EOS: beams finish at
    # different lengths, so the length-penalized scores of finished hypotheses decide.
    "opt-eos": dict(seed=1, kind="opt", placeholder=False, dtype=torch.float32, shard=None, extra_copies=False, eos=26),
    # T5 without dense_act_fn (gated-gelu means gelu_new), bf16, placeholders, embed_tokens copies stored.
    "t5-gelu-new": dict(seed=4, kind="t5", act=None, placeholder=True, dtype=torch.bfloat16, shard=None, extra_copies=True),
}

PROMPTS = {"opt": ["", "a photo of"], "t5": ["", "Question: what is this? Answer:"]}
MIXED_PROMPTS = {"opt": ["a", "Question: how many dogs are there? Answer:"],
                 "t5": ["a", "Question: how many dogs are there? Answer:"]}


@torch.no_grad()
def randomize(model: nn.Module, seed: int) -> None:
    """Weights large enough that logits are not flat (the spec's pitfall): matrices
    N(0, 1.5/sqrt(fan_in)), embeddings N(0, 0.7), norms 1 + N(0, 0.1), biases N(0, 0.1)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        def normal(std, mean=0.0):
            p.copy_(torch.randn(p.shape, generator=g) * std + mean)
        if "norm" in name.lower() and p.dim() == 1:
            normal(0.1, 1.0 if name.endswith("weight") else 0.0)
        elif name == "query_tokens" or "embed" in name or name.endswith("shared.weight") or "relative_attention_bias" in name:
            normal(0.7)
        elif name.endswith("self_attn.qkv.bias"):
            h = p.shape[0] // 3
            normal(0.1)
            p[h:2 * h] = 0
        elif p.dim() >= 2:
            normal(1.5 / math.sqrt(math.prod(p.shape[1:])))
        else:
            normal(0.1)
    if hasattr(model.language_model, "lm_head") and model.config.text_config.model_type == "t5":
        model.language_model.lm_head.weight.copy_(torch.randn(model.language_model.lm_head.weight.shape, generator=g) * 0.7)


def prompt_rows(tokenizer, prompts: list[str], kind: str, placeholder: bool, queries: int, image_token: int):
    """The processor's layout: tokenizer output (left-padded for OPT), placeholders prepended."""
    tokenizer.padding_side = "left" if kind == "opt" else "right"
    encoded = tokenizer(prompts, padding=True, return_tensors="pt")
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    if placeholder:
        ids = torch.cat([torch.full((ids.shape[0], queries), image_token), ids], 1)
        mask = torch.cat([torch.ones(ids.shape[0], queries, dtype=mask.dtype), mask], 1)
    return ids, mask


def new_tokens(output: torch.Tensor, eos: int) -> list[list[int]]:
    """generate() output without its leading BOS / start token, cut after the first EOS."""
    rows = []
    for row in output[:, 1:].tolist():
        rows.append(row[: row.index(eos) + 1] if eos in row else row)
    return rows


def build_model(name: str, spec: dict, pixels: torch.Tensor) -> dict:
    out = GENERATION / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kind = spec["kind"]
    if kind == "opt":
        tokenizer = tiny_opt_tokenizer(out)
        eos = spec.get("eos", tokenizer.convert_tokens_to_ids("Ċ"))  # "\n", as the real OPT config's 50118
        image_token = len(tokenizer)  # the processor's added <image>
        text_config = opt_text_config(len(tokenizer) + 4, eos)
    else:
        tokenizer = tiny_t5_tokenizer(out)
        eos = 1
        image_token = len(tokenizer)
        text_config = t5_text_config(len(tokenizer) + 4, spec["act"])
    queries = 4
    config = Blip2Config(vision_config=VISION, qformer_config=QFORMER, text_config=text_config,
                         num_query_tokens=queries, image_token_index=image_token if spec["placeholder"] else None)
    torch.manual_seed(spec["seed"])
    model = Blip2ForConditionalGeneration(config).eval()
    randomize(model, spec["seed"])
    save_kwargs = {"safe_serialization": True}
    if spec["shard"]:
        save_kwargs["max_shard_size"] = spec["shard"]
    model.to(spec["dtype"]).save_pretrained(out, **save_kwargs)
    if spec["extra_copies"]:
        add_tied_copies(out, kind)
    (out / "processor_config.json").write_text(json.dumps({"num_query_tokens": queries, "processor_class": "Blip2Processor"}) + "\n")
    image_processor(VISION["image_size"]).save_pretrained(out)

    reference = Blip2ForConditionalGeneration.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager").eval()
    pixels.numpy().astype("<f4").tofile(out / "pixels.f32")
    expected: dict = {"eos_token_id": eos, "pad_token_id": text_config["pad_token_id"],
                      "image_token_index": image_token if spec["placeholder"] else None, "runs": []}

    def run(label: str, prompts: list[str], **generate_kwargs) -> None:
        ids, mask = prompt_rows(tokenizer, prompts, kind, spec["placeholder"], queries, image_token)
        with torch.no_grad():
            output = reference.generate(pixel_values=pixels, input_ids=ids, attention_mask=mask, **generate_kwargs)
        expected["runs"].append({"label": label, "prompts": prompts, "ids": ids.tolist(), "mask": mask.tolist(),
                                 "generate": generate_kwargs, "tokens": new_tokens(output, eos)})

    for prompt in PROMPTS[kind]:
        both = [prompt, prompt]
        run(f"greedy '{prompt}'", both, max_new_tokens=30, do_sample=False, num_beams=1)
        run(f"beam '{prompt}'", both, max_new_tokens=12, do_sample=False, num_beams=4, length_penalty=0.6)
        run(f"penalties '{prompt}'", both, max_new_tokens=12, do_sample=False, num_beams=3, length_penalty=-1.0,
            repetition_penalty=1.5, no_repeat_ngram_size=2, min_new_tokens=5)
    run("greedy mixed", MIXED_PROMPTS[kind], max_new_tokens=30, do_sample=False, num_beams=1)
    run("beam mixed", MIXED_PROMPTS[kind], max_new_tokens=12, do_sample=False, num_beams=4, length_penalty=2.0)

    # First-step logits (before any processor) of the second prompt.
    ids, mask = prompt_rows(tokenizer, [PROMPTS[kind][1]] * 2, kind, spec["placeholder"], queries, image_token)
    with torch.no_grad():
        if kind == "opt":
            logits = reference(pixel_values=pixels, input_ids=ids, attention_mask=mask).logits[:, -1, :]
        else:
            start = torch.zeros(2, 1, dtype=torch.long)
            logits = reference(pixel_values=pixels, input_ids=ids, attention_mask=mask, decoder_input_ids=start).logits[:, -1, :]
    expected["first_logits"] = {"ids": ids.tolist(), "mask": mask.tolist(), "logits": logits.tolist()}
    # Random models also pick the vocabulary's padding rows, which have no token: left out.
    expected["decoded"] = [tokenizer.decode([t for t in run["tokens"][0] if t < len(tokenizer)], skip_special_tokens=True)
                           for run in expected["runs"]]
    (out / "expected.json").write_text(json.dumps(expected) + "\n")
    return expected


def add_tied_copies(out: Path, kind: str) -> None:
    """Older files hold the tied tensors too: OPT's lm_head, T5's {encoder,decoder}.embed_tokens."""
    path = out / "model.safetensors"
    tensors = load_file(path)
    if kind == "opt":
        tensors["language_model.lm_head.weight"] = tensors["language_model.model.decoder.embed_tokens.weight"].clone()
    else:
        for stack in ("encoder", "decoder"):
            tensors[f"language_model.{stack}.embed_tokens.weight"] = tensors["language_model.shared.weight"].clone()
    save_file(tensors, path, metadata={"format": "pt"})


def main() -> None:
    torch.set_num_threads(1)
    assert transformers.__version__ == "4.46.3", transformers.__version__
    TOKENIZERS.mkdir(parents=True, exist_ok=True)
    gpt2_files(TOKENIZERS / "gpt2")
    sentencepiece_test_models(TOKENIZERS)
    cases = tokenizer_cases(case_strings())
    (FIXTURES / "tokenizer_cases_generation.json").write_text(json.dumps(cases, ensure_ascii=False) + "\n")

    photos = fetch_photos(FIXTURES / "images")
    processor = image_processor(VISION["image_size"])
    images = [PIL.Image.open(p).convert("RGB") for p in photos[:2]]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(torch.float32)
    for name, spec in MODELS.items():
        expected = build_model(name, spec, pixels)
        print(name, [run["tokens"][0][:8] for run in expected["runs"][:3]])


if __name__ == "__main__":
    main()
