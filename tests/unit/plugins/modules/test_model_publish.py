"""Unit tests of the model_publish module against a real MinIO server: upload with the sha256 metadata, the
skip when the object is already there, check mode, checksum refusal, multipart uploads and the input checks."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.llm_infra.cluster.plugins.modules import model_publish

BUCKET = "publish-test"
MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_module(args, capsys, check_mode=False):
    """The module's result as Ansible would receive it (main() through AnsibleModule, argument spec included)."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        model_publish.main()
    return json.loads(capsys.readouterr().out)


class CountingClient:
    """The real SDK client, counting uploads."""

    def __init__(self, client):
        self._client = client
        self.uploads = 0

    def stat_object(self, *args, **kwargs):
        return self._client.stat_object(*args, **kwargs)

    def fput_object(self, *args, **kwargs):
        self.uploads += 1
        return self._client.fput_object(*args, **kwargs)


@pytest.fixture(scope="module")
def s3(minio_server):
    client = minio_server.client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    return client


@pytest.fixture
def model(tmp_path, request):
    """A model file, and the module arguments that publish it under a key of its own."""
    body = os.urandom(200_000)
    path = tmp_path / "model.gguf"
    path.write_bytes(body)
    return body, path, dict(bucket=BUCKET, object="%s/model.gguf" % request.node.name[:60], src=str(path), sha256=sha(body))


def args_for(minio_server, params):
    return dict(params, endpoint=minio_server.endpoint, access_key=minio_server.access_key,
                secret_key=minio_server.secret_key)


def params_for(params):
    return dict(params, part_size=params.get("part_size", 64 * MIB))


def stored(s3, key):
    response = s3.get_object(BUCKET, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def test_uploads_with_its_sha256_then_leaves_it_alone(minio_server, s3, model, capsys):
    body, _path, params = model
    first = run_module(args_for(minio_server, params), capsys)
    assert first["changed"] and first["uploaded"] and first["size"] == len(body)
    assert stored(s3, params["object"]) == body
    stat = s3.stat_object(BUCKET, params["object"])
    assert stat.metadata["x-amz-meta-sha256"] == params["sha256"]
    assert first["etag"] == stat.etag and first["last_modified"] == stat.last_modified.isoformat()

    second = run_module(args_for(minio_server, params), capsys)
    assert not second["changed"] and not second["uploaded"]
    assert second["etag"] == first["etag"] and second["last_modified"] == first["last_modified"]
    # The secret is an argument with no_log: it never appears in the result.
    assert minio_server.secret_key not in json.dumps(second)


def test_present_object_is_neither_hashed_nor_uploaded_again(minio_server, s3, model):
    _body, _path, params = model
    client = CountingClient(s3)
    model_publish.publish(client, params_for(params), False)
    hashed = []
    result = model_publish.publish(client, params_for(params), False, hasher=hashed.append)
    assert client.uploads == 1 and hashed == [] and result["changed"] is False


def test_check_mode_reports_the_upload_and_writes_nothing(minio_server, s3, model, capsys):
    _body, _path, params = model
    result = run_module(args_for(minio_server, params), capsys, check_mode=True)
    assert result["changed"] and not result["uploaded"]
    assert model_publish.stat_or_none(s3, BUCKET, params["object"]) is None


def test_wrong_checksum_is_refused_and_nothing_is_published(minio_server, s3, model, capsys):
    _body, path, params = model
    bad = dict(params, sha256=sha(b"something else"))
    result = run_module(args_for(minio_server, bad), capsys)
    assert result["failed"]
    assert "not published" in result["msg"] and str(path) in result["msg"] and params["object"] in result["msg"]
    assert model_publish.stat_or_none(s3, BUCKET, params["object"]) is None


def test_changed_model_replaces_the_object(minio_server, s3, model, capsys):
    _body, path, params = model
    run_module(args_for(minio_server, params), capsys)
    new_body = os.urandom(200_000)  # same size: only the sha256 metadata tells them apart
    path.write_bytes(new_body)
    result = run_module(args_for(minio_server, dict(params, sha256=sha(new_body))), capsys)
    assert result["changed"] and result["uploaded"]
    assert stored(s3, params["object"]) == new_body
    assert s3.stat_object(BUCKET, params["object"]).metadata["x-amz-meta-sha256"] == sha(new_body)


def test_object_without_the_metadata_is_uploaded_again(minio_server, s3, model, capsys):
    body, path, params = model
    s3.fput_object(BUCKET, params["object"], str(path))
    result = run_module(args_for(minio_server, params), capsys)
    assert result["uploaded"]
    assert s3.stat_object(BUCKET, params["object"]).metadata["x-amz-meta-sha256"] == sha(body)


def test_upper_case_checksum_is_stored_lower_case_and_matches_later(minio_server, s3, model, capsys):
    _body, _path, params = model
    upper = dict(params, sha256=params["sha256"].upper())
    assert run_module(args_for(minio_server, upper), capsys)["uploaded"]
    assert s3.stat_object(BUCKET, params["object"]).metadata["x-amz-meta-sha256"] == params["sha256"]
    assert not run_module(args_for(minio_server, params), capsys)["changed"]
    assert not run_module(args_for(minio_server, upper), capsys)["changed"]


def test_large_file_goes_up_in_parts(minio_server, s3, tmp_path, capsys):
    body = os.urandom(11 * MIB)
    path = tmp_path / "big.gguf"
    path.write_bytes(body)
    params = dict(bucket=BUCKET, object="multipart/big.gguf", src=str(path), sha256=sha(body), part_size=5 * MIB)
    result = run_module(args_for(minio_server, params), capsys)
    assert result["uploaded"] and result["etag"].endswith("-3")
    assert stored(s3, params["object"]) == body
    assert not run_module(args_for(minio_server, params), capsys)["changed"]


def test_missing_bucket_fails_naming_it(minio_server, s3, model, capsys):
    _body, _path, params = model
    result = run_module(args_for(minio_server, dict(params, bucket="no-such-bucket")), capsys)
    assert result["failed"] and "NoSuchBucket" in result["msg"], result["msg"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"sha256": "sha256:" + "a" * 64}, "sha256 must be 64 hexadecimal digits"),
        ({"sha256": "a" * 63}, "sha256 must be 64 hexadecimal digits"),
        ({"part_size": 1024}, "part_size must be 5 MiB to 5 GiB"),
        ({"part_size": 6 * 1024 * MIB}, "part_size must be 5 MiB to 5 GiB"),
    ],
)
def test_bad_input_fails_before_any_request(model, capsys, change, message):
    _body, _path, params = model
    # Port 9 (discard) on loopback: a request would fail differently, so the message proves none was sent.
    args = dict(params, endpoint="http://127.0.0.1:9", access_key="unused-access", secret_key="unused-secret-0123", **change)
    result = run_module(args, capsys)
    assert result["failed"] and message in result["msg"]


def test_missing_source_file_fails(model, capsys):
    _body, path, params = model
    args = dict(params, src=str(path) + ".absent", endpoint="http://127.0.0.1:9", access_key="unused-access", secret_key="unused-secret-0123")
    result = run_module(args, capsys)
    assert result["failed"] and "is not a file" in result["msg"]


def test_stored_sha256_reads_the_metadata_whatever_its_case():
    class Stat:
        def __init__(self, metadata):
            self.metadata = metadata

    assert model_publish.stored_sha256(Stat({"X-Amz-Meta-Sha256": "ABC"})) == "abc"
    assert model_publish.stored_sha256(Stat({"Content-Type": "x"})) is None
    assert model_publish.stored_sha256(Stat(None)) is None
