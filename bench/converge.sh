#!/usr/bin/env bash
# Converge times of the sandbox: what a deploy costs from nothing (cold), with the build caches warm (cached),
# and when nothing has to change (no-op). Prints one table: wall time, task results and changes of each run.
#
# Usage: bench/converge.sh [noop|cached|cold ...]   (default: cached noop)
#   noop    site.yml on the running sandbox (deploys it first when it is not running)
#   cached  make sandbox-destroy, then the sandbox containers and site.yml, with the controller caches kept
#   cold    the same with an empty HOME: no test artifacts, no llama.cpp/MinIO builds, no Go or pip caches
# The logs of each run stay under tests/output/bench-converge/ for the slowest tasks (profile_tasks).
set -euo pipefail
cd "$(dirname "$0")/.."
modes=("$@")
[ "${#modes[@]}" -gt 0 ] || modes=(cached noop)
out=tests/output/bench-converge
mkdir -p "$out"
make --no-print-directory venv >/dev/null
playbook=.venv/bin/ansible-playbook
# The strategy the Makefile runs playbooks with (ANSIBLE_STRATEGY=linear measures Ansible's own).
export ANSIBLE_STRATEGY_PLUGINS="${ANSIBLE_STRATEGY_PLUGINS:-$PWD/.venv/mitogen-strategy}"
export ANSIBLE_STRATEGY="${ANSIBLE_STRATEGY:-mitogen_linear}"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
rows=()

# Task results and changes, summed over the hosts of every PLAY RECAP in a log.
recap() {
  awk '/^PLAY RECAP/{f=1;next} f && /ok=/ {
         for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
         hosts++ }
       END { printf "%d %d %d", v["ok"] + v["failed"] + v["skipped"] + v["rescued"] + v["ignored"],
             v["changed"], hosts; print "" }' "$1"
}

# run LABEL LOG CMD...: time one command, keep its log, add a row.
run() {
  local label=$1 log=$2 start end rc=0
  shift 2
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  read -r tasks changed hosts < <(recap "$log")
  rows+=("$(printf '%-28s %8.1f %8s %8s %6s %4s' "$label" "$(echo "$end - $start" | bc)" "$tasks" "$changed" "$hosts" "$rc")")
  if [ "$rc" -ne 0 ]; then
    tail -30 "$log" >&2
    echo "bench/converge: $label failed (rc $rc), log: $log" >&2
  fi
  return "$rc"
}

deploy() {
  local mode=$1
  run "$mode: make sandbox-destroy" "$out/$mode-destroy.log" make --no-print-directory sandbox-destroy
  run "$mode: containers" "$out/$mode-containers.log" \
    make --no-print-directory engine test-artifacts
  run "$mode: sandbox.yml" "$out/$mode-sandbox.log" "$playbook" playbooks/sandbox.yml \
    -e sandbox_replace_foreign="${SANDBOX_REPLACE_FOREIGN:-false}"
  run "$mode: site.yml" "$out/$mode-site.log" "$playbook" playbooks/site.yml
}

for mode in "${modes[@]}"; do
  case "$mode" in
    noop)
      if ! docker inspect llm-sbx-serve >/dev/null 2>&1; then deploy cached; fi
      run "noop: site.yml" "$out/noop-site.log" "$playbook" playbooks/site.yml
      ;;
    cached) deploy cached ;;
    cold)
      # A fresh HOME drops every controller cache; the engine's base images are kept (scripts/prepare-engine.sh).
      home=$(mktemp -d)
      HOME=$home deploy cold
      rm -rf "$home"
      ;;
    *) echo "bench/converge: unknown mode '$mode' (noop, cached, cold)" >&2; exit 2 ;;
  esac
done

echo "strategy: $ANSIBLE_STRATEGY"
printf '%-28s %8s %8s %8s %6s %4s\n' "run" "seconds" "tasks" "changed" "hosts" "rc"
printf '%s\n' "${rows[@]}"
for log in "$out"/*-site.log; do
  echo "--- slowest tasks of $(basename "$log" .log)"
  awk '/^=+$/{f=1;next} f && /-{3,}/' "$log" | head -8
done
