"""Write or check objects on the scenario's MinIO with the SDK; sha256 of every object kept in a manifest.

Usage: objects.py put|check|heal ENDPOINT CA_FILE ROOT_SECRET_FILE MANIFEST [PREFIX COUNT]; prints one JSON document.
heal starts a recursive heal of the bucket through the admin API (what `mc admin heal -r` asks for) and
polls it until the server reports it finished.
"""

import hashlib
import io
import json
import os
import sys
import time
import types

import urllib3
from minio import Minio, MinioAdmin
from minio.credentials import StaticProvider

action, endpoint, ca_file, secret_file, manifest = sys.argv[1:6]
with open(secret_file) as handle:
    secret = handle.read().strip()
client = Minio(endpoint.split("://", 1)[1], access_key="llm-infra-root", secret_key=secret, secure=True,
               region="us-east-1",
               http_client=urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_file,
                                               timeout=urllib3.Timeout(connect=5, read=30), retries=False))
known = {}
if os.path.exists(manifest):
    with open(manifest) as handle:
        known = json.load(handle)

if action == "put":
    prefix, count = sys.argv[6], int(sys.argv[7])
    for index in range(count):
        # Mostly small objects, one larger than a multipart part (5 MiB) to cover multipart healing.
        data = os.urandom(6 * 1024 * 1024 if index == 0 else 64 * 1024)
        key = "%s/object-%03d.bin" % (prefix, index)
        client.put_object("resilience", key, io.BytesIO(data), len(data), part_size=5 * 1024 * 1024)
        known[key] = hashlib.sha256(data).hexdigest()
    with open(manifest, "w") as handle:
        json.dump(known, handle)
    print(json.dumps({"written": count, "total": len(known)}))
elif action == "heal":
    admin = MinioAdmin(endpoint=endpoint.split("://", 1)[1], credentials=StaticProvider("llm-infra-root", secret),
                       secure=True, http_client=urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_file))
    # The SDK has no heal call; its request signer takes any admin path.
    command = types.SimpleNamespace(value="heal/resilience")
    opts = {"recursive": True, "dryRun": False, "remove": False, "scanMode": 1}
    # A node that just came back may still count as offline on the node running the heal: such a heal finishes
    # without writing to it. Heal again until no drive of any healed item is reported offline afterwards.
    for attempt in range(1, 11):
        started = json.loads(admin._url_open(method="POST", command=command, query_params={"forceStart": "true"},
                                             body=json.dumps(opts).encode()).data)
        status, items, offline = {}, 0, 0
        for _ in range(60):
            time.sleep(2)
            status = json.loads(admin._url_open(method="POST", command=command,
                                                query_params={"clientToken": started["clientToken"]}, body=b"").data)
            for item in status.get("Items") or []:
                items += 1
                offline += sum(1 for drive in (item.get("after") or {}).get("drives") or []
                               if drive.get("state") == "offline")
            if status.get("Summary") in ("finished", "stopped"):
                break
        if status.get("Summary") == "finished" and offline == 0:
            break
        time.sleep(3)
    print(json.dumps({"summary": status.get("Summary"), "items": items, "offline_after": offline,
                      "attempts": attempt, "detail": status.get("Detail", "")}))
else:
    bad = []
    for key, digest in sorted(known.items()):
        response = client.get_object("resilience", key)
        try:
            if hashlib.sha256(response.read()).hexdigest() != digest:
                bad.append(key)
        finally:
            response.close()
            response.release_conn()
    print(json.dumps({"checked": len(known), "bad": bad}))
