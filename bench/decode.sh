#!/usr/bin/env bash
# Image decode + preprocess throughput: imgsearch's C front end vs PIL + BlipImageProcessor.
#
#   bench/decode.sh [PASSES]
#
# Files: the large real JPEGs of Debian's plasma-workspace-wallpapers (12 photos at
# 2560x1600, 6 wallpapers at 5120x2880), fetched with apt-get download into bench/out/
# (gitignored) and unpacked with dpkg -x (nothing installed). Both sides preprocess the
# same files to 224x224 CHW float32, first on 1 thread (1 process for Python), then on all
# cores (a thread pool in C, a process pool in Python), and the ratio is printed.
# imgsearch runs as the Swift wrapper configures it (JPEG DCT scaling, min side 2*224)
# and in exact mode (full-size decode, bit-exact with PIL).
# Needs: cc, the -dev packages of scripts/bootstrap, and .venv (tools/setup_reference_env.sh).
set -euo pipefail

passes="${1:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/bench/out"
python="${PYTHON:-$root/.venv/bin/python}"
cores="$(nproc)"
"$root/bench/fetch-wallpapers.sh"
mapfile -t mid < <(find "$out/wallpapers" -type f -name 2560x1600.jpg | sort)
mapfile -t big < <(find "$out/wallpapers" -type f -name 5120x2880.jpg | sort)
echo "files: ${#mid[@]} JPEGs at 2560x1600, ${#big[@]} at 5120x2880; $cores cores; $passes passes"

src="$root/Sources/Embeddings/CImageDecode"
cc -O2 -std=gnu11 -pthread -I"$src/include" "$src"/*.c "$root/bench/decode_bench.c" \
  -o "$out/decode_bench" -ljpeg -lpng -lwebp -lwebpdemux -lheif -ltiff -lgif -lexif -lm

rate() { sed -n 's/.*images_per_s=\([0-9.]*\).*/\1/p'; }

bench_set() {
  local label="$1"; shift
  local t ours exact ref
  for t in 1 "$cores"; do
    ours="$("$out/decode_bench" -t "$t" -n "$passes" "$@" | rate)"
    exact="$("$out/decode_bench" -t "$t" -n "$passes" --exact "$@" | rate)"
    ref="$("$python" "$root/bench/decode_reference.py" --threads "$t" --passes 1 "$@" | rate)"
    printf "%-10s %2s thread(s): imgsearch %8.2f img/s   exact %8.2f img/s   PIL+BlipImageProcessor %7.2f img/s   ratio %5.1fx (exact %4.1fx)\n" \
      "$label" "$t" "$ours" "$exact" "$ref" \
      "$(awk -v a="$ours" -v b="$ref" 'BEGIN { print a / b }')" \
      "$(awk -v a="$exact" -v b="$ref" 'BEGIN { print a / b }')"
  done
}

bench_set 2560x1600 "${mid[@]}"
bench_set 5120x2880 "${big[@]}"
bench_set all "${mid[@]}" "${big[@]}"
