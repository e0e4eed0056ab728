#!/usr/bin/env bash
# End-to-end indexing: `imgsearch index` vs the straightforward Python reference
# (bench/index_reference.py: PIL + BlipImageProcessor + transformers, one image at a time)
# on the same real photos (every JPEG and PNG file of Debian's plasma wallpapers, 720x1440 to
# 5120x2880; the package's other sizes are symbolic links, which the indexer skips) and the
# same small random checkpoint (Tests/Fixtures/models/tiny-a), same machine, all cores.
# The model is tiny on purpose: this measures the pipeline (decode, batching, commits),
# which is what dominates once a GPU does the embedding.
#
#   bench/index.sh [--model DIR] [--count N]
set -euo pipefail
cd "$(dirname "$0")/.."
model=Tests/Fixtures/models/tiny-a
count=200
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bench/fetch-wallpapers.sh
tools/setup_reference_env.sh >/dev/null
swift build -c release --product imgsearch >&2

photos=bench/out/index-photos
rm -rf "$photos" bench/out/index.sqlite*
mkdir -p "$photos"
n=0
while IFS= read -r file; do
  n=$((n + 1))
  ln "$file" "$photos/$n.${file##*.}"
done < <(find bench/out/wallpapers -type f \( -name '*.jpg' -o -name '*.png' \) | sort | head -n "$count")
echo "photos: $n JPEG/PNG files, $(du -sh "$photos" | cut -f1); $(nproc) cores" >&2

start=$(date +%s%N)
.build/release/imgsearch index --db bench/out/index.sqlite --model "$model" --device cpu --batch 16 --timings "$photos" 2>/dev/null
ours=$(( ($(date +%s%N) - start) / 1000000 ))  # ms
ref=$(.venv/bin/python bench/index_reference.py --model "$model" "$photos"/*)
echo "python reference: $ref"
python3 - "$n" "$ours" "$ref" <<'PY'
import json, sys
n, ours, ref = int(sys.argv[1]), float(sys.argv[2]) / 1000, json.loads(sys.argv[3])
print(f"imgsearch index: {n / ours:.1f} images/s ({ours:.1f} s, including model load and catalog writes)")
print(f"python reference: {ref['images_per_s']:.1f} images/s ({ref['seconds']:.1f} s, model load excluded)")
print(f"ratio: {n / ours / ref['images_per_s']:.2f}x")
PY
