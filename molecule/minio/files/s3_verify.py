"""Real S3 traffic against the scenario's MinIO with the minio SDK, TLS verified by the cluster CA.

Usage: s3_verify.py ENDPOINT CA_FILE CREDENTIALS_DIR MODEL_OBJECT MODEL_SHA256; prints one JSON document.
"""

import hashlib
import io
import json
import os
import sys

import urllib3
from minio import Minio
from minio.error import S3Error

endpoint, ca_file, creds, model_object, model_sha = sys.argv[1:6]
host = endpoint.split("://", 1)[1]


def secret(name):
    with open(os.path.join(creds, "minio", name)) as handle:
        return handle.read().strip()


def client(user, name):
    http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_file, retries=False)
    # The region is given, so no GetBucketLocation call (which the read-only users may not make) precedes a request.
    return Minio(host, access_key=user, secret_key=secret(name), secure=True, region="us-east-1", http_client=http)


def code_of(call):
    try:
        call()
    except S3Error as exc:
        return exc.code
    return "OK"


out = {}
root = client("llm-infra-root", "root")
payload = os.urandom(1024 * 1024)
root.put_object("verify-data", "check/object.bin", io.BytesIO(payload), len(payload))
got = root.get_object("verify-data", "check/object.bin")
out["root_roundtrip"] = hashlib.sha256(got.read()).hexdigest() == hashlib.sha256(payload).hexdigest()
got.close()
out["versioning"] = root.get_bucket_versioning("verify-data").status
out["lifecycle_ids"] = [r.rule_id for r in root.get_bucket_lifecycle("verify-data").rules]

reader = client("verify-reader", "verify-reader")
got = reader.get_object("verify-data", "check/object.bin")
out["reader_get"] = got.read() == payload
got.close()
out["reader_put"] = code_of(lambda: reader.put_object("verify-data", "check/denied.bin", io.BytesIO(b"x"), 1))
out["reader_list_buckets"] = code_of(reader.list_buckets)

models_reader = client("models-reader", "models-reader")
stat = models_reader.stat_object("models", model_object)
out["model_sha256_metadata"] = stat.metadata.get("x-amz-meta-sha256")
out["model_etag"] = stat.etag
out["model_size"] = stat.size
out["model_last_modified"] = stat.last_modified.isoformat()
out["models_reader_put"] = code_of(lambda: models_reader.put_object("models", "x/evil.bin", io.BytesIO(b"x"), 1))
out["models_reader_delete"] = code_of(lambda: models_reader.remove_object("models", model_object))

# The same client without the cluster CA must refuse the server's certificate.
try:
    Minio(host, access_key="llm-infra-root", secret_key=secret("root"), secure=True,
          http_client=urllib3.PoolManager(cert_reqs="CERT_REQUIRED", retries=False)).list_buckets()
    out["untrusted_ca_refused"] = False
except Exception as exc:  # noqa: BLE001 - any TLS failure is what we expect
    out["untrusted_ca_refused"] = "CERTIFICATE_VERIFY_FAILED" in str(exc)
print(json.dumps(out))
