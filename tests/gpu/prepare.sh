#!/usr/bin/env bash
# Prepare tests/gpu/ for the GPU machine, which has no network: Python 3.12 wheels of ansible-core and its
# dependencies, netaddr (ansible.utils' ip tests), gguf with numpy; the collections the role uses (copied from
# the project's venv, where the pinned `ansible` bundle carries them); the llama.cpp source archive.
# Run from a checkout with network access and the project venv:  bash tests/gpu/prepare.sh
# Nothing here is committed (see tests/gpu/.gitignore).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/gpu
PIP="${PIP:-.venv/bin/pip}"
PYTHON="${PYTHON:-.venv/bin/python}"
ANSIBLE_CORE_VERSION="$("$PYTHON" -c 'import ansible.release as r; print(r.__version__)')"
GGUF_VERSION="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("gguf"))')"
TARGET_PYTHON="${TARGET_PYTHON:-3.12}"

mkdir -p "$here/wheels" "$here/assets"
# Wheels for the target interpreter, not this one: binary only, for manylinux x86-64.
"$PIP" download --quiet --dest "$here/wheels" --only-binary=:all: --implementation cp \
  --python-version "$TARGET_PYTHON" --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  "ansible-core==$ANSIBLE_CORE_VERSION" netaddr "gguf==$GGUF_VERSION" nvidia-ml-py
# Wheels the GPU machine's Python already has are left out to keep what travels small (numpy alone is 16 MB).
for name in ${PROVIDED_WHEELS:-numpy}; do rm -f "$here/wheels/$name"-*.whl; done

# The collections the role's build and configure tasks call (ansible-core carries only ansible.builtin).
site="$("$PYTHON" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')"
tar -C "$site" -czf "$here/assets/collections.tar.gz" \
  ansible_collections/community/general ansible_collections/community/crypto ansible_collections/ansible/utils

# The llama.cpp source: the same archive the molecule scenario builds (scripts/test-artifacts.d/llama-cpp.sh).
bash scripts/test-artifacts.d/llama-cpp.sh "${LLM_INFRA_TEST_ARTIFACTS:-$HOME/.cache/llm-infra/test-artifacts}" > "$here/assets/llama-cpp.env"
# shellcheck disable=SC1091
. "$here/assets/llama-cpp.env"
cp "$LLAMA_CPP_SOURCE" "$here/assets/llama-cpp-src.tar.gz"
{
  echo "LLAMA_CPP_SOURCE_SHA256=$LLAMA_CPP_SOURCE_SHA256"
  echo "LLAMA_CPP_SOURCE_SUBDIR=$LLAMA_CPP_SOURCE_SUBDIR"
} > "$here/assets/source.env"
du -sh "$here/wheels" "$here/assets"
ls "$here/wheels"
