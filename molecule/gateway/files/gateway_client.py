#!/usr/bin/env python3
"""Real client of the gateway (stdlib only): OpenAI-style requests over TLS verified against the cluster CA.

functional: every client-visible behaviour, as one JSON report (exit 1 on the first failed check).
load:       sequential requests for N seconds (or until --stop-file exists), each recorded as [start, end, status,
            error] (failover and rolling upgrade tests).
stream:     one long streaming completion, reported as chunks and whether [DONE] arrived (reload test).
"""

from __future__ import annotations

import argparse
import os
import http.client
import json
import select
import socket
import ssl
import sys
import threading
import time
from urllib.parse import urlsplit


def connect(url: str, ca: str, timeout: float = 120.0) -> http.client.HTTPSConnection:
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=ca)
    return http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=timeout)


def request(conn, method, path, key=None, body=None, raw=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = "Bearer " + key
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = None
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), parsed, payload


def oversized(url, ca, key, size):
    """POST a body larger than the gateway buffer in 16 KiB pieces and stop sending once the gateway answers:
    it answers when its buffer is full and then closes, so writing on would break the connection."""
    parts = urlsplit(url)
    sock = ssl.create_default_context(cafile=ca).wrap_socket(
        socket.create_connection((parts.hostname, parts.port or 443), 30), server_hostname=parts.hostname)
    body = json.dumps({"model": "any", "messages": [], "pad": "x" * size}).encode()
    sock.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (parts.hostname, key, len(body))).encode())
    sent, received = 0, b""
    while sent < len(body) and not received:
        sock.sendall(body[sent:sent + 16384])
        sent += 16384
        if select.select([sock], [], [], 0.2)[0]:
            # Readable may only mean TLS session tickets, which carry no response bytes.
            sock.setblocking(False)
            try:
                received = sock.recv(65536)
            except ssl.SSLWantReadError:
                pass
            sock.setblocking(True)
    try:
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except OSError:
        pass
    sock.close()
    head, _, payload = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = None
    return status, parsed, sent


def stream_chat(url, ca, key, model, max_tokens, started=None):
    """Stream a completion; return the arrival times and contents of the SSE data chunks."""
    conn = connect(url, ca)
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]}
    t0 = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    response = conn.getresponse()
    result = {"status": response.status, "chunks": [], "done": False, "cipher": conn.sock.cipher(), "version": conn.sock.version()}
    if response.status != 200:
        result["body"] = response.read().decode(errors="replace")
        return result
    while True:
        line = response.fp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            result["done"] = True
            break
        chunk = json.loads(data)
        delta = chunk["choices"][0].get("delta", {}).get("content") if chunk.get("choices") else None
        result["chunks"].append([round(time.monotonic() - t0, 4), delta])
        if started is not None:
            started.set()
    conn.close()
    return result


class Checks:
    def __init__(self):
        self.report = {}

    def check(self, name, condition, detail):
        self.report[name] = {"ok": bool(condition), "detail": detail}
        if not condition:
            print(json.dumps(self.report, indent=1))
            print("FAILED: %s: %s" % (name, detail), file=sys.stderr)
            sys.exit(1)


def error_code(parsed):
    try:
        error = parsed["error"]
        assert {"message", "type", "code"} <= set(error)
        return error["code"]
    except (TypeError, KeyError, AssertionError):
        return None


