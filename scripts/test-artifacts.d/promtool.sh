#!/usr/bin/env bash
# Fetch promtool, the checker the rule and dashboard tests run: Debian's `prometheus` package carries it.
# The package is downloaded with `apt-get download` (this needs no root and installs nothing), unpacked with
# `dpkg-deb -x` into the cache, and the binary's sha256 recorded next to it. Idempotent: does nothing when
# the binary and its checksum exist.
# Usage: scripts/test-artifacts.d/promtool.sh [CACHE_DIR]   (default ~/.cache/llm-infra/test-artifacts)
# Prints the binary's path and sha256 as `KEY=VALUE` lines.
set -euo pipefail

CACHE_DIR="${1:-${LLM_INFRA_TEST_ARTIFACTS:-$HOME/.cache/llm-infra/test-artifacts}}"
dest="$CACHE_DIR/promtool"
bin="$dest/promtool"

if [ ! -s "$bin" ] || [ ! -s "$bin.sha256" ]; then
  mkdir -p "$dest"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt-get download writes into the current folder; run it in a folder the _apt user may not read,
  # which only costs a warning about the unsandboxed download.
  (cd "$work" && apt-get download --quiet prometheus >/dev/null 2>"$work/apt.log") || {
    cat "$work/apt.log" >&2
    echo "promtool: apt-get download prometheus failed" >&2
    exit 1
  }
  debs=("$work"/prometheus_*.deb)
  deb=${debs[0]}
  dpkg-deb -x "$deb" "$work/root"
  install -m 0755 "$work/root/usr/bin/promtool" "$bin.tmp"
  "$bin.tmp" --version >/dev/null
  mv "$bin.tmp" "$bin"
  basename "$deb" > "$dest/source-package"
  sha256sum "$bin" | cut -d' ' -f1 > "$bin.sha256"
fi

echo "PROMTOOL=$bin"
echo "PROMTOOL_SHA256=$(cat "$bin.sha256")"
