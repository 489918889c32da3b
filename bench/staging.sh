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
# Facts first: inventories may derive llm_infra_private_address (and so the S3 endpoint) from them.
- name: Read the addresses of the storage hosts and the target
  hosts: storage:$host
  become: true
  gather_facts: true
  gather_subset: [min, network]
- name: Stage one model for the benchmark
  hosts: $host
  become: true
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
  become: true
  gather_facts: false
  tasks:
    - name: Remove
      ansible.builtin.file: {path: $dir, state: absent}
PLAY

run() { # prints the wall clock, the time of the transfer task, the changed flag and the file size of one run
  local start end out
  start=$(date +%s.%N)
  out=$(ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks "$playbook_bin" -i "$inventory" "$work/stage.yml") \
    || { echo "$out" >&2; return 1; }
  end=$(date +%s.%N)
  # profile_tasks: "<role> : Download or move the models into place ---- 5.94s"
  task=$(echo "$out" | sed -n 's/.*Download or move the models into place -* *\([0-9.]*\)s$/\1/p' | tail -1)
  echo "$(echo "$end - $start" | bc) ${task:-0} $(echo "$out" | sed -n 's/.*BENCH \([A-Za-z]*\) \([0-9]*\).*/\1 \2/p' | tail -1)"
}

"$playbook_bin" -i "$inventory" "$work/clean.yml" >/dev/null
# Two figures: the whole stage run (Ansible included), and its transfer task alone (presigned GET over TLS,
# sha256 of the file, rename), timed by profile_tasks.
read -r cold cold_task cold_changed size < <(run)
read -r warm warm_task warm_changed _ < <(run)
"$playbook_bin" -i "$inventory" "$work/clean.yml" >/dev/null
printf '%-48s %12s\n' "model bytes" "$size"
printf '%-48s %12.2f  changed=%s\n' "cold stage, wall clock (s)" "$cold" "$cold_changed"
printf '%-48s %12.2f\n' "cold stage, transfer task: GET+sha256+rename (s)" "$cold_task"
printf '%-48s %12.2f  changed=%s\n' "second stage, wall clock (s)" "$warm" "$warm_changed"
printf '%-48s %12.2f\n' "second stage, transfer task (s)" "$warm_task"
printf '%-48s %12.1f\n' "throughput, transfer task (MB/s)" "$(echo "$size / $cold_task / 1000000" | bc -l)"
printf '%-48s %12.1f\n' "throughput, whole cold run (MB/s)" "$(echo "$size / $cold / 1000000" | bc -l)"
