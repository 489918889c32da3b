# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Shared helpers of the minio_* modules: connection options, SDK clients, and pure comparison logic."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

try:
    import urllib3
    from minio import Minio, MinioAdmin
    from minio.credentials import StaticProvider
    # S3Error is for the modules, which import it from here so that it exists without the SDK too.
    from minio.error import MinioAdminException, S3Error  # pylint: disable=unused-import

    HAS_MINIO = True
    MINIO_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the modules
    HAS_MINIO = False
    MINIO_IMPORT_ERROR = exc
    MinioAdminException = S3Error = Exception

# Options every minio_* and model_publish module takes (documented once in plugins/doc_fragments/minio.py).
CONNECTION_SPEC = dict(
    endpoint=dict(type="str", required=True),
    access_key=dict(type="str", required=True, no_log=True),
    secret_key=dict(type="str", required=True, no_log=True),
    ca_cert=dict(type="path", default=""),
    region=dict(type="str", default="us-east-1"),
    timeout=dict(type="int", default=60),
)


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def split_endpoint(url):
    """'https://10.0.0.5:9000' -> ('10.0.0.5:9000', True). A bare host:port means https."""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("endpoint %r must be an http(s) URL such as https://host:9000" % url)
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("endpoint %r must not have a path or query" % url)
    return parts.netloc, parts.scheme == "https"


def bucket_name_problem(name):
    """None when S3 accepts `name` as a bucket name, else the reason it would be rejected."""
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        return "must be 3-63 characters long"
    if not _BUCKET_RE.match(name):
        return "may hold only lower case letters, digits, dots and hyphens, and must start and end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "must not hold two adjacent dots or a dot next to a hyphen"
    if _IPV4_RE.match(name):
        return "must not look like an IP address"
    if name.startswith("xn--") or name.endswith("-s3alias"):
        return "must not start with xn-- or end with -s3alias"
    return None


def _as_list(value):
    if value is None:
        return []
    return sorted(value) if isinstance(value, list) else [value]


def normalize_policy(document):
    """A canonical form of an IAM policy, so equal policies compare equal whatever their spelling.

    Accepts a dict or a JSON string; single strings and one-element lists are the same, order of actions,
    resources and statements does not matter, and a missing Version means 2012-10-17.
    """
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    canonical = []
    for statement in statements:
        entry = {}
        for key, value in statement.items():
            if key in ("Action", "NotAction", "Resource", "NotResource"):
                entry[key] = _as_list(value)
            elif key == "Principal" and isinstance(value, dict):
                entry[key] = {k: _as_list(v) for k, v in value.items()}
            elif key == "Sid" and not value:
                continue
            else:
                entry[key] = value
        canonical.append(entry)
    canonical.sort(key=lambda item: json.dumps(item, sort_keys=True))
    return {"Version": document.get("Version", "2012-10-17"), "Statement": canonical}


def policy_from_admin(text):
    """The policy document out of an admin info-canned-policy answer (plain document or {Policy: ...})."""
    data = json.loads(text) if isinstance(text, (str, bytes)) else text
    if isinstance(data, dict) and "Policy" in data and "Statement" not in data:
        data = data["Policy"]
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
    return data


def split_policies(text):
    """MinIO reports attached policies as one comma separated string."""
    return sorted(p for p in (text or "").split(",") if p)


def lifecycle_rule_dicts(config):
    """Lifecycle rules of an SDK LifecycleConfig (or None) as plain comparable dicts, sorted by id."""
    rules = []
    for rule in (config.rules if config else []):
        prefix = ""
        if rule.rule_filter is not None and rule.rule_filter.prefix:
            prefix = rule.rule_filter.prefix
        rules.append({
            "id": rule.rule_id or "",
            "prefix": prefix,
            "enabled": rule.status == "Enabled",
            "expiration_days": rule.expiration.days if rule.expiration and rule.expiration.days else None,
            "noncurrent_expiration_days": (rule.noncurrent_version_expiration.noncurrent_days
                                           if rule.noncurrent_version_expiration else None),
            "abort_incomplete_days": (rule.abort_incomplete_multipart_upload.days_after_initiation
                                      if rule.abort_incomplete_multipart_upload else None),
        })
    return sorted(rules, key=lambda r: r["id"])


