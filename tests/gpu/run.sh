#!/usr/bin/env bash
# Real-GPU check of the llama_cpp role on one H100 (Ubuntu 24.04 container, no systemd, no network, Python 3.12
# without Ansible; CUDA, cmake and ninja present). Prepare first, on a machine with network: tests/gpu/prepare.sh.
#  1. installs ansible-core and gguf from tests/gpu/wheels into a private folder (PYTHONPATH, nothing system-wide);
#  2. runs the role's preflight + build task files with a local connection: CUDA build for sm_90 only;
#     meanwhile writes a llama2-7B-shaped F16 model with random weights (gguf) and quantises it to Q4_0;
#  3. llama-bench pp512 / tg128, 5 repetitions, all layers on the GPU, against the reference numbers;
#  4. renders the instance settings with the role's configure tasks and starts llama-server with exactly that
#     command line (TLS and API key included), then one real chat completion over TLS with the key.
# Prints a table at the end; everything it writes goes under $OUT (default /tmp/llama-gpu-out).
# Usage: bash tests/gpu/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO="$PWD"
HERE="$REPO/tests/gpu"
OUT="${OUT:-/tmp/llama-gpu-out}"
WORK="${GPU_WORK:-/tmp/llama-gpu-work}"
PYTHON="${PYTHON:-python3}"
REF_PP512="${REF_PP512:-11000}"
REF_TG128="${REF_TG128:-340}"
# GPU_CHECK_CPU=1 rehearses the whole script on a CPU machine: CPU build, the tiny model, no layers on a GPU.
CPU_ONLY="${GPU_CHECK_CPU:-0}"
mkdir -p "$OUT" "$WORK"
START=$(date +%s)
declare -A STEP
step() { STEP[$1]=$(( $(date +%s) - ${2} )); echo "== $1: ${STEP[$1]} s"; }
log() { echo "== $*" | tee -a "$OUT/run.log"; }

[ -d "$HERE/wheels" ] && [ -f "$HERE/assets/source.env" ] || { echo "run tests/gpu/prepare.sh first (wheels/assets missing)" >&2; exit 2; }
if [ "$CPU_ONLY" = 1 ]; then
  PRESET=tiny NGL=0
else
  PRESET=llama2-7b NGL=99
  nvidia-smi -q -x > "$OUT/nvidia-smi.xml" || { echo "nvidia-smi failed: no GPU here (GPU_CHECK_CPU=1 rehearses on a CPU)" >&2; exit 2; }
  # nvcc where the role expects it, else wherever PATH has it.
  NVCC="$(command -v nvcc || true)"
  if [ ! -x /usr/local/cuda/bin/nvcc ] && [ -n "$NVCC" ]; then LLAMA_CPP_CUDA_HOME="$(dirname "$(dirname "$NVCC")")"; export LLAMA_CPP_CUDA_HOME; fi
fi
{
  echo "machine: $(nproc) cores, $(uname -r)"
  nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null || echo "no GPU"
  "${LLAMA_CPP_CUDA_HOME:-/usr/local/cuda}/bin/nvcc" --version 2>/dev/null | tail -1 || true
  gcc --version | head -1; cmake --version | head -1
  [ -f /usr/include/openssl/ssl.h ] && echo "OpenSSL headers: present" || echo "OpenSSL headers: absent (llama-server is built without TLS)"
} | tee "$OUT/environment.txt"

