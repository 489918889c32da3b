#!/usr/bin/env bash
# Throughput of staging a model from MinIO onto a host through model_store's `stage` entry point (s3 source:
# presigned GET over TLS, sha256 verification, atomic rename), cold into an empty folder, then the second run
# that must transfer nothing. Prints one table.
# Usage: bench/staging.sh INVENTORY HOST [OBJECT] [SHA256]
#   OBJECT defaults to the Gemma 3 270M model the tests publish (gemma3-270m/gemma-3-270m-q4_k_m.gguf),
#   SHA256 to GEMMA_GGUF_SHA256 from ~/.cache/llm-infra/test-artifacts/artifacts.env.
# Example (after `molecule converge -s minio`):
#   MOLECULE_EPHEMERAL_DIRECTORY=... bench/staging.sh "$MOLECULE_EPHEMERAL_DIRECTORY/inventory" minio-c1
set -euo pipefail
cd "$(dirname "$0")/.."
inventory="${1:?usage: staging.sh INVENTORY HOST [OBJECT] [SHA256]}"
host="${2:?usage: staging.sh INVENTORY HOST [OBJECT] [SHA256]}"
object="${3:-gemma3-270m/gemma-3-270m-q4_k_m.gguf}"
sha="${4:-$(sed -n 's/^GEMMA_GGUF_SHA256=//p' "$HOME/.cache/llm-infra/test-artifacts/artifacts.env")}"
playbook_bin="${ANSIBLE_PLAYBOOK:-.venv/bin/ansible-playbook}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dir="/var/lib/llm-infra/bench-staging"

cat >"$work/stage.yml" <<PLAY
- name: Stage one model for the benchmark
  hosts: $host
  gather_facts: false
  tasks:
    - name: Stage
      ansible.builtin.include_role:
        name: llm_infra.cluster.model_store
        tasks_from: stage
      vars:
        model_store_dir: $dir
        model_store_stage_models:
          - {name: bench, sha256: "$sha", s3: {object: "$object"}}
    - name: Size of the staged file
      ansible.builtin.stat: {path: "{{ model_store_staged.bench.path }}", get_checksum: false}
      register: bench_file
    - name: Report
      ansible.builtin.debug:
        msg: "BENCH {{ model_store_staged.bench.changed }} {{ bench_file.stat.size }}"
PLAY
cat >"$work/clean.yml" <<PLAY
- name: Remove the benchmark folder
  hosts: $host
  gather_facts: false
  tasks:
    - name: Remove
      ansible.builtin.file: {path: $dir, state: absent}
PLAY

run() { # prints seconds, the changed flag and the file size of one stage run
  local start end out
  start=$(date +%s.%N)
  out=$("$playbook_bin" -i "$inventory" "$work/stage.yml")
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $(echo "$out" | sed -n 's/.*"BENCH \([A-Za-z]*\) \([0-9]*\)".*/\1 \2/p')"
}

"$playbook_bin" -i "$inventory" "$work/clean.yml" >/dev/null
# The figure is the stage run's wall clock (Ansible included); the second run, which transfers nothing, is
# the fixed overhead, so the cold run minus it approximates download + verification + rename.
read -r cold cold_changed size < <(run)
read -r warm warm_changed _ < <(run)
"$playbook_bin" -i "$inventory" "$work/clean.yml" >/dev/null
transfer=$(echo "$cold - $warm" | bc)
printf '%-44s %12s\n' "model bytes" "$size"
printf '%-44s %12.2f  changed=%s\n' "cold stage, wall clock (s)" "$cold" "$cold_changed"
printf '%-44s %12.2f  changed=%s\n' "second stage, nothing transferred (s)" "$warm" "$warm_changed"
printf '%-44s %12.1f\n' "throughput, whole cold run (MB/s)" "$(echo "$size / $cold / 1000000" | bc -l)"
printf '%-44s %12.1f\n' "throughput, cold minus fixed overhead (MB/s)" "$(echo "$size / $transfer / 1000000" | bc -l)"
