#!/usr/bin/env bash
# Run an ansible-playbook command and fail unless its PLAY RECAP shows changed=0 and failed=0 on every
# host: the idempotence check of the sandbox.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
recap=$(awk '/^PLAY RECAP/{f=1;next} f && /ok=/' "$log")
[ -n "$recap" ] || { echo "assert-no-change: no PLAY RECAP in the output" >&2; exit 1; }
if grep -Ev 'changed=0 .*failed=0 ' <<<"$recap" | grep -q .; then
  echo "assert-no-change: the second run changed or failed something:" >&2
  grep -Ev 'changed=0 .*failed=0 ' <<<"$recap" >&2
  exit 1
fi
echo "assert-no-change: changed=0 on $(wc -l <<<"$recap") host(s)"