# 1. Ansible and gguf from the carried wheels.
t=$(date +%s)
SITE="$WORK/site"
if [ ! -d "$SITE/ansible" ]; then
  "$PYTHON" -m pip install --quiet --no-index --no-deps --target "$SITE" "$HERE"/wheels/*.whl
fi
COLL="$WORK/collections"
mkdir -p "$COLL/ansible_collections/llm_infra"
[ -d "$COLL/ansible_collections/community/general" ] || tar -C "$COLL" -xzf "$HERE/assets/collections.tar.gz"
ln -sfn "$REPO" "$COLL/ansible_collections/llm_infra/cluster"
export PYTHONPATH="$SITE" ANSIBLE_COLLECTIONS_PATH="$COLL" ANSIBLE_CONFIG="$REPO/ansible.cfg" \
  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_NOCOLOR=1
# shellcheck disable=SC1091
. "$HERE/assets/source.env"
export LLAMA_CPP_SOURCE="$HERE/assets/llama-cpp-src.tar.gz" LLAMA_CPP_SOURCE_SHA256 LLAMA_CPP_SOURCE_SUBDIR GPU_WORK="$WORK" \
  GPU_CHECK_CPU="$CPU_ONLY"
PYTHON="$(command -v "$PYTHON")"
# Modules run under the same interpreter as Ansible (its packages come from PYTHONPATH); no discovery.
playbook() { "$PYTHON" "$SITE/bin/ansible-playbook" -i localhost, -e "ansible_python_interpreter=$PYTHON" "$HERE/gpu.yml"; }
step setup "$t"

# 2. Model writer in the background (one core), CUDA build in the foreground (all cores).
MODELS="$WORK/models/llama2-7b-q4_0"
mkdir -p "$MODELS"
F16="$WORK/llama2-7b-f16.gguf"
MODEL="$MODELS/llama2-7b-q4_0.gguf"
t=$(date +%s)
if [ ! -s "$F16" ] && [ ! -s "$MODEL" ]; then
  ( "$PYTHON" "$HERE/write_llama_gguf.py" "$F16.tmp" --preset "$PRESET" --ctx 4096 --f16 --name llama2-7b-random && mv "$F16.tmp" "$F16" ) \
    > "$OUT/writer.log" 2>&1 &
  WRITER=$!
fi
rc=0
GPU_STAGE=build playbook > "$OUT/build.log" 2>&1 || rc=$?
grep -E 'using (cached|installed) build|"building |fatal' "$OUT/build.log" || true
[ "$rc" -eq 0 ] || { tail -40 "$OUT/build.log"; echo "build playbook failed (rc $rc), see $OUT/build.log" >&2; exit 1; }
step build "$t"
BIN="$WORK/opt/current/bin"
[ -x "$BIN/llama-server" ] || { echo "no llama-server after the build" >&2; exit 1; }

t=$(date +%s)
if [ -n "${WRITER:-}" ]; then wait "$WRITER" || { cat "$OUT/writer.log"; exit 1; }; fi
step model_write "$t"
t=$(date +%s)
if [ ! -s "$MODEL" ]; then
  "$BIN/llama-quantize" "$F16" "$MODEL.tmp" Q4_0 "$(nproc)" > "$OUT/quantize.log" 2>&1
  mv "$MODEL.tmp" "$MODEL"
  rm -f "$F16"
fi
sha256sum "$MODEL" | cut -d' ' -f1 > "$MODEL.sha256"
step quantize "$t"

# 3. llama-bench: pp512 and tg128, 5 repetitions, every layer on the GPU, flash attention on.
t=$(date +%s)
"$BIN/llama-bench" -m "$MODEL" -p 512 -n 128 -r 5 -ngl "$NGL" -fa 1 -o json > "$OUT/bench.json" 2> "$OUT/bench.log"
step llama_bench "$t"

# 4. The role's rendered command line, started by hand (no systemd in this container).
t=$(date +%s)
export GPU_MODEL="$MODEL"
GPU_STAGE=configure playbook > "$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
cp /etc/llama-cpp/bench.env "$OUT/bench.env"
"$PYTHON" - "$WORK/tls" <<'PY'
# A throwaway CA and server certificate for 127.0.0.1 (the pki role needs a controller CA or Vault).
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
out = sys.argv[1]; os.makedirs(out, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)
def cert(subject, issuer, key, sign_key, ca, sans=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans: b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(sign_key, hashes.SHA256())
ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gpu-check CA")])
ca = cert(ca_name, ca_name, ca_key, ca_key, True)
leaf = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, key, ca_key, False,
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
open(os.path.join(out, "ca.crt"), "wb").write(ca.public_bytes(serialization.Encoding.PEM))
open(os.path.join(out, "llama-cpp.crt"), "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
open(os.path.join(out, "llama-cpp.key"), "wb").write(key.private_bytes(serialization.Encoding.PEM,
     serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
mkdir -p /etc/llm-infra/tls
cp "$WORK/tls/ca.crt" "$WORK/tls/llama-cpp.crt" "$WORK/tls/llama-cpp.key" /etc/llm-infra/tls/
set -a
# shellcheck disable=SC1091
. /etc/llama-cpp/bench.env
set +a
SCHEME=https
if ! "$BIN/llama-server" --help 2>&1 | grep -q -- --ssl-key-file; then
  # Built without OpenSSL (no headers on this machine): the same command line minus the two TLS options.
  SCHEME=http
  LLAMA_SERVER_ARGS="$(echo "$LLAMA_SERVER_ARGS" | sed -E 's/--ssl-(key|cert)-file [^ ]+//g')"
fi
echo "$BIN/llama-server $LLAMA_SERVER_ARGS" > "$OUT/llama-server.cmdline"
# shellcheck disable=SC2086
"$BIN/llama-server" $LLAMA_SERVER_ARGS > "$OUT/llama-server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
"$PYTHON" - "$OUT/chat.json" "$SCHEME" "$SERVER" <<'PY'
import json, os, ssl, sys, time, urllib.error, urllib.request
ctx = ssl.create_default_context(cafile="/etc/llm-infra/tls/ca.crt")
key = open("/etc/llama-cpp/api-key").read().strip()
base = sys.argv[2] + "://127.0.0.1:8443"
deadline = time.time() + 180
while True:
    try:
        os.kill(int(sys.argv[3]), 0)
    except OSError:
        sys.exit("llama-server exited, see llama-server.log")
    try:
        if urllib.request.urlopen(base + "/health", context=ctx, timeout=5).status == 200:
            break
    except (urllib.error.URLError, OSError):
        pass
    if time.time() > deadline:
        sys.exit("llama-server did not become healthy in 180 s")
    time.sleep(1)
body = {"model": "llama2-7b-random", "max_tokens": 256, "ignore_eos": True, "temperature": 0.8,
        "messages": [{"role": "user", "content": "Tell me about GPUs."}]}
req = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
start = time.time()
answer = json.load(urllib.request.urlopen(req, context=ctx, timeout=120))
wall = time.time() - start
tokens = answer["usage"]["completion_tokens"]
result = {"scheme": sys.argv[2], "completion_tokens": tokens, "wall_s": round(wall, 3), "wall_tokens_per_s": round(tokens / wall, 1),
          "server_predicted_per_second": round(answer.get("timings", {}).get("predicted_per_second", 0), 1),
          "server_prompt_per_second": round(answer.get("timings", {}).get("prompt_per_second", 0), 1)}
json.dump(result, open(sys.argv[1], "w"), indent=2)
assert tokens > 0, answer
PY
# This llama-server logs no per-layer offload line: report what the rendered command line asked for.
OFFLOAD="$(grep -o -- '--n-gpu-layers [^ ]*' "$OUT/llama-server.cmdline" | cut -d' ' -f2)"
step server_chat "$t"

# Table.
"$PYTHON" - "$OUT" "$REF_PP512" "$REF_TG128" "$OFFLOAD" "$(( $(date +%s) - START ))" "${STEP[build]}" <<'PY'
import json, os, sys
out, ref_pp, ref_tg, offload, total, build = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
bench = json.load(open(os.path.join(out, "bench.json")))
def pick(n_prompt, n_gen):
    for row in bench:
        if row["n_prompt"] == n_prompt and row["n_gen"] == n_gen:
            return row
rows = [("pp512", pick(512, 0), ref_pp), ("tg128", pick(0, 128), ref_tg)]
chat = json.load(open(os.path.join(out, "chat.json")))
print()
print("llama.cpp on %s (build %s, %s)" % (bench[0].get("gpu_info") or bench[0].get("cpu_info", "?"), bench[0].get("build_number", "?"),
      bench[0].get("backends", "?")))
print("%-8s %14s %14s %8s" % ("test", "t/s (mean)", "reference", "ratio"))
for name, row, ref in rows:
    print("%-8s %8.1f ± %-4.1f %14.0f %7.2fx" % (name, row["avg_ts"], row["stddev_ts"], ref, row["avg_ts"] / ref))
print("server chat over %s: %d tokens, %.1f t/s (server), %.1f t/s (wall), layers on GPU: %s"
      % (chat["scheme"], chat["completion_tokens"], chat["server_predicted_per_second"], chat["wall_tokens_per_s"], offload))
print("build %s s, total %s s" % (build, total))
json.dump({"bench": [{"test": n, "avg_ts": r["avg_ts"], "stddev_ts": r["stddev_ts"], "reference": ref} for n, r, ref in rows],
           "chat": chat, "build_s": int(build), "total_s": int(total), "offload": offload},
          open(os.path.join(out, "summary.json"), "w"), indent=2)
PY
