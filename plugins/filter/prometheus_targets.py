# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Build Prometheus scrape targets from the service declarations of base's declare_service (contracts.md §2).

A declaration is a local fact of the managed host: data that host controls. It may say which port and path to
scrape; it never decides which credential Prometheus sends. That comes from the controller's scrape-auth table
(`scrape_auth`, built by playbooks/monitoring.yml from the inventory), which also says which inventory groups may
declare a job that carries one. A declaration that asks for anything else is refused, naming host and fact.
"""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# prometheus_target_problems.yml, prometheus_targets_from_facts.yml.

import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.plugin_utils._facts import FACT_PREFIX, local_facts
from ansible_collections.llm_infra.cluster.plugins.plugin_utils._validate import valid_address, valid_port

# Job names become file names on the Prometheus host (<job>.secret) and label values.
JOB_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# A path, optionally with a query of plain name=value pairs (OpenBao serves /v1/sys/metrics?format=prometheus).
PATH_RE = re.compile(r"/[A-Za-z0-9._/~-]{0,200}(\?[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*(&[A-Za-z0-9._~-]+=[A-Za-z0-9._~-]*)*)?")
AUTH_FIELDS = ("auth", "credential", "username", "token")
AUTH_KINDS = ("none", "basic", "bearer")


def scrape_auth_problems(scrape_auth):
    """Problems of the controller's table itself (it comes from the inventory: name the variable)."""
    if not isinstance(scrape_auth, list):
        return ["prometheus_scrape_auth must be a list of {jobs, groups, auth, credential, username, token}"]
    problems = []
    for index, entry in enumerate(scrape_auth):
        where = "prometheus_scrape_auth[%d]" % index
        if not isinstance(entry, dict):
            problems.append("%s must be a dict" % where)
            continue
        try:
            re.compile(str(entry.get("jobs", "")))
        except re.error as exc:
            problems.append("%s.jobs is not a regular expression: %s" % (where, exc))
        if not entry.get("jobs"):
            problems.append("%s.jobs must be a regular expression matching whole job names" % where)
        if not isinstance(entry.get("groups"), list) or not entry.get("groups"):
            problems.append("%s.groups must list the inventory groups whose hosts may declare these jobs" % where)
        if entry.get("auth") not in ("basic", "bearer"):
            problems.append("%s.auth must be basic or bearer, got %r" % (where, entry.get("auth")))
        if not entry.get("credential"):
            problems.append("%s.credential must name the credential Prometheus sends" % where)
        if entry.get("auth") == "basic" and not entry.get("username"):
            problems.append("%s.username is required for basic auth" % where)
        if entry.get("token", "credential") not in ("credential", "minio_jwt"):
            problems.append("%s.token must be credential or minio_jwt, got %r" % (where, entry.get("token")))
        if entry.get("token") == "minio_jwt" and not entry.get("username"):
            problems.append("%s.username (the MinIO user) is required with token minio_jwt" % where)
    return problems


def _auth_entry(job, scrape_auth):
    for entry in scrape_auth:
        if re.fullmatch(str(entry["jobs"]), job):
            return entry
    return None


def _controller_auth(entry):
    auth = {"auth": str(entry["auth"]), "credential": str(entry["credential"])}
    if entry["auth"] == "basic":
        auth["username"] = str(entry["username"])
    else:
        auth["token"] = str(entry.get("token", "credential"))
        if entry.get("username"):
            auth["username"] = str(entry["username"])
    return auth


def target_from_declaration(host, address, declaration, scrape_auth=None, host_groups=None, where=None):
    """One target dict from one declaration (None when it declares no metrics), and the problems found.

    Returns (target, problems). The declaration's port, scheme, path and job are validated; its auth comes from
    the controller's `scrape_auth` entry for the job, and must be allowed for one of `host_groups`.
    """
    where = where or "%s: %s%s" % (host, FACT_PREFIX, declaration.get("name", "?"))
    metrics = declaration.get("metrics") or {}
    if not metrics:
        return None, []
    if not isinstance(metrics, dict):
        return None, ["%s: metrics must be a dict, got %r" % (where, metrics)]
    problems = []
    service = str(declaration.get("name") or "")
    job = str(metrics.get("job", service))
    if not JOB_RE.fullmatch(job):
        problems.append("%s: job %r must be letters, digits and '_' (at most 63)" % (where, job))
    if not valid_port(metrics.get("port")):
        problems.append("%s: port %r must be an integer 1-65535" % (where, metrics.get("port")))
    scheme = str(metrics.get("scheme", "http"))
    if scheme not in ("http", "https"):
        problems.append("%s: scheme %r must be http or https" % (where, scheme))
    path = str(metrics.get("path", "/metrics"))
    if not PATH_RE.fullmatch(path):
        problems.append("%s: path %r must be a plain absolute path" % (where, path))
    if address is None or not valid_address(address):
        problems.append("%s: the host's llm_infra_private_address %r is not an IP address or host name" % (host, address))
    declared_auth = str(metrics.get("auth", "none"))
    if declared_auth not in AUTH_KINDS:
        problems.append("%s: auth %r must be one of %s" % (where, declared_auth, ", ".join(AUTH_KINDS)))
    if problems:
        return None, problems

    entry = _auth_entry(job, scrape_auth or [])
    target = {"job": job, "host": host, "address": str(address), "port": int(str(metrics["port"])),
              "scheme": scheme, "path": path}
    if entry is None:
        asked = {f: metrics[f] for f in AUTH_FIELDS if f in metrics and not (f == "auth" and metrics[f] == "none")}
        if asked:
            return None, [
                "%s: job %r asks for %s, but prometheus_scrape_auth gives this job no credential; a host's facts "
                "never choose the credential Prometheus sends" % (where, job, ", ".join("%s=%r" % kv for kv in sorted(asked.items())))
            ]
        target["auth"] = "none"
        return target, []

    allowed = [str(g) for g in entry["groups"]]
    if not set(allowed) & set(host_groups or []):
        return None, [
            "%s: job %r carries a credential that only hosts of %s may be scraped with; %s is in none of them"
            % (where, job, ", ".join(allowed), host)
        ]
    auth = _controller_auth(entry)
    # Declarations may repeat what the controller decides (roles write it for readers of the fact); any other
    # value is a host asking for a credential it was not given.
    differing = {f: metrics[f] for f in AUTH_FIELDS if f in metrics and str(metrics[f]) != auth.get(f, "credential" if f == "token" else None)}
    if "auth" in differing and str(metrics["auth"]) == "none":
        differing.pop("auth")
    if differing:
        return None, [
            "%s: job %r asks for %s, but the controller gives this job %s; a host's facts never choose the "
            "credential Prometheus sends" % (
                where, job, ", ".join("%s=%r" % kv for kv in sorted(differing.items())),
                ", ".join("%s=%r" % kv for kv in sorted(auth.items())))
        ]
    target.update(auth)
    return target, []


