#!/usr/bin/env bash
# Run the real vLLM CPU server built by setup.sh, in the foreground (Ctrl-C or SIGTERM stops it in ≈ 4 s).
# Ready when GET /health answers 200 (≈ 40 s on 2 cores). ≈ 6 GiB RSS over 3 processes: one at a time.
# usage: infra/vllm-cpu/serve.sh PORT [vLLM arguments, e.g. --max-num-seqs 1]
#   environment: GUICHET_VLLM_HOME (set-up folder, default the one setup.sh prints), GUICHET_VLLM_SCRATCH (temp)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${1:?usage: serve.sh PORT [vLLM arguments]}; shift
VERSION=$(sed -n 's/^vllm-cpu==//p' "$HERE/requirements.txt")
HOME_DIR=${GUICHET_VLLM_HOME:-$HOME/.cache/guichet/vllm-cpu-$VERSION}
[ -f "$HOME_DIR/model/.converted" ] || { echo "vLLM CPU non installé dans $HOME_DIR : lancez make vllm-server" >&2; exit 2; }
SCRATCH=${GUICHET_VLLM_SCRATCH:-$(mktemp -d)}
mkdir -p "$SCRATCH"
# No hub, no usage report; a 1 GiB KV cache is plenty for a 512-token context (the default takes 4 GiB).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
  VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1} TMPDIR="$SCRATCH" VLLM_CACHE_ROOT="$SCRATCH/vllm"
exec "$HOME_DIR/venv/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$HOME_DIR/model" --served-model-name "${GUICHET_VLLM_MODEL_NAME:-gemma-3-270m-vllm}" \
  --host 127.0.0.1 --port "$PORT" --max-model-len 512 --dtype bfloat16 --enforce-eager "$@"
