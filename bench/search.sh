#!/usr/bin/env bash
# Vector search benchmark on synthetic BLIP-2-shaped embeddings (32 × 256-d per image):
# exact search at 10k and 100k images, and an approximate FAISS index (re-scored with fp32
# vectors) at 1M images, each with p50/p99 latency, build time, memory and recall@10
# against brute force. Takes about 15 minutes on 2 cores. One JSON line per run.
#
#   bench/search.sh [--quick]      # --quick: 10k and 100k only
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product SearchBenchmark >&2
run() { .build/release/SearchBenchmark --queries 30 "$@"; }

run --images 10000
run --images 100000
run --images 100000 --kind "PCA64,IVF1024,SQ8" --nprobe 32 --rescore 20
[ "${1:-}" = "--quick" ] && exit 0
# 1M images: 32M vectors; exact fp32 would need 33 GB, the int8 scan 8 GB. The approximate
# index keeps 64-d 8-bit codes (~80 bytes a vector) and re-scores 20 candidates per result.
run --images 1000000 --kind "PCA64,IVF1024,SQ8" --nprobe 32 --rescore 20
