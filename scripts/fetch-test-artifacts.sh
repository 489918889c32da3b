#!/usr/bin/env bash
# Fetch the real artifacts the tests use (see each script under scripts/test-artifacts.d/).
# Every script is idempotent: it does nothing when its artifact and checksum are already cached.
# Usage: scripts/fetch-test-artifacts.sh [CACHE_DIR]   (default ~/.cache/llm-infra/test-artifacts)
# Prints `KEY=VALUE` lines (paths and sha256 of each artifact); tests read them from
# <CACHE_DIR>/artifacts.env.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${1:-${LLM_INFRA_TEST_ARTIFACTS:-$HOME/.cache/llm-infra/test-artifacts}}"
export PIP="${PIP:-$PWD/.venv/bin/pip}" PYTHON="${PYTHON:-$PWD/.venv/bin/python}"
mkdir -p "$CACHE_DIR"
env_file="$CACHE_DIR/artifacts.env"
: > "$env_file.tmp"
for script in scripts/test-artifacts.d/*.sh; do
  bash "$script" "$CACHE_DIR" | tee -a "$env_file.tmp"
done
mv "$env_file.tmp" "$env_file"
