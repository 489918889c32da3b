"""Unit tests of the minio_presign lookup: its URLs checked against a SigV4 query signature computed here from the
AWS specification (itself checked against the example in the AWS S3 documentation), then used on a real MinIO."""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import minio.time
import pytest

ACCESS = "models-reader"
SECRET = "reader-secret-0123456789"
FROZEN = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _uri_encode(text: str, safe: str = "") -> str:
    return quote(text, safe="-_.~" + safe)


def reference_presign(host, path, access_key, secret_key, region, when, expires, method="GET"):
    """The X-Amz-* query of a presigned request, signature included (AWS Signature Version 4, query string auth)."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], region)
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "%s/%s" % (access_key, scope),
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    canonical_query = "&".join("%s=%s" % (_uri_encode(k), _uri_encode(v)) for k, v in sorted(query.items()))
    canonical_request = "\n".join([method, _uri_encode(path, "/"), canonical_query, "host:%s\n" % host, "host",
                                   "UNSIGNED-PAYLOAD"])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = _hmac(key, part)
    query["X-Amz-Signature"] = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return query


def test_reference_reproduces_the_aws_documentation_example():
    # "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", Amazon S3 API Reference.
    query = reference_presign("examplebucket.s3.amazonaws.com", "/test.txt", "AKIAIOSFODNN7EXAMPLE",
                              "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                              datetime(2013, 5, 24, tzinfo=timezone.utc), 86400)
    assert query["X-Amz-Signature"] == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(minio.time, "utcnow", lambda: FROZEN)


def presign(lookup, *keys, **options):
    base = dict(endpoint="https://10.0.0.5:9000", bucket="models", access_key=ACCESS, secret_key=SECRET)
    base.update(options)
    return lookup("minio_presign", *keys, **base)


def split(url):
    parts = urlsplit(url)
    return parts, dict(parse_qsl(parts.query, keep_blank_values=True))


@pytest.mark.parametrize("key", ["gemma3-270m/gemma-3-270m-q4_k_m.gguf", "dir/with space+plus&amp=.gguf", "ünï/cödé.gguf"])
def test_url_is_signed_as_sigv4_specifies(lookup, frozen_clock, key):
    [url] = presign(lookup, key, expires=900, region="eu-central-1")
    parts, query = split(url)
    assert (parts.scheme, parts.netloc) == ("https", "10.0.0.5:9000")
    assert unquote(parts.path) == "/models/" + key
    assert query == reference_presign("10.0.0.5:9000", "/models/" + key, ACCESS, SECRET, "eu-central-1", FROZEN, 900)


def test_defaults_one_hour_us_east_1_and_one_url_per_key(lookup, frozen_clock):
    urls = presign(lookup, "a.gguf", "b/c.gguf", endpoint="http://[fd00::5]:9000")
    assert len(urls) == 2
    for url, key in zip(urls, ["a.gguf", "b/c.gguf"]):
        parts, query = split(url)
        assert parts.scheme == "http" and parts.netloc == "[fd00::5]:9000"
        assert query == reference_presign("[fd00::5]:9000", "/models/" + key, ACCESS, SECRET, "us-east-1", FROZEN, 3600)


def test_another_secret_gives_another_signature(lookup, frozen_clock):
    [mine] = presign(lookup, "a.gguf")
    [theirs] = presign(lookup, "a.gguf", secret_key=SECRET + "x")
    assert split(mine)[1]["X-Amz-Signature"] != split(theirs)[1]["X-Amz-Signature"]


@pytest.mark.parametrize("expires", [0, -5, 7 * 24 * 3600 + 1])
def test_expiry_outside_seven_days_is_refused(lookup, expires):
    with pytest.raises(Exception, match="expires must be 1-604800 seconds"):
        presign(lookup, "a.gguf", expires=expires)


def test_endpoint_with_a_path_is_refused(lookup):
    with pytest.raises(Exception, match="must not have a path"):
        presign(lookup, "a.gguf", endpoint="https://10.0.0.5:9000/models")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def stored_objects(minio_server):
    import io

    client = minio_server.client()
    if not client.bucket_exists("presign-test"):
        client.make_bucket("presign-test")
    bodies = {"m/model one.gguf": b"GGUF" + bytes(range(256)) * 64, "m/other.gguf": b"other"}
    for key, body in bodies.items():
        client.put_object("presign-test", key, io.BytesIO(body), len(body))
    return bodies


def real_presign(lookup, minio_server, key, **options):
    settings = dict(endpoint=minio_server.endpoint, bucket="presign-test", access_key=minio_server.access_key,
                    secret_key=minio_server.secret_key)
    settings.update(options)
    return presign(lookup, key, **settings)[0]


def test_real_minio_serves_the_object_to_the_url(lookup, minio_server, stored_objects):
    url = real_presign(lookup, minio_server, "m/model one.gguf")
    assert fetch(url) == (200, stored_objects["m/model one.gguf"])


def test_real_minio_refuses_a_changed_url(lookup, minio_server, stored_objects):
    url = real_presign(lookup, minio_server, "m/model one.gguf")
    # The same signature for another object of the bucket.
    assert fetch(url.replace("model%20one.gguf", "other.gguf"))[0] == 403
    signature = split(url)[1]["X-Amz-Signature"]
    assert fetch(url.replace(signature, signature[::-1]))[0] == 403
    wrong_secret = real_presign(lookup, minio_server, "m/model one.gguf", secret_key="not-the-secret")
    assert fetch(wrong_secret)[0] == 403


def test_real_minio_refuses_an_expired_url(lookup, minio_server, stored_objects, monkeypatch):
    monkeypatch.setattr(minio.time, "utcnow", lambda: datetime.now(timezone.utc) - timedelta(minutes=10))
    url = real_presign(lookup, minio_server, "m/model one.gguf", expires=60)
    assert fetch(url)[0] == 403
