#!/usr/bin/env bash
# Run an ansible-playbook command and fail unless its PLAY RECAP shows changed=0 and failed=0 on every
# host: the idempotence check of the sandbox.
#
# ASSERT_NO_CHANGE_LOG=FILE keeps the whole output in FILE and prints only its recap (and, on failure, the failed
# tasks): for a run at -vvv, whose output is too long for a terminal or a CI log but is searched afterwards.
set -euo pipefail
if [ -n "${ASSERT_NO_CHANGE_LOG:-}" ]; then
  log=$ASSERT_NO_CHANGE_LOG
  mkdir -p "$(dirname "$log")"
  rc=0
  "$@" >"$log" 2>&1 || rc=$?
  sed -n '/^PLAY RECAP/,$p' "$log"
  if [ "$rc" -ne 0 ]; then
    echo "assert-no-change: the run ended with rc $rc; its failed tasks (whole output in $log):" >&2
    grep -E -A12 '^(fatal|failed):' "$log" | head -80 >&2 || true
  fi
else
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  "$@" 2>&1 | tee "$log"
fi
recap=$(awk '/^PLAY RECAP/{f=1;next} f && /ok=/' "$log")
[ -n "$recap" ] || { echo "assert-no-change: no PLAY RECAP in the output" >&2; exit 1; }
if grep -Ev 'changed=0 .*failed=0 ' <<<"$recap" | grep -q .; then
  echo "assert-no-change: the second run changed or failed something:" >&2
  grep -Ev 'changed=0 .*failed=0 ' <<<"$recap" >&2
  exit 1
fi
echo "assert-no-change: changed=0 on $(wc -l <<<"$recap") host(s)"
