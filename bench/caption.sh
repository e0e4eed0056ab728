#!/usr/bin/env bash
# Captioning benchmark: imgsearch's native engine vs transformers' Blip2ForConditionalGeneration
# (blip2-opt-2.7b architecture, fp32), same pixels, same prompt, same threads, one after the other.
#
#   bench/caption.sh [--model DIR] [--new-tokens N] [--threads T]
#
# Default model: a full-size random-weight blip2-opt-2.7b checkpoint made by
# tools/make_full_caption_checkpoint.py in bench/out/blip2-opt-full-random (15 GB, made once).
# Prints both JSON reports, then time to first token, tokens/s and peak memory of each, their
# ratios, whether the greedy ids are identical, and the memory-bandwidth bound of a token.
set -euo pipefail
cd "$(dirname "$0")/.."

model=bench/out/blip2-opt-full-random
new_tokens=20
threads=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --new-tokens) new_tokens=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

tools/setup_reference_env.sh >/dev/null
mkdir -p bench/out
if [ ! -f "$model/config.json" ]; then
  echo "making a full-size random checkpoint in $model (once)" >&2
  (cd tools && ../.venv/bin/python make_full_caption_checkpoint.py "../$model")
fi
swift build -c release --product CaptionBenchmark >&2

pixels=bench/out/caption-pixels.f32
.venv/bin/python - "$model" "$pixels" <<'PY'
import json, sys
import numpy as np
size = json.load(open(f"{sys.argv[1]}/config.json")).get("vision_config", {}).get("image_size", 224)
rgb = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(1, 3, 1, 1)
std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(1, 3, 1, 1)
((rgb - mean) / std).astype("<f4").tofile(sys.argv[2])
PY

ours_json=bench/out/caption-imgsearch.json
ref_json=bench/out/caption-reference.json
# Ours first: it also prints the prompt ids (placeholders + BOS) the reference must get.
.build/release/CaptionBenchmark --model "$model" --pixels "$pixels" --threads "$threads" --new-tokens "$new_tokens" | tee "$ours_json"
prompt=$(python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["prompt"])))' "$ours_json")
.venv/bin/python bench/reference_caption.py --model "$model" --pixels "$pixels" --prompt-ids "$prompt" \
  --threads "$threads" --new-tokens "$new_tokens" | tee "$ref_json"

# This machine's memory bandwidth on the same threads: a sum over 2 GB of floats.
bandwidth=$(.venv/bin/python - "$threads" <<'PY'
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
x = torch.ones(512 * 1024 * 1024)
x.sum()
start = time.perf_counter()
for _ in range(5):
    x.sum()
print(f"{5 * x.numel() * 4 / (time.perf_counter() - start) / 1e9:.1f}")
PY
)

python3 - "$ours_json" "$ref_json" "$model" "$bandwidth" <<'PY'
import json, os, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
bandwidth = float(sys.argv[4])
weights = sum(os.path.getsize(os.path.join(sys.argv[3], f)) for f in os.listdir(sys.argv[3]) if f.endswith(".safetensors"))
print(f"time to first token: imgsearch {ours['first_token_seconds']:.2f} s (first call, paging the mapped weights in: "
      f"{ours['cold_first_token_seconds']:.2f} s after a {ours['load_seconds']:.1f} s load), "
      f"transformers {ref['first_token_seconds']:.2f} s (after a {ref['load_seconds']:.1f} s load)")
print(f"tokens/s: imgsearch {ours['tokens_per_s']:.3f}, transformers {ref['tokens_per_s']:.3f}, "
      f"ratio {ours['tokens_per_s'] / ref['tokens_per_s']:.2f}x (target >= 1.0)")
print(f"peak RSS: imgsearch {ours['peak_rss_mb']:.0f} MB (anonymous {ours.get('rss_anon_mb', 0):.0f} MB, "
      f"file-backed weights {ours.get('rss_file_mb', 0):.0f} MB), transformers {ref['peak_rss_mb']:.0f} MB; "
      f"ratio {ours['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x, anonymous only {ours.get('rss_anon_mb', 0) / ref['peak_rss_mb']:.2f}x (target <= 0.6)")
print(f"end to end, {ours['new_tokens']} tokens: imgsearch {ours['total_seconds']:.1f} s, transformers {ref['total_seconds']:.1f} s")
print(f"one caption with the default recipe (5 beams, up to 30 tokens): {ours['caption_recipe_seconds']:.1f} s "
      f"for {ours['caption_recipe_tokens']} tokens, weights already paged in")
print(f"greedy ids identical: {ours['ids'] == ref['ids']} ({len(ours['ids'])} new tokens)")
# A new token reads every language-model weight once (the vision tower runs once per image).
lm = weights * 2651.7 / 3745.0
print(f"bandwidth bound: {lm / 1e9:.1f} GB of language-model weights per token; at the measured "
      f"{ours['tokens_per_s']:.3f} tokens/s that is {lm * ours['tokens_per_s'] / 1e9:.1f} GB/s; this machine reads "
      f"{bandwidth:.1f} GB/s (a sum over 2 GB on the same threads): {lm * ours['tokens_per_s'] / 1e9 / bandwidth:.0%} of it")
PY
