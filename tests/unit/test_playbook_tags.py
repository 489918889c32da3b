"""Every play of the layer playbooks site.yml imports carries its layer's tag, so --tags/--skip-tags select layers."""

import os

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOKS = os.path.join(REPO, "playbooks")


def _load(name):
    with open(os.path.join(PLAYBOOKS, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_play_of_every_layer_has_the_layer_tag():
    imported = [entry["ansible.builtin.import_playbook"] for entry in _load("site.yml")]
    assert [os.path.splitext(name)[0] for name in imported] == [
        "mirror", "base", "vault", "storage", "models", "database", "gpu", "serving", "gateway", "monitoring", "verify"]
    problems = []
    for name in imported:
        layer = os.path.splitext(name)[0]
        for play in _load(name):
            tags = play.get("tags") or []
            tags = [tags] if isinstance(tags, str) else tags
            if layer not in tags:
                problems.append("%s: play %r has tags %r, not %r" % (name, play.get("name"), tags, layer))
    assert not problems, "\n".join(problems)
