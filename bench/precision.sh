#!/usr/bin/env bash
# CPU precisions against fp32 (issue 19): images/s, peak resident memory and accuracy of
# `--precision bf16` and `--precision int8`, each in its own process (so peak RSS is its
# own), same batch of real photos, same threads, one after the other.
#
#   bench/precision.sh [--model DIR] [--count N] [--threads T] [--runs R]
#
# Default model: the full-size random-weight blip2-itm-vit-g checkpoint that
# tools/make_full_checkpoint.py makes (4.4 GB, fp32, made once). Accuracy is the cosine of
# each of the 32 query vectors of each photo against fp32's; random weights lack the
# outlier channels of trained ones (see README, "Precision on the CPU").
set -euo pipefail
cd "$(dirname "$0")/.."

model=bench/out/blip2-itm-full-shared-vision
count=8
threads=$(nproc)
runs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

tools/setup_reference_env.sh >/dev/null
bench/fetch-wallpapers.sh >/dev/null
mkdir -p bench/out/precision
if [ ! -f "$model/config.json" ]; then
  echo "making a full-size random checkpoint in $model (once)" >&2
  .venv/bin/python tools/make_full_checkpoint.py "$model"
fi
swift build -c release --product EmbedBenchmark >&2

pixels=bench/out/precision/pixels-$count.f32
.venv/bin/python bench/precision_pixels.py --model "$model" --count "$count" --out "$pixels" >&2
for precision in fp32 bf16 int8; do
  .build/release/EmbedBenchmark --model "$model" --pixels "$pixels" --threads "$threads" --runs "$runs" \
    --precision "$precision" --embeddings-out "bench/out/precision/$precision.f32" | tee "bench/out/precision/$precision.json"
done

.venv/bin/python - "$count" <<'PY'
import json, sys
import numpy as np
count = int(sys.argv[1])
out = "bench/out/precision"
reports = {p: json.load(open(f"{out}/{p}.json")) for p in ("fp32", "bf16", "int8")}
vectors = {p: np.fromfile(f"{out}/{p}.f32", dtype="<f4").reshape(count, -1, 256) for p in reports}
base = reports["fp32"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX-VNNI" if "avx_vnni" in flags else "AVX2" if "avx2" in flags else "no AVX2"
print(f"{cpu} ({isa}); {count} real photos, batch {base['batch']}, {base['threads']} threads, BLAS {base['blas']}")
print(f"fp32: {base['images_per_s']:.4f} images/s, peak RSS {base['peak_rss_mb']:.0f} MB, load {base['load_seconds']:.1f} s")
for p in ("bf16", "int8"):
    r = reports[p]
    cosine = (vectors[p] * vectors["fp32"]).sum(-1)
    print(f"{p}: {r['images_per_s']:.4f} images/s = {r['images_per_s'] / base['images_per_s']:.2f}x fp32 "
          f"(time per image {base['images_per_s'] / r['images_per_s']:.2f}x), "
          f"peak RSS {r['peak_rss_mb']:.0f} MB = {r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x fp32, "
          f"load {r['load_seconds']:.1f} s, per-query cosine to fp32 mean {cosine.mean():.6f} min {cosine.min():.6f}")
PY
