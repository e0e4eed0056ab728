#!/usr/bin/env bash
# Creates or updates .venv: the Python reference (transformers' BLIP-2) used by
# tools/make_*.py and bench/reference_embed.py. Not needed to build or test imgsearch:
# the fixtures it produces are committed under Tests/Fixtures/.
#
#   tools/setup_reference_env.sh          # idempotent; prints the versions it ends with
#
# torch comes from Debian (python3-torch; the venv sees it through --system-site-packages),
# so its BLAS is whatever Debian's libblas.so.3 alternative points at: install
# libopenblas0-openmp for usable CPU speed. Only PyPI is needed beyond that; nothing is
# downloaded from the Hugging Face hub.
set -euo pipefail

TRANSFORMERS_VERSION=4.46.3
SYSTEM_PYTHON=/usr/bin/python3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

"$ROOT/scripts/bootstrap" --with-reference >&2
if ! "$SYSTEM_PYTHON" -c 'import torch, PIL, numpy' 2>/dev/null; then
    echo "error: $SYSTEM_PYTHON cannot import torch, PIL and numpy." >&2
    exit 1
fi

# A venv made by another interpreter, or without system site packages, cannot see torch: redo it.
if [[ -x "$VENV/bin/python" ]] && ! grep -qx 'include-system-site-packages = true' "$VENV/pyvenv.cfg" 2>/dev/null; then
    echo "recreating $VENV (it does not include system site packages)"
    rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
fi
# Keep the venv out of git without touching the repository's .gitignore.
echo '*' > "$VENV/.gitignore"

if ! "$VENV/bin/python" -c "import transformers, sys; sys.exit(transformers.__version__ != '$TRANSFORMERS_VERSION')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "transformers==$TRANSFORMERS_VERSION" pillow
fi
# The captioning references: T5's slow tokenizer and its conversion to the fast one
# (sentencepiece, protobuf), and GPT-2's real BPE ranks (only the asset file of
# openai-whisper is read, so none of its dependencies is needed).
if ! "$VENV/bin/python" -c "import sentencepiece, google.protobuf, importlib.util, sys; sys.exit(importlib.util.find_spec('whisper') is None)" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check sentencepiece protobuf
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps openai-whisper
fi

"$VENV/bin/python" - <<'EOF'
import PIL, numpy, safetensors, tokenizers, torch, transformers
print(f"{__import__('sys').executable}: transformers {transformers.__version__}, torch {torch.__version__}, "
      f"numpy {numpy.__version__}, pillow {PIL.__version__}, safetensors {safetensors.__version__}")
EOF
