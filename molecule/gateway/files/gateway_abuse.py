#!/usr/bin/env python3
"""Bounded abuse against the test gateway while a keyed client keeps being served; prints a JSON report.

First a keyed client alone (sequential chat completions) gives the baseline. Then, for --seconds, the same client
runs while other threads send requests with wrong keys as fast as they are answered, hold connections that send
their headers one byte a second, keyed requests whose body comes one byte a second, requests with oversized
headers, and keyed chunked bodies over the gateway's body limit. Last, alone, one source opens more connections
than the per-source cap. Every connection goes to the gateway of the test scenario only.

Exit status 0 when every expectation holds (named in the report's "failed" list otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import select
import socket
import ssl
import statistics
import threading
import time
from urllib.parse import urlsplit


class Target:
    def __init__(self, url, ca):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 443
        self.context = ssl.create_default_context(cafile=ca)

    def connect(self, timeout=30.0):
        raw = socket.create_connection((self.host, self.port), timeout)
        return self.context.wrap_socket(raw, server_hostname=self.host)


def answered(sock, received):
    """Whether the gateway sent response bytes (kept in `received`) or closed; readable alone may only mean TLS
    session tickets, which carry no response bytes."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    sock.setblocking(False)
    try:
        chunk = sock.recv(65536)
    except ssl.SSLWantReadError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)
    received.append(chunk)
    return True


def read_response(sock, deadline, received=None):
    """(status, seconds until the answer or the close) of a response; status 0 when the gateway closed silently."""
    started, data = time.monotonic(), b"".join(received or [])
    if received and not received[-1]:
        deadline = 0
    while time.monotonic() < deadline and b"\r\n\r\n" not in data:
        try:
            ready = select.select([sock], [], [], 0.5)[0]
            if not ready and not sock.pending():
                continue
            chunk = sock.recv(65536)
        except ssl.SSLWantReadError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, time.monotonic() - started


def http(target, method, path, key=None, body=None, headers=None, timeout=60.0):
    sock = target.connect(timeout)
    try:
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % target.host, "Connection: close"]
        if key is not None:
            lines.append("Authorization: Bearer " + key)
        for name, value in (headers or {}).items():
            lines.append("%s: %s" % (name, value))
        data = b"" if body is None else body
        if body is not None:
            lines += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        status, _ = read_response(sock, time.monotonic() + timeout)
        return status
    finally:
        sock.close()


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)


def keyed_client(target, key, model, stop, out):
    body = json.dumps({"model": model, "max_tokens": 1, "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]}).encode()
    while not stop.is_set():
        started = time.monotonic()
        try:
            status = http(target, "POST", "/v1/chat/completions", key, body)
        except OSError as exc:
            status = "error: %s" % exc.__class__.__name__
        out.append((status, time.monotonic() - started))


def summary(results):
    latencies = [seconds for status, seconds in results if status == 200]
    errors = [status for status, _ in results if status != 200]
    return {"requests": len(results), "errors": len(errors), "error_statuses": sorted({str(e) for e in errors}),
            "p50_ms": percentile(latencies, 0.5), "p95_ms": percentile(latencies, 0.95),
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "mean_ms": round(statistics.mean(latencies) * 1000, 1) if latencies else None}


def wrong_keys(target, stop, out):
    while not stop.is_set():
        try:
            out.append(http(target, "GET", "/v1/models", "wrong-" + secrets.token_hex(16), timeout=10))
        except OSError:
            out.append(0)


def slow_headers(target, timeout, out):
    """Headers one byte a second: the gateway must cut the connection within its request timeout."""
    sock = target.connect()
    started = time.monotonic()
    try:
        sock.sendall(("GET /v1/models HTTP/1.1\r\nHost: %s\r\n" % target.host).encode())
        deadline = started + timeout
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"X")
            except OSError:
                break
            if select.select([sock], [], [], 1.0)[0]:
                try:
                    if not sock.recv(4096):
                        break
                except ssl.SSLWantReadError:
                    continue
                except OSError:
                    break
                break
        out.append(round(time.monotonic() - started, 1))
    finally:
        sock.close()


def slow_body(target, key, timeout, out):
    """A keyed request whose body comes one byte a second: answered (408) or cut within the body timeout."""
    sock = target.connect()
    started = time.monotonic()
    try:
        sock.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n{" % (target.host, key)).encode())
        status = 0
        deadline = started + timeout
        while time.monotonic() < deadline:
            if select.select([sock], [], [], 1.0)[0]:
                status, _ = read_response(sock, deadline)
                break
            try:
                sock.sendall(b" ")
            except OSError:
                break
        out.append((status, round(time.monotonic() - started, 1)))
    finally:
        sock.close()


def big_headers(target, out):
    """A 200 KB header, sent in pieces until the gateway answers (it answers once its buffer is full, then closes)."""
    sock = target.connect()
    try:
        head = ("GET /v1/models HTTP/1.1\r\nHost: %s\r\nX-Pad: %s\r\n\r\n" % (target.host, "a" * 200000)).encode()
        received = []
        for start in range(0, len(head), 8192):
            try:
                sock.sendall(head[start:start + 8192])
            except OSError:
                break
            if answered(sock, received):
                break
        status, _ = read_response(sock, time.monotonic() + 20, received)
        out.append(status)
    finally:
        sock.close()


def chunked_body(target, key, size, out):
    """A keyed chunked body over the limit: refused with 413 like one with a Content-Length, never forwarded."""
    sock = target.connect()
    try:
        sock.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % (target.host, key)).encode())
        payload = json.dumps({"model": "tiny-random", "messages": [], "pad": "x" * size}).encode()
        sent, received = 0, []
        while sent < len(payload):
            piece = payload[sent:sent + 8192]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:
                break
            sent += len(piece)
            if answered(sock, received):
                break
        else:
            try:
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass
        status, _ = read_response(sock, time.monotonic() + 30, received)
        out.append(status)
    finally:
        sock.close()


