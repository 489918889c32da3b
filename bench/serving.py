#!/usr/bin/env python3
"""Drive N concurrent streaming completions against an OpenAI-compatible server and report latency.

Standard library only, so it runs on any host with Python 3.8+. Every request streams
(/v1/chat/completions or /v1/completions with "stream": true); each SSE `data:` chunk that carries text counts
as one token (llama-server sends one token per chunk).

Reports, as JSON and as a table: requests, errors, output tokens, wall time, aggregate tokens/s, per-stream
tokens/s, time to first token (p50/p99) and inter-token latency (p50/p99, mean).

Usage:
  serving.py --url https://10.0.0.5:8081 --model gemma-3-270m --api-key-file key --cacert ca.crt \
      --concurrency 4 --requests 8 --max-tokens 64

Several engines side by side, each at every concurrency (one run, one table; --requests per concurrency level
is scaled so that every stream sends as many requests):
  serving.py --target llama.cpp=https://10.0.0.5:8301,smollm2,llama.key \
             --target vllm=https://10.0.0.5:8201,smollm2-135m-instruct,vllm.key \
      --cacert ca.crt --concurrency 1,4 --requests-per-stream 4 --max-tokens 64 --ignore-eos
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request

PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle stays upright.",
    "List some facts about the moon.",
    "Describe a busy market in the morning.",
]


def percentile(values, pct):
    """Nearest-rank percentile of a non-empty list (pct in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(round(pct / 100.0 * len(ordered) + 0.5 - 1e-9)))
    return ordered[min(rank, len(ordered)) - 1]


def parse_sse_lines(lines):
    """Yield the decoded JSON payloads of `data:` lines until `[DONE]`."""
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").strip() if isinstance(raw, bytes) else raw.strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            yield json.loads(payload)
        except ValueError:
            continue


def chunk_text(event):
    """Text carried by one streamed event (chat delta or completion text)."""
    text = ""
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or {}
        text += delta.get("content") or delta.get("reasoning_content") or choice.get("text") or ""
    return text


def one_request(args, context, prompt):
    endpoint = "/v1/chat/completions" if args.api == "chat" else "/v1/completions"
    body = {"model": args.model, "max_tokens": args.max_tokens, "stream": True, "temperature": args.temperature}
    if args.api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if args.ignore_eos:
        body["ignore_eos"] = True
    headers = {"Content-Type": "application/json"}
    if args.api_key:
        headers["Authorization"] = "Bearer " + args.api_key
    request = urllib.request.Request(args.url.rstrip("/") + endpoint, data=json.dumps(body).encode(), headers=headers)
    start = time.perf_counter()
    stamps = []
    with urllib.request.urlopen(request, context=context, timeout=args.timeout) as response:
        for event in parse_sse_lines(response):
            if chunk_text(event):
                stamps.append(time.perf_counter())
    end = time.perf_counter()
    if not stamps:
        raise RuntimeError("stream ended without tokens")
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return {"ttft": stamps[0] - start, "tokens": len(stamps), "duration": end - start, "itl": gaps}


def summarise(results, errors, wall):
    ttft = [r["ttft"] for r in results]
    itl = [g for r in results for g in r["itl"]]
    tokens = sum(r["tokens"] for r in results)
    per_stream = [r["tokens"] / r["duration"] for r in results if r["duration"] > 0]

    def ms(value):
        return None if value is None else round(value * 1000.0, 2)

    return {
        "requests": len(results) + len(errors),
        "errors": len(errors),
        "error_samples": errors[:3],
        "output_tokens": tokens,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 2) if wall > 0 else None,
        "per_stream_tokens_per_s_mean": round(statistics.mean(per_stream), 2) if per_stream else None,
        "ttft_ms_p50": ms(percentile(ttft, 50)),
        "ttft_ms_p99": ms(percentile(ttft, 99)),
        "itl_ms_p50": ms(percentile(itl, 50)),
        "itl_ms_p99": ms(percentile(itl, 99)),
        "itl_ms_mean": ms(statistics.mean(itl)) if itl else None,
    }


def table(summary, args):
    rows = [
        ("concurrency", args.concurrency),
        ("requests (errors)", "%d (%d)" % (summary["requests"], summary["errors"])),
        ("output tokens", summary["output_tokens"]),
        ("wall time s", summary["wall_s"]),
        ("tokens/s (all streams)", summary["tokens_per_s"]),
        ("tokens/s per stream", summary["per_stream_tokens_per_s_mean"]),
        ("TTFT p50 / p99 ms", "%s / %s" % (summary["ttft_ms_p50"], summary["ttft_ms_p99"])),
        ("ITL p50 / p99 ms", "%s / %s" % (summary["itl_ms_p50"], summary["itl_ms_p99"])),
        ("ITL mean ms", summary["itl_ms_mean"]),
    ]
    width = max(len(name) for name, dummy in rows)
    return "\n".join("%-*s  %s" % (width, name, value) for name, value in rows)


