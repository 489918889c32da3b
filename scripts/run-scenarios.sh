#!/usr/bin/env bash
# Run molecule scenarios in parallel lanes and print the time of each. Scenarios that share a controller-side
# build (llama.cpp, MinIO) sit in one chain and run one after the other, so that the first builds and the next
# reuses the cache; chains are handed to the first free lane, longest first.
#
# Usage: scripts/run-scenarios.sh SCENARIO...   (MOLECULE_LANES, default 2: how many run at once; MOLECULE_LANES_FILE
# below can raise it during the run)
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

# Scenarios that measure timing (the gateway's failover detection) verify alone, after every lane has finished, so
# that another scenario's load does not enter their numbers. Their hosts are created, converged and checked for
# idempotence in their chain (the step NAME@pre: molecule destroy, converge, idempotence), and the exclusive part
# runs verify and destroy on them; an exclusive scenario whose chain step did not run gets a whole `molecule test`.
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
    if [[ "$exclusive" == *" $s "* ]]; then solo+="$s "; picked+="$s@pre "; else picked+="$s "; fi
  done
  [ -n "$picked" ] && queue+=("$picked")
done
for s in "$@"; do
  [[ "$listed" == *" $s "* ]] && continue
  if [[ "$exclusive" == *" $s "* ]]; then solo+="$s "; queue+=("$s@pre"); else queue+=("$s"); fi
done
[ "$#" -gt 0 ] || { echo "run-scenarios: no scenario given" >&2; exit 2; }
[ "$part" = exclusive ] && queue=()
[ "$part" = lanes ] && solo=""
if [ "${#queue[@]}" -eq 0 ] && [ -z "$solo" ]; then
  echo "run-scenarios: none of the scenarios given is in the $part part"
  exit 0
fi
# What this part is about to run loses its old results; the exclusive part keeps the @pre steps' results it needs.
count=0
for s in "${queue[@]}"; do
  for one in $s; do
    rm -f "$logs/${one%@pre}.time" "$logs/${one%@pre}.rc" "$logs/${one%@pre}.pre.time" "$logs/${one%@pre}.pre.rc"
    [[ "$one" == *@pre ]] || count=$(( count + 1 ))
  done
done
for one in $solo; do rm -f "$logs/$one.time" "$logs/$one.rc"; count=$(( count + 1 )); done

start=$(date +%s)
stamp() { printf '[%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# One scenario: NAME (molecule test), NAME@pre (destroy, converge, idempotence: hosts left up for the exclusive
# part), or, for an exclusive NAME whose @pre step passed, verify and destroy on those hosts.
run_one() {
  local s=$1 name=${1%@pre} log="$logs/${1%@pre}.log" step rc=0
  if [ "$s" != "$name" ]; then
    for step in destroy converge idempotence; do
      echo "=== molecule $step -s $name" >>"$log"
      "$molecule" "$step" -s "$name" >>"$log" 2>&1 || { rc=$?; break; }
    done
    # As molecule test does, a failed step still removes the hosts.
    if [ "$rc" -ne 0 ]; then
      echo "=== molecule destroy -s $name" >>"$log"
      "$molecule" destroy -s "$name" >>"$log" 2>&1
    fi
    return "$rc"
  fi
  if [[ "$exclusive" == *" $name "* ]] && [ "$(cat "$logs/$name.pre.rc" 2>/dev/null)" = 0 ]; then
    echo "=== molecule verify -s $name (alone)" >>"$log"
    "$molecule" verify -s "$name" >>"$log" 2>&1 || rc=$?
    echo "=== molecule destroy -s $name" >>"$log"
    "$molecule" destroy -s "$name" >>"$log" 2>&1 || [ "$rc" -ne 0 ] || rc=$?
    return "$rc"
  fi
  "$molecule" test -s "$name" >"$log" 2>&1
}

run_chain() {
  local s name t0 rc pre
  for s in $1; do
    name=${s%@pre}
    t0=$(date +%s)
    pre=""
    [ "$s" != "$name" ] && pre=.pre
    # The @pre step starts the scenario's log; its exclusive part appends, and a whole `molecule test` rewrites it.
    [ -z "$pre" ] || : >"$logs/$name.log"
    stamp "start $s (log: $logs/$name.log)"
    run_one "$s"
    rc=$?
    echo "$(( $(date +%s) - t0 ))" >"$logs/$name$pre.time"
    echo "$rc" >"$logs/$name$pre.rc"
    stamp "end   $s rc=$rc in $(cat "$logs/$name$pre.time") s"
    if [ -z "$pre" ] && [ -f "$logs/$name.pre.time" ]; then
      echo "$(( $(cat "$logs/$name.pre.time") + $(cat "$logs/$name.time") ))" >"$logs/$name.time"
    fi
    # A failed @pre step is the scenario's result: its exclusive part does not run.
    if [ -n "$pre" ] && [ "$rc" -ne 0 ]; then
      cp "$logs/$name.pre.rc" "$logs/$name.rc"
      cp "$logs/$name.pre.time" "$logs/$name.time"
    fi
    # A chain stops at its first failure: the next scenario would rebuild what the failed one left half done.
    [ "$rc" -eq 0 ] || return "$rc"
  done
}

# MOLECULE_LANES_FILE: a file that, once it exists, holds the number of lanes from then on. make test writes one
# more lane into it when its foreground stages are done, so the processor time they held goes to a third lane.
lanes_now() {
  local n=""
  [ -n "${MOLECULE_LANES_FILE:-}" ] && [ -f "$MOLECULE_LANES_FILE" ] && n=$(tr -dc '0-9' <"$MOLECULE_LANES_FILE")
  [ -n "$n" ] && [ "$n" -ge 1 ] && { echo "$n"; return; }
  echo "$lanes"
}

# A simple lane pool: start chains while fewer lanes than lanes_now run; every 5 s, see which have ended.
running=()
lanes_seen=$lanes
for chain in "${queue[@]}"; do
  while :; do
    still=()
    for pid in "${running[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
    running=("${still[@]}")
    now=$(lanes_now)
    [ "$now" = "$lanes_seen" ] || { stamp "lanes: $now"; lanes_seen=$now; }
    [ "${#running[@]}" -lt "$now" ] && break
    sleep 5
  done
  run_chain "$chain" &
  running+=($!)
done
wait
# The exclusive scenarios, one at a time; each runs even when a lane failed, so one run reports every failure.
for s in $solo; do
  [ "$(cat "$logs/$s.pre.rc" 2>/dev/null || echo 0)" = 0 ] || { stamp "skip  $s: its @pre step failed"; continue; }
  run_chain "$s" || true
done
[ -z "$solo" ] || queue+=("$solo")

failed=()
printf '\n%-20s %8s %4s\n' scenario seconds rc
for chain in "${queue[@]}"; do
  for s in $chain; do
    res=${s%@pre}
    [ "$s" = "$res" ] || res="$res.pre"
    if [ -f "$logs/$res.rc" ]; then
      printf '%-20s %8s %4s\n' "$s" "$(cat "$logs/$res.time")" "$(cat "$logs/$res.rc")"
      [ "$(cat "$logs/$res.rc")" -eq 0 ] || [[ " ${failed[*]} " == *" ${s%@pre} "* ]] || failed+=("${s%@pre}")
    else
      printf '%-20s %8s %4s\n' "$s" "-" "not run"
      [[ " ${failed[*]} " == *" ${s%@pre} "* ]] || failed+=("${s%@pre}")
    fi
  done
done
echo "molecule: $count scenario(s) in $(( $(date +%s) - start )) s with $lanes lane(s), $(lanes_now) at the end"
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