def functional(args):
    c = Checks()
    conn = connect(args.url, args.ca)
    chat = {"model": args.model, "max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": "Hello"}]}

    status, _, parsed, _ = request(conn, "POST", "/v1/chat/completions", args.key, chat)
    c.check("1 chat completion with a valid key", status == 200 and parsed["choices"][0]["message"]["content"] is not None
            and parsed["usage"]["completion_tokens"] > 0, {"status": status, "usage": (parsed or {}).get("usage")})
    c.check("1 TLS verified against the cluster CA", conn.sock.version() in ("TLSv1.2", "TLSv1.3"),
            {"version": conn.sock.version(), "cipher": conn.sock.cipher()[0]})

    status, _, parsed, _ = request(conn, "POST", "/v1/chat/completions", args.key, dict(chat, model=args.alias))
    c.check("1 alias routes to its model", status == 200, {"status": status, "alias": args.alias})

    result = stream_chat(args.url, args.ca, args.key, args.model, 48)
    times = [t for t, _ in result["chunks"]]
    distinct = sorted(set(round(t, 2) for t in times))
    c.check("2 streaming arrives as incremental SSE chunks",
            result["status"] == 200 and result["done"] and len(times) >= 10 and times[-1] - times[0] >= 0.1 and len(distinct) >= 5,
            {"chunks": len(times), "first_s": times[0] if times else None, "last_s": times[-1] if times else None,
             "distinct_10ms_slots": len(distinct)})

    for name, key in (("no key", None), ("wrong key", "sk-wrong-0123456789abcdef")):
        status, headers, parsed, _ = request(conn, "POST", "/v1/chat/completions", key, chat)
        c.check("3 %s: 401 in OpenAI style" % name, status == 401 and error_code(parsed) == "invalid_api_key",
                {"status": status, "code": error_code(parsed), "www-authenticate": headers.get("www-authenticate")})

    status, _, parsed, _ = request(conn, "GET", "/v1/models", args.key)
    ids = sorted(m["id"] for m in (parsed or {}).get("data", []))
    c.check("4 /v1/models lists every served model", status == 200 and ids == sorted(args.expect_models.split(",")), {"ids": ids})

    status, _, parsed, _ = request(conn, "POST", "/v1/chat/completions", args.key, dict(chat, model="no-such-model"))
    c.check("5 unknown model: 404", status == 404 and error_code(parsed) == "model_not_found",
            {"status": status, "error": (parsed or {}).get("error")})

    for name, raw in (("not JSON", "this is not json"), ("no model", json.dumps({"messages": []})),
                      ("model not a string", json.dumps({"model": {"a": 1}}))):
        status, _, parsed, _ = request(conn, "POST", "/v1/chat/completions", args.key, raw=raw)
        c.check("6 %s: 400" % name, status == 400 and error_code(parsed) == "invalid_request_body", {"status": status})

    status, parsed, sent = oversized(args.url, args.ca, args.key, 1000000)
    c.check("6 body beyond the buffer: 413, not 5xx", status == 413 and error_code(parsed) == "request_too_large",
            {"status": status, "code": error_code(parsed), "body_bytes_sent": sent})
    conn.close()
    conn = connect(args.url, args.ca)

    statuses = []
    for _ in range(4):
        status, headers, parsed, _ = request(conn, "GET", "/v1/models", args.limited_key)
        statuses.append(status)
    c.check("7 over the per-minute limit: 429 with Retry-After",
            statuses[:3] == [200, 200, 200] and statuses[3] == 429 and error_code(parsed) == "rate_limit_exceeded"
            and int(headers.get("retry-after", "0")) > 0, {"statuses": statuses, "retry-after": headers.get("retry-after")})

    started = threading.Event()
    holder = {}
    thread = threading.Thread(target=lambda: holder.update(stream_chat(args.url, args.ca, args.single_key, args.model, 64, started)))
    thread.start()
    started.wait(60)
    # A connection of its own: the one above sat idle while the stream started, up to the gateway's keep-alive
    # timeout on a loaded machine, and a write on a connection the gateway closed fails with an EOF.
    conn.close()
    conn = connect(args.url, args.ca)
    status, headers, parsed, _ = request(conn, "POST", "/v1/chat/completions", args.single_key, chat)
    thread.join()
    c.check("8 over the concurrency limit: 429 with Retry-After",
            status == 429 and error_code(parsed) == "concurrency_limit_exceeded" and "retry-after" in headers and holder.get("done"),
            {"status": status, "retry-after": headers.get("retry-after"), "first_stream_done": holder.get("done")})
    # The gateway releases the slot when it has seen the end of the response, a moment after the client's [DONE].
    for attempt in range(1, 11):
        status, _, _, _ = request(conn, "POST", "/v1/chat/completions", args.single_key, chat)
        if status != 429:
            break
        time.sleep(0.2)
    c.check("8 the key works again once its stream ended", status == 200, {"status": status, "attempts": attempt})

    plain = http.client.HTTPConnection(urlsplit(args.url).hostname, 80, timeout=10)
    plain.request("GET", "/v1/models")
    response = plain.getresponse()
    c.check("9 plain HTTP redirects to HTTPS", response.status == 301 and response.getheader("Location", "").startswith("https://"),
            {"status": response.status, "location": response.getheader("Location")})
    print(json.dumps(c.report, indent=1))


def load(args):
    records = []
    body = json.dumps({"model": args.model, "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]})
    conn = None
    end = time.time() + args.seconds
    while time.time() < end and not (args.stop_file and os.path.exists(args.stop_file)):
        start = time.time()
        status, error = 0, ""
        try:
            if conn is None:
                conn = connect(args.url, args.ca, timeout=30)
            conn.request("POST", "/v1/chat/completions", body=body,
                         headers={"Authorization": "Bearer " + args.key, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
            if conn is not None:
                conn.close()
            conn = None
        records.append([round(start, 4), round(time.time(), 4), status, error])
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(records, handle)
    print(json.dumps({"requests": len(records), "failed": sum(1 for r in records if r[2] != 200)}))


def stream(args):
    result = stream_chat(args.url, args.ca, args.key, args.model, args.max_tokens)
    print(json.dumps({"status": result["status"], "done": result["done"], "chunks": len(result["chunks"]),
                      "seconds": result["chunks"][-1][0] if result["chunks"] else 0}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["functional", "load", "stream"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--key", default=os.environ.get("GATEWAY_KEY", ""), help="default: $GATEWAY_KEY")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", default="")
    parser.add_argument("--limited-key", default=os.environ.get("GATEWAY_LIMITED_KEY", ""))
    parser.add_argument("--single-key", default=os.environ.get("GATEWAY_SINGLE_KEY", ""))
    parser.add_argument("--expect-models", default="")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--out", default="load.json")
    parser.add_argument("--stop-file", default="", help="load: stop early once this file exists")
    args = parser.parse_args()
    {"functional": functional, "load": load, "stream": stream}[args.command](args)


if __name__ == "__main__":
    main()
