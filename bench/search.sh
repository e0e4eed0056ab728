#!/usr/bin/env bash
# Vector search benchmark on synthetic BLIP-2-shaped embeddings (32 × 256-d per image):
# exact search at 10k and 100k images, and the approximate index (image-level lists, 4-bit
# residual codes, candidates re-scored with fp32 vectors) at 100k and 1M images, each with
# p50/p99 latency, build time, memory and recall@10 against brute force. About 30 minutes
# on 2 cores. One JSON line per run.
#
# Exact search is also measured on its worst case, search vectors near no topic (every
# image scores about the same, so its coarse pass rules nothing out: "read_in_full" 1), and
# with an image's 32 vectors, as `imgsearch query --image` searches, and under filters that
# keep 50 %, 1 % and 0.1 % of the images (as `query --after/--camera/…`), recall then being
# against brute force over the kept images.
#
#   bench/search.sh [--quick]      # --quick: 10k and 100k only
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product SearchBenchmark >&2
run() { .build/release/SearchBenchmark --queries 30 "$@"; }

run --images 10000
run --images 10000 --search unrelated
run --images 100000
run --images 100000 --search unrelated
run --images 100000 --search image --queries 10
run --images 100000 --kind approximate --rescore 20
# Filtered searches (query --after/--camera/…): the exact top K among the kept images.
for keep in 0.5 0.01 0.001; do
  run --images 10000 --keep "$keep"
  run --images 100000 --keep "$keep"
done
[ "${1:-}" = "--quick" ] && exit 0
# 1M images: 32M vectors; exact fp32 would need 33 GB, the exact int8 scan 8 GB. The
# approximate index keeps 64 bytes a vector (2.1 GB) and re-scores 20 candidates per result.
run --images 1000000 --kind approximate --rescore 20