def prometheus_targets_from_facts(hosts, hostvars, scrape_auth=None, groups=None):
    """Targets of every declaration with metrics on `hosts`; raises with every problem found."""
    scrape_auth = scrape_auth or []
    problems = scrape_auth_problems(scrape_auth)
    if problems:
        raise AnsibleFilterError("prometheus_targets_from_facts: " + "; ".join(problems))
    groups = groups or {}
    targets = []
    for host in hosts:
        host_vars = hostvars[host]
        try:
            address = host_vars["llm_infra_private_address"]
        except (KeyError, TypeError):
            address = None
        host_groups = [name for name, members in groups.items() if host in (members or [])]
        local = local_facts(host_vars)
        for key in sorted(local):
            if not key.startswith(FACT_PREFIX):
                continue
            if not isinstance(local[key], dict):
                problems.append("%s: %s must be a dict" % (host, key))
                continue
            declaration = dict(local[key])
            declaration.setdefault("name", key[len(FACT_PREFIX):])
            target, found = target_from_declaration(host, address, declaration, scrape_auth, host_groups, "%s: %s" % (host, key))
            problems += found
            if target is not None:
                targets.append(target)
    if problems:
        raise AnsibleFilterError(
            "prometheus_targets_from_facts refused the service declarations of the managed hosts (no configuration "
            "was written): " + "; ".join(problems)
        )
    return targets


ROLE_JOB_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_:-]*")


def prometheus_target_problems(targets):
    """Every problem of the prometheus role's `prometheus_targets`, each naming the entry; empty when all is well."""
    if not isinstance(targets, list):
        return ["prometheus_targets must be a list of {job, host, address, port, scheme, path, auth, credential}"]
    problems = []
    first_of_job = {}
    for index, target in enumerate(targets):
        where = "prometheus_targets[%d]" % index
        if not isinstance(target, dict):
            problems.append("%s must be a dict" % where)
            continue
        job, host = str(target.get("job", "")), str(target.get("host", "?"))
        if not ROLE_JOB_RE.fullmatch(job):
            problems.append("%s.job %s must be a job name (letters, digits, _ - :)" % (where, _json(target.get("job", ""))))
        if not valid_address(target.get("address", "")):
            problems.append("%s.address %s of host %s must be an IP address or host name (llm_infra_private_address)"
                            % (where, _json(target.get("address", "")), host))
        port = str(target.get("port", ""))
        if not valid_port(port):
            problems.append("%s.port %s (job %s, host %s) is missing or not a port 1-65535" % (where, _json(port), job or "?", host))
        if target.get("scheme", "http") not in ("http", "https"):
            problems.append("%s.scheme %s must be http or https" % (where, _json(target.get("scheme"))))
        if not PATH_RE.fullmatch(str(target.get("path", "/metrics"))):
            problems.append("%s.path %s must be a plain absolute path" % (where, _json(target.get("path"))))
        auth = target.get("auth", "none")
        if auth not in AUTH_KINDS:
            problems.append("%s.auth %s must be none, basic or bearer" % (where, _json(auth)))
        elif auth != "none" and not str(target.get("credential", "")):
            problems.append("%s.credential must name the credential of its %s auth" % (where, auth))
        token = target.get("token", "credential")
        if token not in ("credential", "minio_jwt"):
            problems.append("%s.token %s must be credential or minio_jwt" % (where, _json(token)))
        elif token == "minio_jwt" and not str(target.get("username", "")):
            problems.append("%s.username must name the MinIO user whose secret signs the token (token minio_jwt)" % where)
        shape = (target.get("scheme", "http"), target.get("path", "/metrics"), auth, str(target.get("credential", "")))
        if first_of_job.setdefault(job, shape) != shape:
            problems.append("%s: every target of job %s must share scheme, path, auth and credential" % (where, job or "?"))
    return problems


def _json(value):
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(str(value))


class FilterModule:
    def filters(self):
        return {
            "prometheus_target_problems": prometheus_target_problems,
            "prometheus_targets_from_facts": prometheus_targets_from_facts,
        }
