#!/usr/bin/env bash
# HTTP load test of `imgsearch daemon`: text searches from a second process (wrk, 2
# connections) against a catalog of N synthetic images (32 × 256-d vectors each, default
# 100k), with a tiny random checkpoint of the real embedding shape (bench/make_serve_model.py)
# so that the text encoder costs little and the scan of 3.2M vectors dominates. Prints
# queries/s and latency percentiles, and the reference: the same search as a one-shot
# `imgsearch query --no-daemon` (model load + cached index load + search), per query.
#
#   bench/serve.sh [IMAGES] [SECONDS] [CONNECTIONS]   # needs tools/setup_reference_env.sh (for the checkpoint) and wrk
#
# CONNECTIONS (default 2): concurrent wrk connections; KEEP_CATALOG=1 reuses the catalog of
# the last run (same IMAGES) instead of filling a new one; IMGSEARCH_BIN=PATH measures that
# binary instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${1:-100000}
SECONDS_OF_LOAD=${2:-30}
CONNECTIONS=${3:-2}
OUT=bench/out/serve
MODEL=bench/out/serve-model
command -v wrk >/dev/null || { echo "wrk missing: scripts/bootstrap --with-reference" >&2; exit 1; }
[ -f "$MODEL/model.safetensors" ] || .venv/bin/python bench/make_serve_model.py "$MODEL" >&2
# IMGSEARCH_BIN: another imgsearch binary to measure (e.g. an older build), used as it is.
if [ -z "${IMGSEARCH_BIN:-}" ]; then swift build -c release --product imgsearch >&2; fi
BIN=${IMGSEARCH_BIN:-.build/release/imgsearch}

DB="$OUT/catalog.sqlite"
if [ "${KEEP_CATALOG:-0}" != 1 ] || [ ! -f "$DB" ]; then
  swift build -c release --product SearchBenchmark >&2
  rm -rf "$OUT" && mkdir -p "$OUT/photos"
  "$BIN" index "$OUT/photos" --db "$DB" --model "$MODEL" >&2            # registers the model
  .build/release/SearchBenchmark --fill-catalog "$DB" --images "$IMAGES" >&2
fi
"$BIN" query "warm-up: builds and caches the index" --db "$DB" --model "$MODEL" --no-daemon --limit 1 >/dev/null

# Reference: one process per query, as a script calling the CLI would.
one_shot=()
for i in 1 2 3 4 5; do
  start=$(date +%s.%N)
  "$BIN" query "a dog running on a beach" --db "$DB" --model "$MODEL" --no-daemon --limit 20 >/dev/null
  one_shot+=("$(echo "$(date +%s.%N) - $start" | bc)")
done
one_shot_median=$(printf '%s\n' "${one_shot[@]}" | sort -n | sed -n 3p)

"$BIN" daemon "$OUT/photos" --db "$DB" --model "$MODEL" --listen 127.0.0.1:0 2>"$OUT/daemon.log" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null' EXIT
for _ in $(seq 1 600); do
  URL=$(python3 -c "import json,sys; print(json.load(open('$DB.daemon.json')).get('serverURL') or '')" 2>/dev/null || true)
  [ -n "$URL" ] && break
  sleep 0.2
done
[ -n "$URL" ] || { echo "the daemon did not start; see $OUT/daemon.log" >&2; exit 1; }
# Measure serving, not the start-up pass over the catalog's files: wait until it is done.
for _ in $(seq 1 600); do
  PASSES=$(python3 -c "import json; print(json.load(open('$DB.daemon.json')).get('passes', 0))" 2>/dev/null || echo 0)
  [ "$PASSES" -ge 1 ] && break
  sleep 0.5
done
curl -sf "$URL/api/search?q=warm+up" >/dev/null
RSS_MB=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$DAEMON/status)

wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_OF_LOAD}s" --latency -s bench/serve.lua "$URL" | tee "$OUT/wrk.txt" >&2
python3 - "$OUT/wrk.txt" "$IMAGES" "$one_shot_median" "$RSS_MB" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
qps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
one_shot = float(sys.argv[3])
print(json.dumps({
    "images": int(sys.argv[2]), "queries_per_second": qps,
    "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"),
    "errors": int(errors.group(1)) if errors else 0, "daemon_rss_mb": int(sys.argv[4]),
    "one_shot_cli_seconds": one_shot, "one_shot_vs_daemon_p50": round(one_shot * 1000 / ms("50%"), 1),
}))
PY
