#!/usr/bin/env bash
# The stages of `make test`, with their times: lint, argument specs and pytest in the foreground, while the engine,
# images, test artifacts and then the molecule scenarios run in the background; the sandbox follows once all have
# passed. A failed stage ends the run after the background stages finished; a table of stage times ends it always.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=tests/output
mkdir -p "$out"
make_cmd=(make --no-print-directory)
start=$(date +%s)
rows=()
failed=""

stage() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "=== stage $name"
  "$@"
  rc=$?
  rows+=("$(printf '%-14s %6d s  rc=%d' "$name" "$(( $(date +%s) - t0 ))" "$rc")")
  [ "$rc" -eq 0 ] || failed=$name
  return "$rc"
}

report() {
  echo
  echo "stage          seconds"
  printf '%s\n' "${rows[@]}"
  echo "total          $(( $(date +%s) - start )) s"
  if [ -n "$failed" ]; then
    echo "make test: stage $failed failed" >&2
    exit 1
  fi
}

stage venv "${make_cmd[@]}" venv || report

# In the background: the engine, images and artifacts, then the molecule scenarios in their lanes. The host side
# is mostly waiting on the network, the disk and services starting, so it shares the two processors with lint
# and pytest in the foreground instead of waiting for them.
bg_t0=$(date +%s)
rm -f "$out/background.failed" "$out/prepare.time" "$out/molecule.log"
(
  "${make_cmd[@]}" engine test-artifacts >"$out/prepare.log" 2>&1 || { echo prepare >"$out/background.failed"; exit 1; }
  echo "$(( $(date +%s) - bg_t0 ))" >"$out/prepare.time"
  "${make_cmd[@]}" molecule >"$out/molecule.log" 2>&1 || { echo molecule >"$out/background.failed"; exit 1; }
) &
bg_pid=$!
echo "=== stages prepare (engine, images, test artifacts) and molecule in the background: $out/prepare.log, $out/molecule.log"

# pytest's integration tests drive the sandbox role against the engine: they start once the engine is prepared.
wait_for_prepare() {
  while [ ! -f "$out/prepare.time" ] && [ ! -f "$out/background.failed" ] && kill -0 "$bg_pid" 2>/dev/null; do
    sleep 2
  done
}
stage lint "${make_cmd[@]}" lint && stage argspecs "${make_cmd[@]}" argspecs && wait_for_prepare \
  && stage unit "${make_cmd[@]}" unit
echo "=== waiting for the background stages (tail -f $out/molecule.log)"
wait "$bg_pid"
bg_rc=$?
bg_failed=$(cat "$out/background.failed" 2>/dev/null || true)
[ -f "$out/prepare.time" ] && rows+=("$(printf '%-14s %6d s  (background)' prepare "$(cat "$out/prepare.time")")")
rows+=("$(printf '%-14s %6d s  rc=%d (background, from the start, prepare included)' molecule "$(( $(date +%s) - bg_t0 ))" "$bg_rc")")
if [ -f "$out/molecule.log" ]; then
  sed -n '/^scenario /,$p' "$out/molecule.log"
fi
if [ "$bg_rc" -ne 0 ]; then
  [ "$bg_failed" = prepare ] && tail -40 "$out/prepare.log" >&2
  # The scenario table above already ends with each failed scenario's failed tasks; without it, the log's tail.
  [ "$bg_failed" = molecule ] && ! grep -q '^scenario ' "$out/molecule.log" && tail -80 "$out/molecule.log" >&2
  failed=${failed:-$bg_failed}
fi
[ -z "$failed" ] || report

stage sandbox "${make_cmd[@]}" sandbox-test || report
report
