#!/usr/bin/env bash
# Real-GPU check of the GPU layer, for the GPU machine described in tests/gpu/README.md (a container without systemd,
# driver preinstalled, no network). Changes nothing on the GPU: the facts module reads it, the MIG module runs in
# check mode only, and the NVML exporter runs on loopback for a few scrapes.
#  1. nvidia_gpu_facts: GPUs, driver, fabric state, MIG mode, NVSwitches, problems;
#  2. nvidia_mig in check mode with a layout of two half-GPU instances for the GPU model (validate, then plan);
#  3. the NVML exporter (nvidia-ml-py from tests/gpu/wheels) on 127.0.0.1, scraped and compared with nvidia-smi.
# Prints a table at the end; everything goes under $OUT (default /tmp/gpu-layer-out). Prepare with prepare.sh.
# On a machine without a GPU it runs the same steps and shows what they report there (no driver, NVML down).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
HERE="$REPO/tests/gpu"
OUT="${OUT:-/tmp/gpu-layer-out}"
WORK="${GPU_WORK:-/tmp/gpu-layer-work}"
PYTHON="$(command -v "${PYTHON:-python3}")"
mkdir -p "$OUT" "$WORK"
SITE="$WORK/site"
if [ -d "$HERE/wheels" ] && ! "$PYTHON" -c 'import ansible' 2>/dev/null; then
  [ -d "$SITE/ansible" ] || "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$SITE" "$HERE"/wheels/*.whl
  export PYTHONPATH="$SITE"
fi
COLL="$WORK/collections"
mkdir -p "$COLL/ansible_collections/llm_infra"
ln -sfn "$REPO" "$COLL/ansible_collections/llm_infra/cluster"
export ANSIBLE_COLLECTIONS_PATH="$COLL" ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=1
# The wheels' console script, else the one beside the interpreter (a venv), else PATH's.
ANSIBLE="$SITE/bin/ansible"
[ -f "$ANSIBLE" ] || ANSIBLE="$(dirname "$PYTHON")/ansible"
[ -f "$ANSIBLE" ] || ANSIBLE="$(command -v ansible)"
adhoc() { "$PYTHON" "$ANSIBLE" localhost -c local -i localhost, -e "ansible_python_interpreter=$PYTHON" "$@"; }

# 1. Facts.
adhoc -m llm_infra.cluster.nvidia_gpu_facts > "$OUT/facts.txt" 2>&1 || true
"$PYTHON" - "$OUT/facts.txt" "$OUT/facts.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
facts = json.loads(text[text.index("{"):])
json.dump(facts, open(sys.argv[2], "w"), indent=2)
PY

# 2. MIG in check mode: two of the largest half-GPU profile of the first GPU's model, validated first.
LAYOUT="$("$PYTHON" - "$OUT/facts.json" "$COLL" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
from ansible_collections.llm_infra.cluster.plugins.module_utils import _nvidia_mig as mig
facts = json.load(open(sys.argv[1]))
gpus = facts.get("gpus") or [{"pci_device_id": g["device_id"]} for g in facts.get("pci_gpus", [])]
model = mig.MIG_MODELS.get(gpus[0]["pci_device_id"]) if gpus else None
half = [n for n, (c, _m, _k) in (model or {}).get("profiles", {}).items() if c == 3] if model else []
print(json.dumps({"0": half[:1] * 2} if half else {}))
PY
)"
echo "$LAYOUT" > "$OUT/mig-layout.json"
adhoc -m llm_infra.cluster.nvidia_mig -a "{\"profiles\": $LAYOUT, \"validate_only\": true}" > "$OUT/mig-validate.txt" 2>&1 || true
adhoc --check -m llm_infra.cluster.nvidia_mig -a "{\"profiles\": $LAYOUT}" > "$OUT/mig-check.txt" 2>&1 || true

# 3. The exporter on loopback (no TLS: the certificate path is the unit tests' and the scenario's), three scrapes.
"$PYTHON" "$REPO/roles/nvidia_gpu_exporter/files/llm-infra-nvml-exporter" --listen 127.0.0.1:19400 --hostname gpu-check \
  > "$OUT/exporter.log" 2>&1 &
EXPORTER=$!
trap 'kill "$EXPORTER" 2>/dev/null || true' EXIT
for i in 1 2 3; do
  sleep 2
  "$PYTHON" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:19400/metrics", timeout=10).read().decode())' \
    > "$OUT/metrics-$i.txt" 2>> "$OUT/exporter.log" || true
done
nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.free,temperature.gpu,power.draw,clocks.sm --format=csv,noheader,nounits \
  > "$OUT/nvidia-smi-query.csv" 2>&1 || true

"$PYTHON" - "$OUT" <<'PY'
import json, os, re, sys
out = sys.argv[1]
facts = json.load(open(os.path.join(out, "facts.json")))
print("\n== GPU layer check")
print("facts: state %s, driver %s, GPUs %d (PCI %d), NVSwitches %d, problems %s" % (facts.get("state"), facts.get("driver_version") or "-",
      len(facts.get("gpus", [])), len(facts.get("pci_gpus", [])), len(facts.get("nvswitches", [])), facts.get("problems")))
for g in facts.get("gpus", []):
    print("  GPU %d %s cc %s, %d MiB, MIG %s, fabric %s/%s" % (g["index"], g["name"], g["compute_capability"], g["memory_total_mib"],
          g["mig_mode"]["current"], g["fabric"]["state"], g["fabric"]["status"]))
for name in ("mig-validate.txt", "mig-check.txt"):
    text = open(os.path.join(out, name)).read()
    print("%s: %s" % (name, text.strip()[:600]))
metrics = open(os.path.join(out, "metrics-3.txt")).read()
print("exporter (third scrape):")
for line in metrics.splitlines():
    if re.match(r"^(llm_infra_nvml_\w+|DCGM_FI_DEV_(GPU_UTIL|FB_USED|FB_FREE|GPU_TEMP|POWER_USAGE|SM_CLOCK|XID_ERRORS|CLOCK_THROTTLE_REASONS))\b", line):
        print("  " + re.sub(r',UUID="[^"]*"', "", line))
print("nvidia-smi --query-gpu (index, util %, used MiB, free MiB, temp C, power W, SM MHz):")
print("  " + open(os.path.join(out, "nvidia-smi-query.csv")).read().strip().replace("\n", "\n  "))
PY
