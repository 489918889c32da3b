import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llm_infra.cluster.plugins.filter.models import model_file_name, model_stage_summary

SHA = "AB" * 32


@pytest.mark.parametrize("model, expected", [
    ({"name": "q", "file": "given.gguf", "src": "/srv/other.gguf"}, "given.gguf"),
    ({"name": "q", "src": "/srv/models/q.gguf", "url": "https://example.org/u.gguf"}, "q.gguf"),
    ({"name": "q", "url": "https://example.org/m/q-0.5b.gguf?download=1&sig=a/b"}, "q-0.5b.gguf"),
    ({"name": "q", "s3": {"bucket": "models", "object": "q/q-0.5b.gguf"}}, "q-0.5b.gguf"),
    ({"name": "q", "s3": {"bucket": "models"}}, ""),
    ({"name": "q"}, ""),
])
def test_model_file_name(model, expected):
    assert model_file_name(model) == expected


def test_model_file_name_wants_a_dict():
    with pytest.raises(AnsibleFilterError, match="expected a model dict"):
        model_file_name("q.gguf")


def staged(name, path, replaced=None, **extra):
    result = {"item": {"item": {"name": name, "sha256": SHA}, "path": path, "current": replaced is None}, "verified_by": "stamp"}
    if replaced is not None:
        result["replaced"] = replaced
    result.update(extra)
    return result


def test_model_stage_summary():
    results = [staged("a", "/m/a/a.gguf"), staged("b", "/m/b/b.gguf", True), staged("c", "/m/c/c.gguf", False)]
    assert model_stage_summary(results) == {
        "a": {"path": "/m/a/a.gguf", "sha256": SHA.lower(), "changed": False},
        "b": {"path": "/m/b/b.gguf", "sha256": SHA.lower(), "changed": True},
        "c": {"path": "/m/c/c.gguf", "sha256": SHA.lower(), "changed": False},
    }
    assert model_stage_summary([]) == {}


OLD_FILE_NAME = "{{ model.file | default((model.src | default(model.url | default(model.s3.object | default('')))).split('?')[0] | basename) }}"
OLD_STAGED = """{% set staged = {} %}{% for r in __model_store_staged_results.results %}{% set _ = staged.update({r.item.item.name:
{'path': r.item.path, 'sha256': r.item.item.sha256 | lower, 'changed': r.replaced | default(false) | bool}}) %}{% endfor %}{{ staged }}"""


def test_same_results_as_the_jinja_the_roles_used(render_in_play):
    models = [
        {"name": "q", "file": "given.gguf", "src": "/srv/other.gguf"},
        {"name": "q", "src": "/srv/models/q.gguf"},
        {"name": "q", "url": "https://example.org/m/q-0.5b.gguf?download=1&sig=a/b"},
        {"name": "q", "url": "https://example.org/plain.gguf"},
        {"name": "q", "s3": {"bucket": "models", "object": "q/q-0.5b.gguf"}},
        {"name": "q", "s3": {"bucket": "models"}},
    ]
    results = [staged("a", "/m/a/a.gguf"), staged("b", "/m/b/b.gguf", True), staged("c", "/m/c/c.gguf", False)]
    rendered = render_in_play([(OLD_FILE_NAME, {"model": model}) for model in models]
                              + [(OLD_STAGED, {"__model_store_staged_results": {"results": results}})])
    assert [model_file_name(model) for model in models] == rendered[:-1]
    assert model_stage_summary(results) == rendered[-1]