def wanted_rule_dicts(rules):
    """Module input rules in the same form as lifecycle_rule_dicts, validated."""
    out = []
    for index, rule in enumerate(rules or []):
        item = {
            "id": rule.get("id") or "",
            "prefix": rule.get("prefix") or "",
            "enabled": rule.get("enabled", True) is not False,
            "expiration_days": rule.get("expiration_days"),
            "noncurrent_expiration_days": rule.get("noncurrent_expiration_days"),
            "abort_incomplete_days": rule.get("abort_incomplete_days"),
        }
        if not item["id"]:
            raise ValueError("lifecycle[%d] needs an id" % index)
        actions = [item[k] for k in ("expiration_days", "noncurrent_expiration_days", "abort_incomplete_days")]
        if not any(actions):
            raise ValueError("lifecycle[%d] (%s) needs at least one of expiration_days, noncurrent_expiration_days, "
                             "abort_incomplete_days" % (index, item["id"]))
        if any(a is not None and int(a) < 1 for a in actions):
            raise ValueError("lifecycle[%d] (%s): days must be at least 1" % (index, item["id"]))
        out.append(item)
    ids = [r["id"] for r in out]
    if len(set(ids)) != len(ids):
        raise ValueError("lifecycle rule ids must be unique")
    return sorted(out, key=lambda r: r["id"])


def build_lifecycle(rules):
    """An SDK LifecycleConfig from wanted_rule_dicts output."""
    from minio.commonconfig import DISABLED, ENABLED, Filter
    from minio.lifecycleconfig import (AbortIncompleteMultipartUpload, Expiration, LifecycleConfig,
                                       NoncurrentVersionExpiration, Rule)
    sdk_rules = []
    for rule in rules:
        sdk_rules.append(Rule(
            status=ENABLED if rule["enabled"] else DISABLED,
            rule_filter=Filter(prefix=rule["prefix"]),
            rule_id=rule["id"],
            expiration=Expiration(days=rule["expiration_days"]) if rule["expiration_days"] else None,
            noncurrent_version_expiration=(NoncurrentVersionExpiration(noncurrent_days=rule["noncurrent_expiration_days"])
                                           if rule["noncurrent_expiration_days"] else None),
            abort_incomplete_multipart_upload=(AbortIncompleteMultipartUpload(rule["abort_incomplete_days"])
                                               if rule["abort_incomplete_days"] else None),
        ))
    return LifecycleConfig(sdk_rules)


def http_client(ca_cert, timeout):
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_cert or None,
        retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[500, 502, 503, 504]),
    )


def s3_client(params, access_key=None, secret_key=None):
    host, secure = split_endpoint(params["endpoint"])
    return Minio(host, access_key=access_key or params["access_key"], secret_key=secret_key or params["secret_key"],
                 secure=secure, region=params["region"], http_client=http_client(params["ca_cert"], params["timeout"]))


def admin_client(params):
    host, secure = split_endpoint(params["endpoint"])
    return MinioAdmin(endpoint=host, credentials=StaticProvider(params["access_key"], params["secret_key"]),
                      region=params["region"], secure=secure,
                      http_client=http_client(params["ca_cert"], params["timeout"]))


def admin_not_found(exc):
    """True when an admin API error says the user, group or policy does not exist."""
    return isinstance(exc, MinioAdminException) and (
        str(getattr(exc, "_code", "")) == "404" or "NoSuch" in str(getattr(exc, "_body", "")))


def require_sdk(module):
    if not HAS_MINIO:
        module.fail_json(msg="the minio Python SDK (7.2 or later) is required where this module runs: %s"
                         % MINIO_IMPORT_ERROR)
