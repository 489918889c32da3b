#!/usr/bin/env python3
"""Watch one server of HAProxy through the admin socket: its state changes and its session count.

Polls `show stat` every 50 ms for --seconds (or until --stop-file exists) and prints JSON: the transitions
[[unix time, status], ...] and the total sessions (stot) of the server at each transition and at the end.
"""

import argparse
import csv
import io
import json
import os
import socket
import time


def show_stat(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(b"show stat\n")
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    return list(csv.DictReader(io.StringIO(data.decode().lstrip("# "))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", default="/run/haproxy/admin.sock")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--stop-file", default="")
    args = parser.parse_args()
    transitions = []
    last = None
    end = time.time() + args.seconds
    row = {}
    while time.time() < end and not (args.stop_file and os.path.exists(args.stop_file)):
        for row in show_stat(args.socket):
            if row["pxname"] == args.backend and row["svname"] == args.server:
                status = row["status"].split(" ")[0]
                if status != last:
                    transitions.append([round(time.time(), 3), status, int(row["stot"])])
                    last = status
                break
        time.sleep(0.05)
    print(json.dumps({"transitions": transitions, "stot_end": int(row.get("stot", 0))}))


if __name__ == "__main__":
    main()
