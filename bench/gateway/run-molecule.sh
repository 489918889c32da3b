#!/usr/bin/env bash
# Run bench.py on the gateway of the molecule scenario `gateway` (containers gw-edge, gw-serve-a).
set -euo pipefail
MODEL=${MODEL:-tiny-random}
PORT=${PORT:-8082}
REQUESTS=${REQUESTS:-200}
MAX_TOKENS=${MAX_TOKENS:-32}
here=$(cd "$(dirname "$0")" && pwd)
found=(~/.ansible/tmp/molecule.*.gateway/credentials)
creds=${CREDENTIALS_DIR:-${found[0]}}
[[ -d $creds ]] || { echo "no credentials of the gateway scenario at $creds (converge it first, or set CREDENTIALS_DIR)" >&2; exit 1; }
addr() { docker exec "$1" sh -c "ip -4 -o addr show dev eth0 | awk '{print \$4}' | cut -d/ -f1"; }
docker cp "$here/bench.py" gw-edge:/usr/local/bin/gateway-bench.py
docker exec \
  -e BENCH_DIRECT_KEY="$(cat "$creds/llama_cpp/backend-api-key")" \
  -e BENCH_GATEWAY_KEY="$(cat "$creds/gateway/api-key-bench")" \
  gw-edge python3 /usr/local/bin/gateway-bench.py \
  --direct "https://$(addr gw-serve-a):$PORT" --gateway "https://$(addr gw-edge)" \
  --ca /etc/llm-infra/tls/ca.crt --model "$MODEL" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" "$@"
