#!/usr/bin/env python3
"""Gateway overhead benchmark: the same streaming workload straight to llama-server and through the gateway.

Requests alternate A/B (ABBA order, so drift and warm-up hit both sides alike), once over one kept-alive
connection per side and once with a fresh TCP + TLS handshake per request. For each request the client notes the
time to the first streamed token (from before the connection for fresh ones, from before the request otherwise)
and the token rate of the stream. Prints a table and a JSON line: the throughput ratio gateway/direct and the
time to first token the gateway adds, p50 and p99 (of the paired differences). Standard library only.

Keys come from the environment: BENCH_DIRECT_KEY (the backend key) and BENCH_GATEWAY_KEY (a client key).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import time
from urllib.parse import urlsplit


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


class Side:
    def __init__(self, name, url, key, context):
        parts = urlsplit(url)
        self.name, self.host, self.port, self.key, self.context = name, parts.hostname, parts.port or 443, key, context
        self.conn = None
        self.reconnects = 0

    def connect(self):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=120)
        conn.connect()
        return conn

    def run(self, body, fresh):
        start = time.perf_counter()
        if fresh or self.conn is None:
            if self.conn is not None:
                self.conn.close()
            self.conn = self.connect()
            if not fresh:
                start = time.perf_counter()
        headers = {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"}
        try:
            self.conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            response = self.conn.getresponse()
        except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected):
            # llama-server closes the connection after every streamed response: reconnect, and count the time.
            self.reconnects += 1
            self.conn.close()
            self.conn = self.connect()
            self.conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            response = self.conn.getresponse()
        conn = self.conn
        if response.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (self.name, response.status, response.read()[:200]))
        first = None
        tokens = 0
        while True:
            line = response.fp.readline()
            if not line:
                break
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            choices = chunk.get("choices") or []
            if choices and choices[0].get("delta", {}).get("content"):
                tokens += 1
                if first is None:
                    first = time.perf_counter()
        # The lines were read past the chunked decoder: consume the last-chunk marker and the final CRLF by hand,
        # then mark the response done so the connection can carry the next request.
        while True:
            line = response.fp.readline()
            if not line or line.strip() == b"0":
                break
        response.fp.readline()
        response.close()
        end = time.perf_counter()
        if fresh:
            conn.close()
            self.conn = None
        return {"ttft": (first or end) - start, "tokens": tokens, "stream": end - (first or end), "total": end - start}


def run_mode(direct, gateway, body, requests, fresh, warmup):
    for dummy in range(warmup):
        direct.run(body, fresh)
        gateway.run(body, fresh)
    results = {"direct": [], "gateway": []}
    for i in range(requests):
        order = (direct, gateway) if i % 4 in (0, 3) else (gateway, direct)
        for side in order:
            results[side.name].append(side.run(body, fresh))
    return results


def summarize(results):
    d, g = results["direct"], results["gateway"]
    diffs = [(b["ttft"] - a["ttft"]) * 1000 for a, b in zip(d, g)]

    def rate(rs):
        """Throughput: streamed tokens over the whole request time, each side summed."""
        return sum(r["tokens"] for r in rs) / sum(r["total"] for r in rs)

    return {
        "requests_per_side": len(d),
        "tokens_per_request": statistics.mean(r["tokens"] for r in d),
        "ttft_direct_p50_ms": percentile([r["ttft"] * 1000 for r in d], 50),
        "ttft_gateway_p50_ms": percentile([r["ttft"] * 1000 for r in g], 50),
        "added_ttft_p50_ms": percentile(diffs, 50),
        "added_ttft_p99_ms": percentile(diffs, 99),
        "throughput_direct_tok_s": rate(d),
        "throughput_gateway_tok_s": rate(g),
        "throughput_ratio": rate(g) / rate(d),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--direct", required=True, help="llama-server base URL, e.g. https://10.0.0.2:8081")
    parser.add_argument("--gateway", required=True, help="gateway base URL, e.g. https://10.0.0.1")
    parser.add_argument("--ca", required=True, help="CA bundle that verifies both")
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", type=int, default=100, help="requests per side and mode")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--prompt", default="Count from one to twenty in words.")
    parser.add_argument("--modes", default="keepalive,fresh")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca)
    direct = Side("direct", args.direct, os.environ["BENCH_DIRECT_KEY"], context)
    gateway = Side("gateway", args.gateway, os.environ["BENCH_GATEWAY_KEY"], context)
    body = json.dumps({"model": args.model, "stream": True, "max_tokens": args.max_tokens, "temperature": 0,
                       "messages": [{"role": "user", "content": args.prompt}]})
    report = {}
    for mode in args.modes.split(","):
        direct.reconnects = gateway.reconnects = 0
        report[mode] = summarize(run_mode(direct, gateway, body, args.requests, mode == "fresh", args.warmup))
        report[mode].update(reconnects_direct=direct.reconnects, reconnects_gateway=gateway.reconnects)
    print("%-10s %8s %12s %12s %12s %12s %10s" % ("mode", "req/side", "ttft direct", "ttft gw", "added p50", "added p99", "tput ratio"))
    for mode, s in report.items():
        print("%-10s %8d %10.2fms %10.2fms %10.3fms %10.3fms %10.4f" % (
            mode, s["requests_per_side"], s["ttft_direct_p50_ms"], s["ttft_gateway_p50_ms"], s["added_ttft_p50_ms"],
            s["added_ttft_p99_ms"], s["throughput_ratio"]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
