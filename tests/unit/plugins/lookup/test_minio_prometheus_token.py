"""Unit tests of the minio_prometheus_token lookup: the JWT decoded and its HS512 signature verified here by hand,
then the token presented to a real MinIO server, which must accept it and refuse tampered or expired ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.llm_infra.cluster.plugins.lookup import minio_prometheus_token


def b64url_decode(part: str) -> bytes:
    assert "=" not in part and "+" not in part and "/" not in part, "JWT parts are unpadded base64url"
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_verified(token: str, secret: str):
    """(header, claims) of a compact JWS, after checking its HMAC-SHA512 signature with `secret` (RFC 7515/7518)."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    expected = hmac.new(secret.encode(), (header_b64 + "." + claims_b64).encode(), hashlib.sha512).digest()
    if not hmac.compare_digest(expected, b64url_decode(signature_b64)):
        raise ValueError("bad signature")
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))


def test_token_has_the_claims_minio_checks_and_a_valid_hs512_signature(lookup):
    [token] = lookup("minio_prometheus_token", access_key="prometheus", secret_key="s3cr3t-ÄÖ-value", expires_at=1900000000)
    header, claims = decode_verified(token, "s3cr3t-ÄÖ-value")
    assert header == {"alg": "HS512", "typ": "JWT"}
    assert claims == {"exp": 1900000000, "sub": "prometheus", "iss": "prometheus"}
    with pytest.raises(ValueError, match="bad signature"):
        decode_verified(token, "another-secret")


def test_default_expiry_is_2100_and_the_token_is_stable(lookup):
    first = lookup("minio_prometheus_token", access_key="prometheus", secret_key="secret")
    second = lookup("minio_prometheus_token", access_key="prometheus", secret_key="secret")
    assert first == second
    assert decode_verified(first[0], "secret")[1]["exp"] == 4102444800


def test_token_changes_with_the_secret_and_the_user():
    base = minio_prometheus_token.make_token("prometheus", "secret", 4102444800)
    assert minio_prometheus_token.make_token("prometheus", "secret2", 4102444800) != base
    other_user = minio_prometheus_token.make_token("other", "secret", 4102444800)
    assert decode_verified(other_user, "secret")[1]["sub"] == "other"


def test_missing_secret_is_refused(lookup):
    with pytest.raises(Exception, match="secret_key"):
        lookup("minio_prometheus_token", access_key="prometheus")


def scrape(server, token):
    request = urllib.request.Request(server.endpoint + "/minio/v2/metrics/cluster",
                                     headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_real_minio_accepts_the_token_of_its_user(minio_server, lookup):
    [token] = lookup("minio_prometheus_token", access_key=minio_server.access_key, secret_key=minio_server.secret_key)
    status, body = scrape(minio_server, token)
    assert status == 200, body
    assert "minio_" in body


def test_real_minio_refuses_a_wrong_secret_an_expired_token_and_a_forged_claim(minio_server, lookup):
    [wrong] = lookup("minio_prometheus_token", access_key=minio_server.access_key, secret_key="not-the-secret")
    assert scrape(minio_server, wrong)[0] == 403
    [expired] = lookup("minio_prometheus_token", access_key=minio_server.access_key,
                       secret_key=minio_server.secret_key, expires_at=int(time.time()) - 60)
    assert scrape(minio_server, expired)[0] == 403
    # The good signature on other claims: MinIO must check the signature, not just parse the claims.
    [good] = lookup("minio_prometheus_token", access_key=minio_server.access_key, secret_key=minio_server.secret_key)
    header_b64, _claims_b64, signature_b64 = good.split(".")
    forged_claims = b64url_encode(json.dumps({"exp": 4102444801, "sub": minio_server.access_key, "iss": "prometheus"},
                                             separators=(",", ":")).encode())
    assert scrape(minio_server, header_b64 + "." + forged_claims + "." + signature_b64)[0] == 403