def connection_cap(target, key, count):
    """Open `count` connections from this one source and ask for /v1/models on each: how many are served."""
    socks, refused = [], 0
    for _ in range(count):
        try:
            socks.append(target.connect(10))
        except OSError:
            refused += 1
    served = 0
    for sock in socks:
        try:
            sock.sendall(("GET /v1/models HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n" % (target.host, key)).encode())
            status, _ = read_response(sock, time.monotonic() + 10)
            served += status == 200
            refused += status != 200
        except OSError:
            refused += 1
    for sock in socks:
        sock.close()
    return {"opened": count, "served": served, "refused": refused}


def run_for(seconds, jobs):
    threads = [threading.Thread(target=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    return threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--key", default=os.environ.get("GATEWAY_KEY", ""), help="default: $GATEWAY_KEY")
    parser.add_argument("--model", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--baseline-seconds", type=float, default=8)
    parser.add_argument("--wrong-key-threads", type=int, default=4)
    parser.add_argument("--slow", type=int, default=8, help="slow-header and slow-body connections each")
    parser.add_argument("--header-timeout", type=float, required=True, help="the gateway's timeout http-request (s)")
    parser.add_argument("--body-timeout", type=float, required=True, help="the gateway's wait for a body (s)")
    parser.add_argument("--max-body", type=int, required=True, help="the gateway's body limit (bytes)")
    parser.add_argument("--source-connections", type=int, required=True, help="the gateway's per-source connection cap")
    args = parser.parse_args()
    target = Target(args.url, args.ca)

    baseline, stop = [], threading.Event()
    for thread in run_for(args.baseline_seconds, [lambda: keyed_client(target, args.key, args.model, stop, baseline)]):
        stop.set()
        thread.join()

    during, wrong, headers_cut, bodies, big, chunked = [], [], [], [], [], []
    stop = threading.Event()
    jobs = [lambda: keyed_client(target, args.key, args.model, stop, during)]
    jobs += [lambda: wrong_keys(target, stop, wrong) for _ in range(args.wrong_key_threads)]
    jobs += [lambda: slow_headers(target, args.header_timeout + 15, headers_cut) for _ in range(args.slow)]
    jobs += [lambda: slow_body(target, args.key, args.body_timeout + 15, bodies) for _ in range(args.slow)]
    jobs += [lambda: [big_headers(target, big) for _ in range(3)]]
    jobs += [lambda: [chunked_body(target, args.key, args.max_body * 4, chunked) for _ in range(3)]]
    threads = run_for(args.seconds, jobs)
    stop.set()
    for thread in threads:
        thread.join(args.header_timeout + args.body_timeout + 40)

    cap = connection_cap(target, args.key, args.source_connections + 20)
    report = {
        "keyed_baseline": summary(baseline),
        "keyed_during_abuse": summary(during),
        "wrong_keys": {"sent": len(wrong), "statuses": {str(s): wrong.count(s) for s in sorted(set(wrong))}},
        "slow_headers_cut_after_s": sorted(headers_cut),
        "slow_bodies": sorted(bodies),
        "oversized_headers": big,
        "oversized_chunked_bodies": chunked,
        "connections_from_one_source": cap,
    }
    failed = []
    if report["keyed_during_abuse"]["errors"] or not during:
        failed.append("the keyed client failed during the abuse")
    if set(wrong) - {401, 429} or 429 not in wrong:
        failed.append("wrong keys must get 401 and, past the per-source limit, 429")
    if len(headers_cut) != args.slow or max(headers_cut) > args.header_timeout + 3:
        failed.append("slow headers must be cut within the request timeout")
    if len(bodies) != args.slow or any(s not in (408, 0) or t > args.body_timeout + 3 for s, t in bodies):
        failed.append("slow bodies must be answered 408 (or cut) within the body timeout")
    if not big or set(big) - {400, 431}:
        failed.append("oversized headers must be refused with 400 or 431")
    if not chunked or set(chunked) != {413}:
        failed.append("chunked bodies over the limit must be refused with 413")
    if cap["served"] > args.source_connections or cap["refused"] < 20:
        failed.append("one source must not hold more than the per-source connection cap")
    report["failed"] = failed
    print(json.dumps(report, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
