"""Unit tests of the minio_* modules and their shared helpers: naming rules, policy comparison, and the
read-compare-write decisions against an in-memory stand-in for the SDK clients."""

from __future__ import annotations

import json

import pytest
from minio.error import MinioAdminException, S3Error

from ansible_collections.llm_infra.cluster.plugins.module_utils import _minio
from ansible_collections.llm_infra.cluster.plugins.modules import minio_bucket, minio_group, minio_policy, minio_user


@pytest.mark.parametrize("name", ["models", "a.b-c", "abc", "x" * 63, "llm-infra.models"])
def test_valid_bucket_names(name):
    assert _minio.bucket_name_problem(name) is None


@pytest.mark.parametrize("name", ["ab", "x" * 64, "Models", "under_score", "-start", "end-", "a..b", "a.-b",
                                  "192.168.1.10", "xn--abc", "name-s3alias", "sp ace"])
def test_invalid_bucket_names(name):
    assert _minio.bucket_name_problem(name)


def test_split_endpoint():
    assert _minio.split_endpoint("https://10.0.0.5:9000") == ("10.0.0.5:9000", True)
    assert _minio.split_endpoint("http://[fd00::1]:9000/") == ("[fd00::1]:9000", False)
    assert _minio.split_endpoint("minio.internal:9000") == ("minio.internal:9000", True)
    with pytest.raises(ValueError):
        _minio.split_endpoint("https://h:9000/bucket")


