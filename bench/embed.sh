#!/usr/bin/env bash
# Image-embedding benchmark: imgsearch's native engine vs transformers' Blip2ForImageTextRetrieval,
# same checkpoint, same batch of pixels, same thread count, same machine, one after the other.
#
#   bench/embed.sh [--model DIR] [--batch B] [--threads N] [--runs R]
#
# Default model: a full-size random-weight blip2-itm-vit-g checkpoint made by
# tools/make_full_checkpoint.py in bench/out/blip2-full-random (4.7 GB, made once).
# Prints both JSON reports, then images/s of each, their ratio and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."

model=bench/out/blip2-full-random
batch=4
threads=$(nproc)
runs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

tools/setup_reference_env.sh >/dev/null
mkdir -p bench/out
if [ ! -f "$model/config.json" ]; then
  echo "making a full-size random checkpoint in $model (once)" >&2
  .venv/bin/python tools/make_full_checkpoint.py "$model"
fi
swift build -c release --product EmbedBenchmark >&2

pixels=bench/out/pixels-$batch.f32
ref_json=bench/out/reference.json
ours_json=bench/out/imgsearch.json
.venv/bin/python bench/reference_embed.py --model "$model" --random "$batch" --save-pixels "$pixels" \
  --threads "$threads" --runs "$runs" --embeddings-out bench/out/reference-embeddings.f32 | tee "$ref_json"
.build/release/EmbedBenchmark --model "$model" --pixels "$pixels" --threads "$threads" --runs "$runs" \
  --embeddings-out bench/out/imgsearch-embeddings.f32 | tee "$ours_json"

.venv/bin/python - "$ref_json" "$ours_json" <<'PY'
import json, sys
import numpy as np
ref, ours = (json.load(open(p)) for p in sys.argv[1:3])
a = np.fromfile("bench/out/reference-embeddings.f32", dtype="<f4")
b = np.fromfile("bench/out/imgsearch-embeddings.f32", dtype="<f4")
print(f"transformers: {ref['images_per_s']:.4f} images/s, peak RSS {ref['peak_rss_mb']:.0f} MB, load {ref['load_seconds']:.1f} s")
print(f"imgsearch:    {ours['images_per_s']:.4f} images/s, peak RSS {ours['peak_rss_mb']:.0f} MB, load {ours['load_seconds']:.1f} s")
print(f"speed ratio imgsearch/transformers: {ours['images_per_s'] / ref['images_per_s']:.3f}")
print(f"peak memory ratio imgsearch/transformers: {ours['peak_rss_mb'] / ref['peak_rss_mb']:.3f}")
print(f"max |difference| of embeddings: {np.abs(a - b).max():.2e}")
PY