def run(args, context):
    """One benchmark of args.url/args.model at args.concurrency; the summary dict."""
    results, errors = [], []
    lock = threading.Lock()
    counter = iter(range(args.requests))

    def worker():
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            try:
                result = one_request(args, context, PROMPTS[index % len(PROMPTS)])
                with lock:
                    results.append(result)
            except (urllib.error.URLError, OSError, RuntimeError, ValueError) as exc:
                with lock:
                    errors.append("%s: %s" % (type(exc).__name__, exc))

    threads = [threading.Thread(target=worker) for dummy in range(max(1, args.concurrency))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = summarise(results, errors, time.perf_counter() - start)
    summary.update({"concurrency": args.concurrency, "max_tokens": args.max_tokens, "api": args.api, "model": args.model})
    return summary


def parse_target(text):
    """NAME=URL,MODEL[,KEYFILE] -> dict."""
    name, sep, rest = text.partition("=")
    parts = rest.split(",")
    if not sep or not name or len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError("--target must be NAME=URL,MODEL[,API_KEY_FILE], got %r" % text)
    return {"name": name, "url": parts[0], "model": parts[1], "key_file": parts[2] if len(parts) == 3 else ""}


def side_by_side(runs):
    """One column per (target, concurrency), one row per measure."""
    measures = [
        ("requests (errors)", lambda s: "%d (%d)" % (s["requests"], s["errors"])),
        ("output tokens", lambda s: s["output_tokens"]),
        ("tokens/s (all streams)", lambda s: s["tokens_per_s"]),
        ("tokens/s per stream", lambda s: s["per_stream_tokens_per_s_mean"]),
        ("TTFT p50 ms", lambda s: s["ttft_ms_p50"]),
        ("TTFT p99 ms", lambda s: s["ttft_ms_p99"]),
        ("ITL p50 ms", lambda s: s["itl_ms_p50"]),
        ("ITL p99 ms", lambda s: s["itl_ms_p99"]),
    ]
    header = [""] + ["%s c=%d" % (run["target"], run["concurrency"]) for run in runs]
    rows = [header] + [[name] + [str(get(run)) for run in runs] for name, get in measures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Concurrent streaming benchmark of OpenAI-compatible servers.")
    parser.add_argument("--url", help="base URL, e.g. https://10.0.0.5:8081 (or use --target)")
    parser.add_argument("--model")
    parser.add_argument("--target", action="append", type=parse_target, default=[],
                        help="NAME=URL,MODEL[,API_KEY_FILE]; repeat to compare engines side by side")
    parser.add_argument("--api", choices=["chat", "completions"], default="chat")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--api-key-file", default="")
    parser.add_argument("--cacert", default="", help="CA bundle that verifies the server")
    parser.add_argument("--concurrency", default="4", help="streams at once; a comma-separated list runs each level")
    parser.add_argument("--requests", type=int, default=8, help="total requests (one target, one concurrency)")
    parser.add_argument("--requests-per-stream", type=int, default=0,
                        help="requests per stream at each concurrency level (overrides --requests)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--ignore-eos", action="store_true", help="generate max-tokens every time (llama-server, vLLM)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args(argv)
    targets = list(args.target)
    if args.url or args.model:
        if not (args.url and args.model):
            parser.error("--url and --model go together")
        targets.insert(0, {"name": "server", "url": args.url, "model": args.model, "key_file": args.api_key_file})
    if not targets:
        parser.error("give --url and --model, or at least one --target")
    try:
        levels = [int(level) for level in str(args.concurrency).split(",") if level.strip()]
    except ValueError:
        parser.error("--concurrency must be integers separated by commas")
    runs = []
    for target in targets:
        key = args.api_key
        if target["key_file"]:
            with open(target["key_file"], encoding="utf-8") as handle:
                key = handle.read().strip()
        for level in levels:
            one = argparse.Namespace(**vars(args))
            one.url, one.model, one.api_key, one.concurrency = target["url"], target["model"], key, level
            if args.requests_per_stream > 0:
                one.requests = args.requests_per_stream * level
            context = ssl.create_default_context(cafile=args.cacert or None) if one.url.startswith("https") else None
            summary = run(one, context)
            summary["target"] = target["name"]
            runs.append(summary)
    print(json.dumps(runs[0] if len(runs) == 1 else runs, indent=2))
    if not args.json_only:
        if len(runs) == 1:
            one = argparse.Namespace(**vars(args))
            one.concurrency = runs[0]["concurrency"]
            print(table(runs[0], one))
        else:
            print(side_by_side(runs))
    return 1 if any(run["errors"] or not run["output_tokens"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