def test_equal_policies_in_other_spellings_compare_equal():
    a = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::m/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": ["arn:aws:s3:::m/*"]}]}
    b = json.dumps({"Statement": [
        {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": "arn:aws:s3:::m/*"},
        {"Resource": ["arn:aws:s3:::m/*"], "Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow"}]})
    assert _minio.normalize_policy(a) == _minio.normalize_policy(b)


def test_different_policies_compare_different():
    a = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::m/*"]}]}
    b = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::m/*"]}]}
    assert _minio.normalize_policy(a) != _minio.normalize_policy(b)


def test_policy_from_admin_accepts_both_answer_shapes():
    doc = {"Version": "2012-10-17", "Statement": []}
    assert _minio.policy_from_admin(json.dumps(doc)) == doc
    assert _minio.policy_from_admin(json.dumps({"PolicyName": "p", "Policy": doc})) == doc


def test_lifecycle_rules_round_trip_and_validation():
    wanted = _minio.wanted_rule_dicts([{"id": "b", "noncurrent_expiration_days": 7},
                                       {"id": "a", "prefix": "tmp/", "expiration_days": 1, "abort_incomplete_days": 2}])
    assert [r["id"] for r in wanted] == ["a", "b"]
    assert _minio.lifecycle_rule_dicts(_minio.build_lifecycle(wanted)) == wanted
    with pytest.raises(ValueError, match="at least one"):
        _minio.wanted_rule_dicts([{"id": "x"}])
    with pytest.raises(ValueError, match="unique"):
        _minio.wanted_rule_dicts([{"id": "x", "expiration_days": 1}, {"id": "x", "expiration_days": 2}])


class FakeS3:
    def __init__(self):
        self.buckets = {}
        self.calls = []

    def bucket_exists(self, name):
        return name in self.buckets

    def make_bucket(self, name):
        self.calls.append(("make", name))
        self.buckets[name] = {"versioning": "Off", "lifecycle": None}

    def remove_bucket(self, name):
        self.calls.append(("remove", name))
        del self.buckets[name]

    def get_versioning_status(self, name):
        return self.buckets[name]["versioning"]

    def set_bucket_versioning(self, name, config):
        self.calls.append(("versioning", name, config.status))
        self.buckets[name]["versioning"] = config.status

    def get_bucket_lifecycle(self, name):
        return self.buckets[name]["lifecycle"]

    def set_bucket_lifecycle(self, name, config):
        self.calls.append(("lifecycle", name))
        self.buckets[name]["lifecycle"] = config

    def delete_bucket_lifecycle(self, name):
        self.calls.append(("delete-lifecycle", name))
        self.buckets[name]["lifecycle"] = None


def bucket_params(**extra):
    base = {"name": "models", "state": "present", "versioning": True,
            "lifecycle": [{"id": "old", "noncurrent_expiration_days": 30}]}
    base.update(extra)
    return base


def test_bucket_created_then_unchanged():
    s3 = FakeS3()
    assert minio_bucket.ensure_bucket(s3, bucket_params(), False) == ["created", "versioning", "lifecycle"]
    s3.calls.clear()
    assert minio_bucket.ensure_bucket(s3, bucket_params(), False) == []
    assert s3.calls == []


def test_bucket_check_mode_writes_nothing():
    s3 = FakeS3()
    assert minio_bucket.ensure_bucket(s3, bucket_params(), True) == ["created", "versioning", "lifecycle"]
    assert s3.calls == [] and s3.buckets == {}


def test_bucket_lifecycle_change_and_removal():
    s3 = FakeS3()
    minio_bucket.ensure_bucket(s3, bucket_params(), False)
    assert minio_bucket.ensure_bucket(s3, bucket_params(lifecycle=[{"id": "old", "noncurrent_expiration_days": 7}]), False) == ["lifecycle"]
    assert minio_bucket.ensure_bucket(s3, bucket_params(lifecycle=[]), False) == ["lifecycle"]
    assert s3.calls[-1] == ("delete-lifecycle", "models")


def test_bucket_suspended_versioning_equals_never_enabled():
    s3 = FakeS3()
    assert minio_bucket.ensure_bucket(s3, bucket_params(versioning=False, lifecycle=None), False) == ["created"]


def test_bucket_bad_name_fails_before_any_request():
    s3 = FakeS3()
    with pytest.raises(ValueError, match="not valid for S3"):
        minio_bucket.ensure_bucket(s3, bucket_params(name="Bad_Name"), False)
    assert s3.calls == []


class FakeAdmin:
    def __init__(self):
        self.policies, self.users, self.groups, self.calls = {}, {}, {}, []

    @staticmethod
    def _missing():
        return MinioAdminException("404", '{"Code":"XMinioAdminNoSuchThing"}')

    def policy_info(self, name):
        if name not in self.policies:
            raise self._missing()
        return json.dumps(self.policies[name])

    def policy_add(self, name, policy=None):
        self.calls.append(("policy_add", name))
        self.policies[name] = policy

    def policy_remove(self, name):
        self.calls.append(("policy_remove", name))
        del self.policies[name]

    def user_info(self, name):
        if name not in self.users:
            raise self._missing()
        user = self.users[name]
        return json.dumps({"status": user["status"], "policyName": ",".join(user["policies"]),
                           "memberOf": [g for g, info in self.groups.items() if name in info["members"]]})

    def user_add(self, name, secret):
        self.calls.append(("user_add", name))
        self.users.setdefault(name, {"status": "enabled", "policies": []})["secret"] = secret

    def user_enable(self, name):
        self.calls.append(("user_enable", name))
        self.users[name]["status"] = "enabled"

    def user_remove(self, name):
        self.calls.append(("user_remove", name))
        del self.users[name]

    def attach_policy(self, policies, user=None, group=None):
        self.calls.append(("attach", user or group, tuple(policies)))
        target = self.users[user] if user else self.groups[group]
        target["policies"] = sorted(set(target["policies"]) | set(policies))

    def detach_policy(self, policies, user=None, group=None):
        self.calls.append(("detach", user or group, tuple(policies)))
        target = self.users[user] if user else self.groups[group]
        target["policies"] = [p for p in target["policies"] if p not in policies]

    def group_info(self, name):
        if name not in self.groups:
            raise self._missing()
        return json.dumps({"name": name, "members": self.groups[name]["members"],
                           "policy": ",".join(self.groups[name]["policies"])})

    def group_add(self, name, members):
        self.calls.append(("group_add", name, tuple(members)))
        group = self.groups.setdefault(name, {"members": [], "policies": []})
        group["members"] = sorted(set(group["members"]) | set(members))


POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                                                  "Resource": ["arn:aws:s3:::models/*"]}]}


def test_policy_created_then_equal_spelling_left_alone():
    admin = FakeAdmin()
    assert minio_policy.ensure_policy(admin, {"name": "read", "policy": POLICY, "state": "present"}, False) == (True, True)
    respelled = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::models/*"}]}
    assert minio_policy.ensure_policy(admin, {"name": "read", "policy": respelled, "state": "present"}, False) == (False, False)
    assert admin.calls == [("policy_add", "read")]


def test_policy_widened_is_rewritten():
    admin = FakeAdmin()
    minio_policy.ensure_policy(admin, {"name": "read", "policy": POLICY, "state": "present"}, False)
    wider = json.loads(json.dumps(POLICY))
    wider["Statement"][0]["Action"].append("s3:PutObject")
    assert minio_policy.ensure_policy(admin, {"name": "read", "policy": wider, "state": "present"}, False) == (True, False)


def user_params(**extra):
    base = {"name": "reader", "user_secret": "s" * 32, "policies": ["read"], "groups": [], "state": "present"}
    base.update(extra)
    return base


def ok_probe():
    raise S3Error(None, "AccessDenied", "denied", "", "", "")


def bad_probe():
    raise S3Error(None, "SignatureDoesNotMatch", "bad", "", "", "")


def test_user_created_with_policy_then_unchanged():
    admin = FakeAdmin()
    assert minio_user.ensure_user(admin, ok_probe, user_params(), False) == ["created", "attached:read"]
    admin.calls.clear()
    assert minio_user.ensure_user(admin, ok_probe, user_params(), False) == []
    assert admin.calls == []


def test_user_secret_reset_only_when_the_server_rejects_it():
    admin = FakeAdmin()
    minio_user.ensure_user(admin, ok_probe, user_params(), False)
    assert minio_user.ensure_user(admin, bad_probe, user_params(), False) == ["secret"]
    assert admin.users["reader"]["secret"] == "s" * 32


def test_user_policies_are_made_exact():
    admin = FakeAdmin()
    minio_user.ensure_user(admin, ok_probe, user_params(policies=["read", "write"]), False)
    assert minio_user.ensure_user(admin, ok_probe, user_params(policies=["read"]), False) == ["detached:write"]
    assert admin.users["reader"]["policies"] == ["read"]


def test_user_check_mode_and_short_secret():
    admin = FakeAdmin()
    assert minio_user.ensure_user(admin, ok_probe, user_params(), True) == ["created", "attached:read"]
    assert admin.calls == []
    with pytest.raises(ValueError, match="8-40"):
        minio_user.ensure_user(admin, ok_probe, user_params(user_secret="short"), False)


def test_group_created_with_members_and_policies():
    admin = FakeAdmin()
    admin.users["reader"] = {"status": "enabled", "policies": []}
    params = {"name": "readers", "members": ["reader"], "policies": ["read"], "state": "present"}
    assert minio_group.ensure_group(admin, params, False) == ["created", "member:reader", "attached:read"]
    assert minio_group.ensure_group(admin, params, False) == []
    with pytest.raises(ValueError, match="at least one member"):
        minio_group.ensure_group(admin, {"name": "empty", "members": [], "policies": None, "state": "present"}, False)


def test_connection_doc_fragment_matches_the_shared_spec():
    import yaml

    from ansible_collections.llm_infra.cluster.plugins.doc_fragments.minio import ModuleDocFragment
    from ansible_collections.llm_infra.cluster.plugins.module_utils._minio import CONNECTION_SPEC

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(CONNECTION_SPEC)
    for name, spec in CONNECTION_SPEC.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("required", False) == spec.get("required", False), name
        assert documented[name].get("default") == spec.get("default"), name
