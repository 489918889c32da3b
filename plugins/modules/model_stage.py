# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Module: put one model file in place on the host, verified by sha256, replaced atomically."""

from __future__ import annotations

DOCUMENTATION = r"""
module: model_stage
author: llm-infra maintainers (!UNKNOWN)
version_added: 0.3.0
short_description: Stage a model file on the host, verified by its sha256 and replaced atomically
description:
  - Keeps O(path) holding the file whose sha256 is O(sha256). The file in place is trusted without hashing only
    when the stamp next to it (C(<path>.sha256), JSON with sha256, size, mtime and inode) matches the file's
    current size, modification time and inode; otherwise it is hashed again, so a partial or edited file is found.
  - When the file in place is not the wanted one, the new file is downloaded from O(url) (resumed with HTTP
    range requests after a broken transfer, retried O(retries) times) or taken from O(src) (a file already
    transferred to the host), into a temporary name in the same folder. It is verified, then renamed over
    O(path) in one step, so a process that holds the old file open keeps reading the old inode.
  - When the new file does not match O(sha256) it is removed and the module fails naming O(name); the file in
    place is left untouched and keeps serving.
  - With O(state=check) nothing is written; the result only says whether the file in place is current.
options:
  name:
    description: Name of the model, used in messages.
    type: str
    required: true
  path:
    description: Final path of the model file on the host.
    type: path
    required: true
  sha256:
    description: Expected sha256 of the file (64 hexadecimal digits).
    type: str
    required: true
  url:
    description: HTTP(S) URL to download the file from (a presigned S3 GET URL works too).
    type: str
  url_headers:
    description: Extra HTTP headers of the download, e.g. an C(Authorization) header.
    type: dict
    default: {}
  url_ca:
    description: CA bundle that verifies the download server; empty uses the system trust store.
    type: path
    default: ""
  src:
    description: A file already on the host (e.g. copied from the controller) to verify and move into place. It is
      consumed (renamed) on success and removed on a checksum mismatch.
    type: path
  owner:
    description: Owner of the staged file.
    type: str
    default: root
  group:
    description: Group of the staged file.
    type: str
    default: root
  mode:
    description: Mode of the staged file.
    type: str
    default: "0640"
  state:
    description: C(present) stages the file; C(check) only reports whether the file in place is current.
    type: str
    default: present
    choices: [present, check]
  full_verify:
    description: Hash the file in place even when its stamp matches.
    type: bool
    default: false
  retries:
    description: Download attempts before giving up; each one resumes where the previous one stopped.
    type: int
    default: 5
  timeout:
    description: Seconds to wait for each network read.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    description: Reports whether the file would be replaced, downloads nothing.
notes:
  - Exactly one of O(url) and O(src) is needed with O(state=present) when the file in place is not current.
"""

EXAMPLES = r"""
- name: Stage a GGUF model from a web server
  llm_infra.cluster.model_stage:
    name: gemma3-270m
    path: /var/lib/llm-infra/models/gemma3-270m/gemma-3-270m-q4_k_m.gguf
    sha256: a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    url: https://models.internal/gemma-3-270m-q4_k_m.gguf
    url_ca: /etc/llm-infra/tls/ca.crt
    group: llama

- name: Ask whether the model in place is current
  llm_infra.cluster.model_stage:
    name: gemma3-270m
    path: /var/lib/llm-infra/models/gemma3-270m/gemma-3-270m-q4_k_m.gguf
    sha256: a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    state: check
"""

RETURN = r"""
path:
  description: Final path of the model file.
  type: str
  returned: always
sha256:
  description: The sha256 of the file now in place (the expected one).
  type: str
  returned: always
current:
  description: Whether the file in place already had the expected checksum before this run.
  type: bool
  returned: always
replaced:
  description: Whether a new file was moved into place (the content changed).
  type: bool
  returned: always
verified_by:
  description: How the file in place was judged, C(stamp) (size, mtime and inode matched the stamp), C(hash) or C(missing).
  type: str
  returned: always
bytes_downloaded:
  description: Bytes read from O(url) in this run (0 when nothing was downloaded).
  type: int
  returned: always
resumed_from:
  description: Offset the download resumed from (0 when it started from the beginning).
  type: int
  returned: always
"""

import grp
import hashlib
import json
import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

CHUNK = 4 * 1024 * 1024


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def stamp_path(path):
    return path + ".sha256"


def partial_path(path):
    return os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".partial")


def read_stamp(path):
    try:
        with open(stamp_path(path)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stamp_matches(path, stamp):
    """True when the stamp describes the file exactly as it is now (size, mtime and inode unchanged)."""
    if not stamp:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (
        stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("ino") == st.st_ino
        and isinstance(stamp.get("sha256"), str)
    )


def write_stamp(path, sha256):
    st = os.stat(path)
    data = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
    tmp = stamp_path(path) + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, stamp_path(path))
    return data


