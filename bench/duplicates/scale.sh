#!/usr/bin/env bash
# Near-duplicate grouping at scale on synthetic catalogs (bench/DuplicatesBenchmark): the
# perceptual level alone and both levels (with --scene's BLIP-2 embeddings) at 10k images,
# checked pair by pair against a plain brute-force loop, and at 100k (a 3.3 GB catalog, kept
# in bench/out/ for reruns). One JSON line each. About 10 minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product DuplicatesBenchmark >&2
.build/release/DuplicatesBenchmark --images 10000 --check
.build/release/DuplicatesBenchmark --images 100000
