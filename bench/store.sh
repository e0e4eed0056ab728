#!/usr/bin/env bash
# The PostgreSQL store against the SQLite catalog on the same synthetic library
# (bench/StoreBenchmark): insert rate, index build, query p50/p99, storage per image, and
# approximate recall@10 against exact. Starts its own two PostgreSQL servers
# (scripts/postgres), one store on one server and one sharded over both, and stops them.
#
#   bench/store.sh [IMAGES...]      # default: 10000
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product StoreBenchmark >&2
dir=$(mktemp -d /tmp/imgsearch-store-bench.XXXXXX)
trap 'scripts/postgres stop "$dir" >&2; rm -rf "$dir"' EXIT
scripts/postgres start "$dir" 2 >&2
eval "$(scripts/postgres env "$dir")"
psql() { "$IMGSEARCH_TEST_POSTGRES_BIN/psql" -X -q "$@"; }
# Room to build an HNSW graph in memory (PostgreSQL's default, 64 MB, builds 100k images' on disk).
for server in "$IMGSEARCH_TEST_POSTGRES" "$IMGSEARCH_TEST_POSTGRES_SHARD"; do
  psql "$server" -c "ALTER SYSTEM SET maintenance_work_mem = '4GB'" -c "SELECT pg_reload_conf()" > /dev/null
done
with_database() { echo "${1%/*}/$2"; }
for images in "${@:-10000}"; do
  one=$(with_database "$IMGSEARCH_TEST_POSTGRES" "bench_$images")
  psql "$IMGSEARCH_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS bench_$images" -c "CREATE DATABASE bench_$images"
  .build/release/StoreBenchmark --store "$one" --images "$images" --candidates 400,800,1600,3200
  # Sharded: half the vectors on the second server.
  coordinator=$(with_database "$IMGSEARCH_TEST_POSTGRES" "bench_sharded_$images")
  shard=$(with_database "$IMGSEARCH_TEST_POSTGRES_SHARD" "bench_shard_$images")
  psql "$IMGSEARCH_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS bench_sharded_$images" -c "CREATE DATABASE bench_sharded_$images"
  psql "$IMGSEARCH_TEST_POSTGRES_SHARD" -c "DROP DATABASE IF EXISTS bench_shard_$images" -c "CREATE DATABASE bench_shard_$images"
  .build/release/StoreBenchmark --store "$coordinator" --shard "$shard" --images "$images" --no-sqlite
done
