#!/usr/bin/env bash
# GPU check of imgsearch's native BLIP-2 engine, on a machine with an NVIDIA GPU, a CUDA
# toolkit (nvcc), cmake, a C++ compiler and a pip torch 2.x; no Swift and no network needed.
#
#   bash tools/gpu/run.sh            # from anywhere; writes logs to $OUT (default /tmp/blip2-gpu-out)
#
# In order:
#   1. builds Sources/Embeddings/CBlip2 + tools/gpu/blip2_gpu_check.cpp against the torch that
#      python3 imports (find_package(Torch), Release, -j16; a plain g++ build if cmake fails),
#      while a random full-size blip2-itm-vit-g checkpoint (fp16, 2.3 GB) is written in the
#      background (tools/gpu/full_model.py, plain torch);
#   2. parity on every Tests/Fixtures/models/* against transformers' reference outputs, on the
#      CPU and CUDA, fp32/fp16/bf16 (fp32 must be within 1e-4, fp16/bf16 within a 0.1 sanity bound);
#   3. throughput of blip2_embed_images on CUDA at batch 32 and 64 in fp16, bf16 and fp32, and
#      the same-run PyTorch eager references (tools/gpu/full_model.py bench);
#   4. a summary. Exit status: 1 when parity fails (or nothing could be built), else 0.
#
# Environment: OUT, BUILD_DIR, WORK_DIR, PYTHON, RUN_DEADLINE (seconds for the whole script,
# default 380: later stages are cut short to print the summary in time), NLOHMANN_JSON_INCLUDE.
# TEST_TINY=1 tests this script on a CPU-only machine: a tiny checkpoint, throughput on the CPU.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT=${OUT:-/tmp/blip2-gpu-out}
BUILD=${BUILD_DIR:-/tmp/blip2-gpu-build}
WORK=${WORK_DIR:-/tmp/blip2-gpu-work}
PY=${PYTHON:-python3}
DEADLINE=${RUN_DEADLINE:-380}
mkdir -p "$OUT" "$BUILD" "$WORK"
exec > >(tee "$OUT/run.log") 2>&1
trap 'sleep 1' EXIT  # let tee finish writing
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( DEADLINE - $(date +%s) + START )); }
stage() { echo; echo "=== [$(elapsed)s] $*"; }
export PYTHONUNBUFFERED=1

