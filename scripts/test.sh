#!/usr/bin/env bash
# The stages of `make test`, with their times. In the foreground: lint, argument specs, pytest and then the sandbox
# stage; in the background meanwhile: the engine, images and test artifacts, then the molecule lanes. The scenarios
# that measure timing (MOLECULE_EXCLUSIVE of scripts/run-scenarios.sh: the gateway) run last, alone on the
# machine. A failed stage fails the run, but every stage that does not depend on it still runs, so one run reports
# every failure; a table of stage times ends it always.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=tests/output
mkdir -p "$out"
make_cmd=(make --no-print-directory)
start=$(date +%s)
rows=()
failed=""

# Each finished stage's row also goes to $out/stages.txt, which the watchdog below reads.
: >"$out/stages.txt"
add_row() {
  rows+=("$1")
  printf '%s\n' "$1" >>"$out/stages.txt"
}

stage() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "=== [$(( t0 - start ))s] stage $name"
  "$@"
  rc=$?
  add_row "$(printf '%-14s %6d s  rc=%d' "$name" "$(( $(date +%s) - t0 ))" "$rc")"
  [ "$rc" -eq 0 ] || failed="${failed:+$failed }$name"
  return "$rc"
}

# A stage whose output goes to a log of its own ($out/NAME.log); on failure its last lines are printed.
to_log() {
  local name=$1 rc
  shift
  echo "(log: $out/$name.log)"
  "$@" >"$out/$name.log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "=== last lines of $out/$name.log"
    tail -60 "$out/$name.log"
  fi
  return "$rc"
}

# TEST_REPORT_AFTER_S (set by .ci/run below CI's limit): when the run is still going after that many seconds, print
# where it stands (the stages done, the lanes' starts and ends, the last lines of each scenario still running), so
# that a run stopped from outside still says what took the time. The run itself goes on.
if [ -n "${TEST_REPORT_AFTER_S:-}" ]; then
  (
    # The sleep holds none of the run's outputs: killed with its shell at the end, it must not keep a pipe open.
    sleep "$TEST_REPORT_AFTER_S" >/dev/null 2>&1
    echo
    echo "=== still running after ${TEST_REPORT_AFTER_S} s; stages done:"
    cat "$out/stages.txt"
    for log in "$out/molecule.log" "$out/molecule-exclusive.log"; do
      [ -f "$log" ] && grep -E '^\[ *[0-9]+s\]' "$log"
    done
    for log in "$out"/molecule/*.log; do
      [ -f "$log" ] && [ ! -f "${log%.log}.time" ] || continue
      echo "=== $log (running), last lines:"
      tail -8 "$log"
    done
  ) &
  watchdog_pid=$!
  trap 'kill "$watchdog_pid" 2>/dev/null' EXIT
fi

report() {
  echo
  echo "stage          seconds"
  printf '%s\n' "${rows[@]}"
  echo "total          $(( $(date +%s) - start )) s"
  if [ -n "$failed" ]; then
    echo "make test: failed: $failed" >&2
    exit 1
  fi
}

stage venv "${make_cmd[@]}" venv || report

# In the background: the engine, images and artifacts, then the molecule lanes. The host side is mostly waiting on
# the network, the disk and services starting, so it shares the two processors with the foreground instead of
# waiting for it.
bg_t0=$(date +%s)
rm -f "$out/background.failed" "$out/prepare.time" "$out/molecule.log" "$out/molecule-exclusive.log"
# Once the foreground stages are done, the lanes get one more (scripts/run-scenarios.sh reads this file): the
# processor time lint, pytest and the sandbox held goes to the scenarios still queued. TEST_EXTRA_LANE=0 keeps two.
lanes_file="$PWD/$out/molecule-lanes"
rm -f "$lanes_file"
export MOLECULE_LANES_FILE="$lanes_file"
(
  "${make_cmd[@]}" engine test-artifacts >"$out/prepare.log" 2>&1 || { echo prepare >"$out/background.failed"; exit 1; }
  echo "$(( $(date +%s) - bg_t0 ))" >"$out/prepare.time"
  MOLECULE_PART=lanes "${make_cmd[@]}" molecule >"$out/molecule.log" 2>&1 || { echo molecule >"$out/background.failed"; exit 1; }
) &
bg_pid=$!
echo "=== stages prepare (engine, images, test artifacts) and molecule in the background: $out/prepare.log, $out/molecule.log"

# pytest's integration tests drive the sandbox role against the engine: they start once the engine is prepared.
wait_for_prepare() {
  while [ ! -f "$out/prepare.time" ] && [ ! -f "$out/background.failed" ] && kill -0 "$bg_pid" 2>/dev/null; do
    sleep 2
  done
  [ -f "$out/prepare.time" ]
}
# The sandbox stage needs the engine and passing unit tests (its roles' plugins); it runs beside the last lanes.
stage lint "${make_cmd[@]}" lint
stage argspecs "${make_cmd[@]}" argspecs
if wait_for_prepare; then
  stage unit "${make_cmd[@]}" unit && stage sandbox to_log sandbox "${make_cmd[@]}" sandbox-test
fi
if [ "${TEST_EXTRA_LANE:-1}" != 0 ]; then
  echo "$(( ${MOLECULE_LANES:-2} + 1 ))" >"$lanes_file"
  echo "=== [$(( $(date +%s) - start ))s] foreground done: $(cat "$lanes_file") lanes from now on"
fi
echo "=== [$(( $(date +%s) - start ))s] waiting for the molecule lanes (tail -f $out/molecule.log)"
wait "$bg_pid"
bg_rc=$?
bg_failed=$(cat "$out/background.failed" 2>/dev/null || true)
[ -f "$out/prepare.time" ] && add_row "$(printf '%-14s %6d s  (background)' prepare "$(cat "$out/prepare.time")")"
add_row "$(printf '%-14s %6d s  rc=%d (background, from the start, prepare included)' molecule "$(( $(date +%s) - bg_t0 ))" "$bg_rc")"
if [ "$bg_rc" -ne 0 ]; then
  [ "$bg_failed" = prepare ] && tail -40 "$out/prepare.log" >&2
  # The scenario table below ends with each failed scenario's failed tasks; without it, the log's tail.
  [ "$bg_failed" = molecule ] && ! grep -q '^scenario ' "$out/molecule.log" && tail -80 "$out/molecule.log" >&2
  failed="${failed:+$failed }${bg_failed:-molecule}"
fi

# The exclusive scenarios, alone on the machine now (the sandbox's containers stay up, idle).
run_exclusive() {
  echo "(log: $out/molecule-exclusive.log)"
  MOLECULE_PART=exclusive "${make_cmd[@]}" molecule >"$out/molecule-exclusive.log" 2>&1
}
[ "$bg_failed" = prepare ] || stage exclusive run_exclusive
for log in "$out/molecule.log" "$out/molecule-exclusive.log"; do
  [ -f "$log" ] && sed -n '/^scenario /,$p' "$log"
done
report
