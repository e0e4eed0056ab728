#!/usr/bin/env python3
"""Reference captioning speed and memory: transformers' Blip2ForConditionalGeneration, fp32.

    .venv/bin/python bench/reference_caption.py --model DIR --pixels FILE --prompt-ids 50265,...,2 [--new-tokens N]

Greedy decoding as generate(max_new_tokens=N) does it, on the same pixels and prompt ids
as bench/CaptionBenchmark: a 1-token run (time to first token) then an N-token run;
tokens/s over the N-1 tokens after the first. Prints one JSON line with the new ids.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True

import argparse
import json
import resource
import time

import numpy as np
import torch
import transformers
import transformers.generation.utils as generation_utils
from transformers import Blip2ForConditionalGeneration

# Debian's torch 1.13 on Python 3.11: generate() imports torch.distributed.fsdp and fails.
generation_utils.is_fsdp_managed_module = lambda module: False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--pixels", required=True)
    parser.add_argument("--prompt-ids", required=True)
    parser.add_argument("--new-tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    model = Blip2ForConditionalGeneration.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    load_seconds = time.perf_counter() - start
    size = model.config.vision_config.image_size
    pixels = torch.from_numpy(np.fromfile(args.pixels, dtype="<f4").reshape(1, 3, size, size))
    ids = torch.tensor([[int(i) for i in args.prompt_ids.split(",")]])
    mask = torch.ones_like(ids)

    def run(tokens: int) -> tuple[float, list[int]]:
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=mask, max_new_tokens=tokens,
                                 do_sample=False, num_beams=1)
        return time.perf_counter() - start, out[0, 1:].tolist()  # 4.46: BOS, then the new tokens

    first, _ = run(1)
    total, new = run(args.new_tokens)
    eos = model.config.text_config.eos_token_id
    new = new[: new.index(eos) + 1] if eos in new else new
    print(json.dumps({
        "load_seconds": load_seconds, "first_token_seconds": first, "total_seconds": total, "new_tokens": len(new),
        "tokens_per_s": (len(new) - 1) / max(total - first, 1e-9), "ids": new, "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