stage "environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' || exit 1
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_ROOT=$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
    if [ -x "$d/nvcc" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
if command -v nvcc >/dev/null; then
  export CUDACXX=${CUDACXX:-$(command -v nvcc)}
  echo "nvcc: $CUDACXX ($(nvcc --version | tail -1))"
else
  echo "nvcc: not found (torch's CMake config may fail; the g++ fallback does not need it)"
fi
NLOHMANN=""
for d in "${NLOHMANN_JSON_INCLUDE:-}" /usr/include /usr/local/include "$TORCH_ROOT/include" "$ROOT/.gpu-deps/include"; do
  if [ -n "$d" ] && [ -f "$d/nlohmann/json.hpp" ]; then NLOHMANN=$d; break; fi
done
echo "nlohmann/json.hpp: ${NLOHMANN:-NOT FOUND}"
echo "cmake: $(cmake --version | head -1); c++: $(c++ --version | head -1); cores: $(nproc)"

CHECKPOINT="$WORK/blip2-full-random"
PIXELS="$WORK/pixels-64.f32"
BENCH_DEVICE=cuda
CHECKPOINT_ARGS=(--dtype fp16 --device cuda)
PIXEL_ARGS=(--count 64)
if [ "${TEST_TINY:-0}" = 1 ]; then
  CHECKPOINT="$WORK/tiny-random"; PIXELS="$WORK/pixels-tiny.f32"; BENCH_DEVICE=cpu
  CHECKPOINT_ARGS=(--dtype fp32 --device cpu --like Tests/Fixtures/models/tiny-b)
  PIXEL_ARGS=(--count 64 --size 42)
fi
have_checkpoint=0
[ -f "$CHECKPOINT/model.safetensors" ] && [ -f "$PIXELS" ] && have_checkpoint=1
if [ $have_checkpoint = 0 ]; then
  ( "$PY" tools/gpu/full_model.py make-checkpoint "$CHECKPOINT" "${CHECKPOINT_ARGS[@]}" &&
    "$PY" tools/gpu/full_model.py pixels "$PIXELS" "${PIXEL_ARGS[@]}" ) > "$OUT/checkpoint.log" 2>&1 &
  CHECKPOINT_PID=$!
fi

stage "build (cmake, find_package(Torch) from $TORCH_PREFIX)"
BIN=""
if cmake -S tools/gpu -B "$BUILD/cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
      -DNLOHMANN_JSON_INCLUDE="$NLOHMANN" > "$OUT/build.log" 2>&1 &&
   cmake --build "$BUILD/cmake" -j16 >> "$OUT/build.log" 2>&1; then
  BIN="$BUILD/cmake/blip2_gpu_check"
  grep -E "libtorch |HAVE_TF32|Found CUDA|CUDA detected" "$OUT/build.log" | head -5
else
  tail -25 "$OUT/build.log"
  stage "cmake build failed: plain g++ build against $TORCH_ROOT"
  ABI=$("$PY" -c 'import torch; print(int(torch.compiled_with_cxx11_abi()))')
  FB="$BUILD/gxx"; mkdir -p "$FB"
  FLAGS=(-O2 -std=c++20 -D_GLIBCXX_USE_CXX11_ABI="$ABI" -Wno-deprecated-declarations
         -I"$TORCH_ROOT/include" -I"$TORCH_ROOT/include/torch/csrc/api/include"
         -ISources/Embeddings/CBlip2/include ${NLOHMANN:+-I"$NLOHMANN"})
  pids=()
  for f in Sources/Embeddings/CBlip2/*.cpp tools/gpu/blip2_gpu_check.cpp; do
    c++ "${FLAGS[@]}" -c "$f" -o "$FB/$(basename "$f" .cpp).o" >> "$OUT/build.log" 2>&1 & pids+=($!)
  done
  ok=1; for p in "${pids[@]}"; do wait "$p" || ok=0; done
  if [ $ok = 1 ] && c++ -o "$FB/blip2_gpu_check" "$FB"/*.o -L"$TORCH_ROOT/lib" -Wl,-rpath,"$TORCH_ROOT/lib" \
       -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -ltorch -ltorch_cpu -lc10 -Wl,--as-needed -ldl -lpthread \
       >> "$OUT/build.log" 2>&1; then
    BIN="$FB/blip2_gpu_check"
  else
    tail -25 "$OUT/build.log"
  fi
fi
if [ -z "$BIN" ]; then
  echo "BUILD FAILED"
  [ -n "${CHECKPOINT_PID:-}" ] && kill "$CHECKPOINT_PID" 2>/dev/null
  exit 1
fi
echo "built $BIN at $(elapsed)s"

stage "parity: Tests/Fixtures/models/* on cpu and cuda, fp32/fp16/bf16"
# The table goes to parity.txt and is printed once, in the summary.
timeout $(( $(left) > 60 ? 150 : 60 )) "$BIN" parity --devices cpu,cuda --tolerance 1e-4 --loose 0.1 \
  Tests/Fixtures/models/*/ > "$OUT/parity.txt" 2>&1
PARITY_RC=$?
grep -E "^parity:" "$OUT/parity.txt" || tail -5 "$OUT/parity.txt"
echo "parity exit status: $PARITY_RC"

if [ -n "${CHECKPOINT_PID:-}" ]; then
  stage "waiting for the full-size checkpoint"
  wait "$CHECKPOINT_PID" && have_checkpoint=1
  cat "$OUT/checkpoint.log"
fi

: > "$OUT/bench.txt"
if [ $have_checkpoint = 1 ]; then
  stage "throughput: imgsearch engine (blip2_embed_images), cuda, full-size random blip2-itm-vit-g"
  for precision in fp16 bf16 fp32; do
    if [ "$(left)" -lt 60 ]; then echo "skipping engine $precision: out of time"; continue; fi
    if [ $precision = fp32 ]; then warm=1; iters=3; else warm=3; iters=10; fi
    timeout 120 "$BIN" bench --model "$CHECKPOINT" --device $BENCH_DEVICE --precision $precision --batches 32,64 \
      --warmup $warm --iters $iters --pixels "$PIXELS" --embeddings-out "$WORK/engine-$precision.f32" \
      >> "$OUT/bench.txt" 2>&1
    echo "engine $precision: exit $? at $(elapsed)s"
  done
  grep -E "^engine:" "$OUT/bench.txt"

  budget=$(( $(left) - 20 ))
  if [ $budget -gt 30 ]; then
    stage "throughput: same-run PyTorch references (eager: matmul+softmax attention; sdpa: fused, as the engine on libtorch >= 2.1; transformers if installed), ${budget}s left"
    timeout $budget "$PY" tools/gpu/full_model.py bench --model "$CHECKPOINT" --pixels "$PIXELS" --device $BENCH_DEVICE \
      --precisions fp16,bf16,fp32 --batches 32,64 --impls eager,sdpa,transformers \
      --warmup 3 --iters 10 --fp32-warmup 1 --fp32-iters 3 --engine-embeddings "$WORK/engine" \
      >> "$OUT/bench.txt" 2>&1
    echo "references: exit $? at $(elapsed)s"
  else
    echo "skipping the PyTorch references: out of time"
  fi
else
  echo "no full-size checkpoint: throughput skipped"
fi

stage "summary"
cat "$OUT/parity.txt"
nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | sed 's/^/GPU: /'
"$PY" tools/gpu/full_model.py summary "$OUT/bench.txt" || true
echo "total $(elapsed)s"
if [ "$PARITY_RC" != 0 ]; then
  echo "RESULT: PARITY FAILED"
  exit 1
fi
echo "RESULT: parity passed"
exit 0
