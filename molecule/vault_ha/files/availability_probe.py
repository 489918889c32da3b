"""Watch a raft cluster's members while the vault role restarts them: who is unsealed, and whether a secret reads.

Every --interval seconds (until --stop-file exists, or after --seconds) asks each member's sys/seal-status and
reads one KV secret through the first member that is unsealed. Prints JSON: samples, per member how many samples
saw it down (no answer or sealed) and when it was first and last down, the most members down in one sample, and the
read failures with the longest stretch without a successful read.
"""

import argparse
import json
import os
import ssl
import time
import urllib.error
import urllib.request


def get(url, context, token=None, timeout=1.0):
    request = urllib.request.Request(url, headers={"X-Vault-Token": token} if token else {})
    with urllib.request.urlopen(request, context=context, timeout=timeout) as answer:
        return json.load(answer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--member", action="append", required=True, help="NAME=https://address:port")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--secret-path", required=True)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--stop-file", required=True)
    args = parser.parse_args()
    members = dict(entry.split("=", 1) for entry in args.member)
    with open(args.token_file, encoding="ascii") as handle:
        token = handle.read().strip()
    os.unlink(args.token_file)
    context = ssl.create_default_context(cafile=args.ca)
    down = {name: {"samples": 0, "first": None, "last": None} for name in members}
    samples = most_down = read_failures = 0
    last_read = started = time.time()
    longest_gap = 0.0
    while time.time() - started < args.seconds and not os.path.exists(args.stop_file):
        now = time.time()
        samples += 1
        unsealed = []
        for name, url in members.items():
            try:
                if not get(url + "/v1/sys/seal-status", context)["sealed"]:
                    unsealed.append(name)
                    continue
            except (OSError, ValueError, KeyError, urllib.error.URLError):
                pass
            entry = down[name]
            entry["samples"] += 1
            entry["first"] = entry["first"] or round(now - started, 2)
            entry["last"] = round(now - started, 2)
        most_down = max(most_down, len(members) - len(unsealed))
        read = False
        for name in unsealed:
            try:
                read = "data" in get(members[name] + "/v1/" + args.secret_path, context, token)["data"]
                break
            except (OSError, ValueError, KeyError, urllib.error.URLError):
                continue
        if read:
            last_read = time.time()
        else:
            read_failures += 1
            longest_gap = max(longest_gap, time.time() - last_read)
        time.sleep(max(0.0, args.interval - (time.time() - now)))
    print(json.dumps({"samples": samples, "seconds": round(time.time() - started, 1), "down": down,
                      "most_down_at_once": most_down, "read_failures": read_failures,
                      "longest_without_read_s": round(longest_gap, 2)}))


if __name__ == "__main__":
    main()
