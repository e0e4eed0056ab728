#!/usr/bin/env bash
# The shared vision pass: `imgsearch index --captions` (one vision pass feeds the embeddings
# and the captions) against the same work done separately, `imgsearch index` and then a
# caption pass over the embedded photos (`index --captions` again, which runs the vision tower
# a second time), on the same real photos (Debian's plasma wallpapers), same threads, with
# full-size random checkpoints of the blip2-itm-vit-g and blip2-opt-2.7b architectures whose
# vision encoders are identical (as the real ones are; their post_layernorms differ, as the
# real ones do). Greedy captions of --caption-tokens tokens (random weights never emit EOS).
#
#   bench/index_captions.sh [--count N] [--caption-tokens N]
#
# Needs ~20 GB of RAM (both models, file-backed) and the two checkpoints (made once, ~20 GB
# of disk in bench/out). Prints images/s of both ways, compute only and wall clock with
# model loads, and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
count=4
tokens=12
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    --caption-tokens) tokens=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
captioner=bench/out/blip2-opt-full-random
model=bench/out/blip2-itm-full-shared-vision
tools/setup_reference_env.sh >/dev/null
if [ ! -f "$captioner/config.json" ]; then
  (cd tools && ../.venv/bin/python make_full_caption_checkpoint.py "../$captioner")
fi
if [ ! -f "$model/config.json" ]; then
  (cd tools && ../.venv/bin/python make_full_checkpoint.py "../$model" --vision-from "../$captioner")
fi
bench/fetch-wallpapers.sh
swift build -c release --product imgsearch >&2

photos=bench/out/index-captions-photos
rm -rf "$photos" bench/out/index-captions-*.sqlite*
mkdir -p "$photos"
n=0
while IFS= read -r file; do
  n=$((n + 1))
  ln "$file" "$photos/$n.${file##*.}"
done < <(find bench/out/wallpapers -type f -name '*.jpg' | sort | head -n "$count")
echo "photos: $n JPEG files; $(nproc) cores; captions: greedy, $tokens tokens" >&2

index() {  # prints wall-clock ms, then the command's output
  local start=$(date +%s%N)
  local output
  output=$(.build/release/imgsearch index --model "$model" --device cpu --batch "$n" --timings "$@" "$photos" 2>bench/out/index-captions.log)
  echo "$(( ($(date +%s%N) - start) / 1000000 ))"
  echo "$output"
}
captions=(--captions "$captioner" --caption-beams 1 --caption-max-tokens "$tokens")
shared=$(index --db bench/out/index-captions-shared.sqlite "${captions[@]}")
grep -q "one vision pass serves both" bench/out/index-captions.log || { echo "the vision pass was not shared" >&2; exit 1; }
embedded=$(index --db bench/out/index-captions-separate.sqlite)
captioned=$(index --db bench/out/index-captions-separate.sqlite "${captions[@]}")
printf '%s\n' "shared:" "$shared" "separate, index:" "$embedded" "separate, captions:" "$captioned"

python3 - "$n" "$shared" "$embedded" "$captioned" <<'PY'
import re, sys
n = int(sys.argv[1])
def parse(text):
    lines = text.splitlines()
    stages = dict((k, float(v)) for k, v in re.findall(r"(\w+) ([\d.]+) s", next(l for l in lines if l.startswith("stages:"))))
    caption_pass = next((float(l.split()[2]) for l in lines if l.startswith("caption pass")), 0.0)
    return float(lines[0]) / 1000, stages, caption_pass
wall_s, stages_s, _ = parse(sys.argv[2])
wall_e, stages_e, _ = parse(sys.argv[3])
wall_c, _, caption_pass = parse(sys.argv[4])
work = ("prepare", "embed", "caption", "commit")
shared = sum(stages_s.get(k, 0) for k in work)
separate = sum(stages_e.get(k, 0) for k in work) + caption_pass
print(f"shared vision pass:  {n / shared:.3f} captioned+embedded images/s ({shared:.1f} s: embed {stages_s['embed']:.1f} s, caption {stages_s.get('caption', 0):.1f} s)")
print(f"separate:            {n / separate:.3f} images/s ({separate:.1f} s: index {sum(stages_e.get(k, 0) for k in work):.1f} s + caption pass {caption_pass:.1f} s)")
print(f"ratio (compute):     {separate / shared:.2f}x")
print(f"wall clock with model loads: shared {wall_s:.1f} s, separate {wall_e + wall_c:.1f} s, ratio {(wall_e + wall_c) / wall_s:.2f}x")
PY
