#!/usr/bin/env bash
# Near-duplicate calibration on real photos: 331+ distinct pictures from Debian packages
# (fetch-photos.sh), each with eight made variants (make_photo_set.py: JPEG re-encodes at
# quality 90/70/50, resized to 50 % and 25 %, cropped by 10 %, turned 90° with an EXIF
# orientation, 10 % brighter), indexed with the bundled toy model (the perceptual level does
# not depend on the model), then `imgsearch duplicates --json` at several thresholds, scored
# against the folders (score.py): precision and recall over pairs of files. Then the 100k
# timing: bench/duplicates/scale.sh. About 10 minutes on 2 cores.
#
#   bench/duplicates/run.sh          # IMGSEARCH_BIN=path: use that binary instead of building
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out/duplicates
bench/duplicates/fetch-photos.sh
tools/setup_reference_env.sh >/dev/null
.venv/bin/python bench/duplicates/make_photo_set.py bench/out/packages "$out/photos" >&2
if [ -z "${IMGSEARCH_BIN:-}" ]; then
  swift build -c release --product imgsearch >&2
  IMGSEARCH_BIN=.build/release/imgsearch
fi
catalog="$out/catalog.sqlite"
"$IMGSEARCH_BIN" index --db "$catalog" --model Sources/imgsearch/Resources/toy-model "$out/photos" >&2
for threshold in 6 8 10 12 14; do
  start=$(date +%s.%N)
  "$IMGSEARCH_BIN" duplicates --db "$catalog" --threshold "$threshold" --json > "$out/groups-$threshold.jsonl"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  python3 bench/duplicates/score.py "$out/photos" "$out/groups-$threshold.jsonl" "perceptual, threshold $threshold (${seconds}s)"
done
