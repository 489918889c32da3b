"""Every module, lookup and filter of the collection has documentation that ansible-doc renders.

ansible-doc runs once per plugin type with every name of that type (the three in parallel): a page that does not
parse makes it exit non-zero, a plugin it cannot find is only a warning, so the JSON is checked name by name.
"""

import glob
import importlib
import inspect
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = "llm_infra.cluster."


def _stems(kind):
    paths = glob.glob(os.path.join(REPO, "plugins", kind, "*.py"))
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in paths if not p.endswith("__init__.py"))


def _filter_functions():
    """Filter name -> function, for every filter the plugin files expose."""
    functions = {}
    for stem in _stems("filter"):
        module = importlib.import_module("ansible_collections.llm_infra.cluster.plugins.filter." + stem)
        for name, function in module.FilterModule().filters().items():
            assert name not in functions, "filter %s is exposed twice" % name
            functions[name] = function
    return functions


MODULES = _stems("modules")
LOOKUPS = _stems("lookup")
FILTERS = _filter_functions()
PLUGINS = {"module": MODULES, "lookup": LOOKUPS, "filter": sorted(FILTERS)}


@pytest.fixture(scope="module")
def rendered():
    """ansible-doc's JSON for every plugin, by type, with the exit status and stderr of each run."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"),
        ANSIBLE_NOCOLOR="1",
    )
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    runs = {
        kind: subprocess.Popen(  # pylint: disable=consider-using-with
            [ansible_doc, "-t", kind, "--json"] + [PREFIX + name for name in names],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        for kind, names in PLUGINS.items()
    }
    results = {}
    for kind, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[kind] = (proc.returncode, stdout, stderr)
    return results


def test_the_collection_has_plugins_of_every_type():
    assert MODULES and LOOKUPS and FILTERS


@pytest.mark.parametrize("kind", sorted(PLUGINS))
def test_ansible_doc_renders_every_plugin(rendered, kind):
    returncode, stdout, stderr = rendered[kind]
    assert returncode == 0, "ansible-doc -t %s failed:\n%s" % (kind, stderr)
    pages = json.loads(stdout)
    problems = []
    for name in PLUGINS[kind]:
        page = pages.get(PREFIX + name) or {}
        doc = page.get("doc") or {}
        if not doc:
            problems.append("%s %s: no documentation (%s)" % (kind, name, stderr.strip() or "not found"))
            continue
        if not doc.get("short_description") or not doc.get("description"):
            problems.append("%s %s: short_description or description is empty" % (kind, name))
        if not (page.get("examples") or "").strip():
            problems.append("%s %s: no EXAMPLES" % (kind, name))
        if kind != "module" and doc.get("name") != name:
            problems.append("%s %s: DOCUMENTATION.name is %r" % (kind, name, doc.get("name")))
        if kind == "filter" and "_value" not in (page.get("return") or {}):
            problems.append("filter %s: RETURN documents no _value" % name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_has_its_own_doc_file_matching_its_arguments(name):
    """plugins/filter/NAME.yml documents the filter's own parameters: the first as _input, the others by name."""
    path = os.path.join(REPO, "plugins", "filter", name + ".yml")
    assert os.path.isfile(path), "filter %s has no plugins/filter/%s.yml" % (name, name)
    with open(path, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, sorted(doc)
    assert ("| " + PREFIX + name) in doc["EXAMPLES"], "the examples of %s never use it by its full name" % name
    parameters = list(inspect.signature(FILTERS[name]).parameters)
    expected = ["_input"] + parameters[1:]
    options = doc["DOCUMENTATION"].get("options") or {}
    assert sorted(options) == sorted(expected), "options of %s.yml: %s, parameters: %s" % (name, sorted(options), expected)
    assert doc["DOCUMENTATION"].get("positional") == ", ".join(expected)