def inspect(path, sha256, full_verify):
    """Return (current, verified_by, actual_sha256_or_None) for the file in place."""
    if not os.path.isfile(path):
        return False, "missing", None
    stamp = read_stamp(path)
    if not full_verify and stamp_matches(path, stamp):
        return stamp["sha256"] == sha256, "stamp", stamp["sha256"]
    actual = sha256_file(path)
    return actual == sha256, "hash", actual


def download(url, dest, headers, ca_path, timeout, retries, sleep=time.sleep, opener=open_url):
    """Download url into dest, resuming a partial dest with a range request. Returns (bytes, resumed_from)."""
    total = 0
    first_offset = None
    last_error = None
    for attempt in range(max(retries, 1)):
        offset = os.path.getsize(dest) if os.path.exists(dest) else 0
        if first_offset is None:
            first_offset = offset
        req_headers = dict(headers or {})
        if offset:
            req_headers["Range"] = "bytes=%d-" % offset
        try:
            response = opener(url, headers=req_headers, ca_path=ca_path or None, timeout=timeout, follow_redirects="safe")
            status = response.getcode()
            if offset and status == 200:
                # The server ignored the range: start over.
                mode = "wb"
            elif offset and status == 206:
                mode = "ab"
            else:
                mode = "wb"
            if mode == "wb" and first_offset == offset:
                first_offset = 0
            with open(dest, mode) as handle:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    total += len(block)
                handle.flush()
                os.fsync(handle.fileno())
            return total, first_offset or 0
        except Exception as exc:  # pylint: disable=broad-except
            # A 416 means the partial file already holds everything the server has.
            if getattr(exc, "code", None) == 416 and offset:
                return total, first_offset or 0
            last_error = exc
            if attempt + 1 < max(retries, 1):
                sleep(min(2 ** attempt, 30))
    raise RuntimeError("download of %s failed after %d attempts: %s" % (redact(url), max(retries, 1), last_error))


def redact(url):
    """Drop the query string (a presigned URL's signature) from messages."""
    return url.split("?", 1)[0]


def set_attrs(path, owner, group, mode):
    uid = pwd.getpwnam(owner).pw_uid
    gid = grp.getgrnam(group).gr_gid
    st = os.stat(path)
    changed = False
    if st.st_uid != uid or st.st_gid != gid:
        os.chown(path, uid, gid)
        changed = True
    if (st.st_mode & 0o7777) != int(mode, 8):
        os.chmod(path, int(mode, 8))
        changed = True
    return changed


def run(params, check_mode, opener=open_url, sleep=time.sleep):
    """The module's logic; returns the result dict or raises ValueError with a message for fail_json."""
    name = params["name"]
    path = params["path"]
    sha256 = params["sha256"].lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("model '%s': sha256 must be 64 hexadecimal digits" % name)
    result = {"changed": False, "path": path, "sha256": sha256, "replaced": False,
              "bytes_downloaded": 0, "resumed_from": 0}
    current, verified_by, actual = inspect(path, sha256, params["full_verify"])
    result.update(current=current, verified_by=verified_by)

    if current:
        if params["state"] == "present" and not check_mode:
            if verified_by == "hash":
                write_stamp(path, sha256)
                result["changed"] = True
            if set_attrs(path, params["owner"], params["group"], params["mode"]):
                result["changed"] = True
                write_stamp(path, sha256)
        return result
    if params["state"] == "check":
        return result

    if not params.get("url") and not params.get("src"):
        raise ValueError("model '%s': %s is not current and neither url nor src was given" % (name, path))
    result["changed"] = True
    result["replaced"] = True
    if check_mode:
        return result

    if params.get("src"):
        temp = params["src"]
        if not os.path.isfile(temp):
            raise ValueError("model '%s': src %s does not exist on the host" % (name, temp))
    else:
        temp = partial_path(path)
        try:
            got, resumed = download(params["url"], temp, params.get("url_headers"), params.get("url_ca"),
                                    params["timeout"], params["retries"], sleep=sleep, opener=opener)
        except RuntimeError as exc:
            raise ValueError("model '%s': %s; the file in place is kept" % (name, exc))
        result.update(bytes_downloaded=got, resumed_from=resumed)

    new_sha = sha256_file(temp)
    if new_sha != sha256:
        os.unlink(temp)
        kept = ("no file was in place" if verified_by == "missing"
                else "the file in place (sha256 %s) is kept" % actual)
        raise ValueError("model '%s': the new file has sha256 %s, expected %s; it was removed and %s"
                         % (name, new_sha, sha256, kept))
    set_attrs(temp, params["owner"], params["group"], params["mode"])
    os.replace(temp, path)
    dir_fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    write_stamp(path, sha256)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            path=dict(type="path", required=True),
            sha256=dict(type="str", required=True),
            url=dict(type="str"),
            url_headers=dict(type="dict", default={}, no_log=True),
            url_ca=dict(type="path", default=""),
            src=dict(type="path"),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            mode=dict(type="str", default="0640"),
            state=dict(type="str", default="present", choices=["present", "check"]),
            full_verify=dict(type="bool", default=False),
            retries=dict(type="int", default=5),
            timeout=dict(type="int", default=60),
        ),
        mutually_exclusive=[("url", "src")],
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except (ValueError, KeyError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
