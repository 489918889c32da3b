#!/usr/bin/env bash
# Run molecule scenarios in parallel lanes and print the time of each. Scenarios that share a controller-side
# build (llama.cpp, MinIO) sit in one chain and run one after the other, so that the first builds and the next
# reuses the cache; chains are handed to the first free lane, longest first.
#
# Usage: scripts/run-scenarios.sh SCENARIO...   (MOLECULE_LANES, default 2: how many run at once)
# MOLECULE_PART=lanes runs only the lanes, MOLECULE_PART=exclusive only the exclusive scenarios (below); by default
# both, the exclusive ones after the lanes. `make test` runs the two parts apart, with the sandbox stage in between.
# Each scenario's output goes to tests/output/molecule/SCENARIO.log; a failed scenario prints its failed tasks and
# its last lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
lanes="${MOLECULE_LANES:-2}"
molecule="${MOLECULE:-.venv/bin/molecule}"
logs=tests/output/molecule
mkdir -p "$logs"

# Chains, longest first. A scenario not listed here forms a chain of its own at the end.
chains=(
  # airgap reuses the llama.cpp build (and MinIO's, which the second chain makes first on a cold machine).
  "llama_cpp airgap gateway"
  "minio minio_distributed"
  vault
  vllm
  vault_ha
  monitoring
  postgresql
  gpu
  base
)

# Scenarios that measure timing (the gateway's failover detection) run alone, after every lane has finished, so
# that another scenario's load does not enter their numbers.
exclusive=" ${MOLECULE_EXCLUSIVE-gateway} "
part="${MOLECULE_PART:-all}"
case "$part" in
  all|lanes|exclusive) ;;
  *) echo "run-scenarios: MOLECULE_PART must be all, lanes or exclusive, not '$part'" >&2; exit 2 ;;
esac

wanted=" $* "
queue=()
listed=" "
solo=""
for chain in "${chains[@]}"; do
  picked=""
  for s in $chain; do
    listed+="$s "
    [[ "$wanted" == *" $s "* ]] || continue
    if [[ "$exclusive" == *" $s "* ]]; then solo+="$s "; else picked+="$s "; fi
  done
  [ -n "$picked" ] && queue+=("$picked")
done
for s in "$@"; do
  [[ "$listed" == *" $s "* ]] && continue
  if [[ "$exclusive" == *" $s "* ]]; then solo+="$s "; else queue+=("$s"); fi
done
[ "$#" -gt 0 ] || { echo "run-scenarios: no scenario given" >&2; exit 2; }
[ "$part" = exclusive ] && queue=()
[ "$part" = lanes ] && solo=""
if [ "${#queue[@]}" -eq 0 ] && [ -z "$solo" ]; then
  echo "run-scenarios: none of the scenarios given is in the $part part"
  exit 0
fi
count=0
for s in "${queue[@]}" $solo; do
  for one in $s; do rm -f "$logs/$one.time" "$logs/$one.rc"; count=$(( count + 1 )); done
done

start=$(date +%s)
stamp() { printf '[%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

run_chain() {
  local s t0 rc
  for s in $1; do
    t0=$(date +%s)
    stamp "start $s (log: $logs/$s.log)"
    "$molecule" test -s "$s" >"$logs/$s.log" 2>&1
    rc=$?
    echo "$(( $(date +%s) - t0 ))" >"$logs/$s.time"
    echo "$rc" >"$logs/$s.rc"
    stamp "end   $s rc=$rc in $(cat "$logs/$s.time") s"
    # A chain stops at its first failure: the next scenario would rebuild what the failed one left half done.
    [ "$rc" -eq 0 ] || return "$rc"
  done
}

# A simple lane pool: start chains while fewer than $lanes run, wait for any to end.
running=()
for chain in "${queue[@]}"; do
  while [ "${#running[@]}" -ge "$lanes" ]; do
    wait -n || true
    still=()
    for pid in "${running[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
    running=("${still[@]}")
  done
  run_chain "$chain" &
  running+=($!)
done
wait
# The exclusive scenarios, one at a time; each runs even when a lane failed, so one run reports every failure.
for s in $solo; do
  run_chain "$s" || true
done
[ -z "$solo" ] || queue+=("$solo")

failed=()
printf '\n%-20s %8s %4s\n' scenario seconds rc
for chain in "${queue[@]}"; do
  for s in $chain; do
    if [ -f "$logs/$s.rc" ]; then
      printf '%-20s %8s %4s\n' "$s" "$(cat "$logs/$s.time")" "$(cat "$logs/$s.rc")"
      [ "$(cat "$logs/$s.rc")" -eq 0 ] || failed+=("$s")
    else
      printf '%-20s %8s %4s\n' "$s" "-" "not run"
      failed+=("$s")
    fi
  done
done
echo "molecule: $count scenario(s) in $(( $(date +%s) - start )) s with $lanes lane(s)"
if [ "${#failed[@]}" -gt 0 ]; then
  for s in "${failed[@]}"; do
    [ -f "$logs/$s.log" ] || continue
    # The log's tail, then its failed tasks (each task's name and the first lines of its failure, colours
    # stripped), last so that they stay in view at the end of a long output.
    echo "=== last lines of $logs/$s.log"
    tail -15 "$logs/$s.log"
    echo "=== failed tasks in $logs/$s.log"
    sed 's/\x1b\[[0-9;]*m//g' "$logs/$s.log" | awk '
      /TASK \[/ { task = $0 }
      /fatal: \[|failed: \[|ERROR!/ && !/\.\.\.ignoring/ { print task; n = 12 }
      n > 0 { print; n-- }' | tail -60
  done
  echo "molecule: failed or not run: ${failed[*]}" >&2
  exit 1
fi
