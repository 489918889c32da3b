"""Unit tests of the model_stage module: stamp trust, tamper detection, resume, atomic replace, failure keeps the old file."""

from __future__ import annotations

import grp
import hashlib
import io
import os
import pwd

import pytest

from ansible_collections.llm_infra.cluster.plugins.modules import model_stage

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeResponse:
    def __init__(self, data: bytes, code: int):
        self._stream = io.BytesIO(data)
        self._code = code

    def getcode(self):
        return self._code

    def read(self, size=-1):
        return self._stream.read(size)


class FakeServer:
    """Serves one body; honours Range; can break after a number of bytes on the first request."""

    def __init__(self, body: bytes, break_after: int | None = None):
        self.body = body
        self.break_after = break_after
        self.requests = []

    def __call__(self, url, headers=None, **_kwargs):
        self.requests.append(dict(headers or {}))
        offset = 0
        if headers and "Range" in headers:
            offset = int(headers["Range"].split("=")[1].rstrip("-"))
        data = self.body[offset:]
        if self.break_after is not None:
            cut, self.break_after = self.break_after, None
            response = FakeResponse(data[:cut], 206 if offset else 200)
            original = response.read

            def read(size=-1):
                chunk = original(size)
                if not chunk:
                    raise ConnectionResetError("connection reset")
                return chunk

            response.read = read
            return response
        return FakeResponse(data, 206 if offset else 200)


def params(path, digest, **extra):
    base = dict(name="tiny", path=str(path), sha256=digest, url=None, url_headers={}, url_ca="", src=None,
                owner=OWNER, group=GROUP, mode="0640", state="present", full_verify=False, retries=3, timeout=5)
    base.update(extra)
    return base


def test_download_then_second_run_trusts_the_stamp(tmp_path):
    body = os.urandom(100_000)
    server = FakeServer(body)
    target = tmp_path / "m" / "model.gguf"
    target.parent.mkdir()
    first = model_stage.run(params(target, sha(body), url="http://x/model.gguf"), False, opener=server)
    assert first["changed"] and first["replaced"] and first["bytes_downloaded"] == len(body)
    assert target.read_bytes() == body
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert not (tmp_path / "m" / ".model.gguf.partial").exists()

    def no_hash(_path):
        raise AssertionError("the file must not be hashed when its stamp matches")

    original = model_stage.sha256_file
    model_stage.sha256_file = no_hash
    try:
        second = model_stage.run(params(target, sha(body), url="http://x/model.gguf"), False, opener=server)
    finally:
        model_stage.sha256_file = original
    assert second == {**second, "changed": False, "replaced": False, "current": True, "verified_by": "stamp"}
    assert len(server.requests) == 1


def test_tampered_file_is_detected_and_replaced(tmp_path):
    body = os.urandom(50_000)
    server = FakeServer(body)
    target = tmp_path / "model.gguf"
    model_stage.run(params(target, sha(body), url="http://x/m"), False, opener=server)
    # Same size, different bytes: mtime changes, so the stamp no longer matches and the file is hashed.
    with open(target, "r+b") as handle:
        handle.write(b"\0" * 10)
    result = model_stage.run(params(target, sha(body), url="http://x/m"), False, opener=server)
    assert result["verified_by"] == "hash" and result["replaced"]
    assert target.read_bytes() == body


def test_partial_file_in_place_is_not_trusted(tmp_path):
    body = os.urandom(50_000)
    target = tmp_path / "model.gguf"
    target.write_bytes(body[:1000])
    result = model_stage.run(params(target, sha(body), state="check"), False)
    assert result["current"] is False and result["verified_by"] == "hash" and not result["changed"]


def test_broken_download_resumes_with_a_range_request(tmp_path):
    body = os.urandom(300_000)
    server = FakeServer(body, break_after=120_000)
    target = tmp_path / "model.gguf"
    result = model_stage.run(params(target, sha(body), url="http://x/m"), False, opener=server, sleep=lambda _s: None)
    assert target.read_bytes() == body
    assert server.requests[1].get("Range", "").startswith("bytes=")
    assert result["bytes_downloaded"] == len(body)


def test_bad_checksum_keeps_the_old_file_and_names_the_model(tmp_path):
    old = os.urandom(20_000)
    target = tmp_path / "model.gguf"
    model_stage.run(params(target, sha(old), url="http://x/m"), False, opener=FakeServer(old))
    inode = target.stat().st_ino
    wrong = os.urandom(20_000)
    with pytest.raises(ValueError, match="model 'tiny'.*is kept"):
        model_stage.run(params(target, sha(os.urandom(8)), url="http://x/m"), False, opener=FakeServer(wrong))
    assert target.read_bytes() == old and target.stat().st_ino == inode
    assert not (tmp_path / ".model.gguf.partial").exists()


def test_replacement_is_a_new_inode_so_open_readers_keep_the_old_one(tmp_path):
    old, new = os.urandom(10_000), os.urandom(10_000)
    target = tmp_path / "model.gguf"
    model_stage.run(params(target, sha(old), url="http://x/m"), False, opener=FakeServer(old))
    with open(target, "rb") as reader:
        model_stage.run(params(target, sha(new), url="http://x/m"), False, opener=FakeServer(new))
        assert reader.read() == old
    assert target.read_bytes() == new


def test_src_file_is_verified_and_moved(tmp_path):
    body = os.urandom(10_000)
    src = tmp_path / ".model.gguf.partial"
    src.write_bytes(body)
    target = tmp_path / "model.gguf"
    result = model_stage.run(params(target, sha(body), src=str(src)), False)
    assert result["replaced"] and target.read_bytes() == body and not src.exists()
    assert model_stage.read_stamp(str(target))["sha256"] == sha(body)


def test_check_mode_changes_nothing(tmp_path):
    body = os.urandom(1000)
    target = tmp_path / "model.gguf"
    server = FakeServer(body)
    result = model_stage.run(params(target, sha(body), url="http://x/m"), True, opener=server)
    assert result["changed"] and not target.exists() and server.requests == []


def test_invalid_checksum_is_refused(tmp_path):
    with pytest.raises(ValueError, match="64 hexadecimal"):
        model_stage.run(params(tmp_path / "m", "abc"), False)


def test_redact_drops_the_signature():
    assert model_stage.redact("https://h:9000/models/a.gguf?X-Amz-Signature=s") == "https://h:9000/models/a.gguf"
