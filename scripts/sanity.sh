#!/usr/bin/env bash
# ansible-test sanity for the collection.
#
# ansible-test wants the working directory inside .../ansible_collections/llm_infra/cluster and resolves
# symlinks, so the .collections link does not do. The files git knows (committed or not, not ignored) are
# copied into a temporary tree outside the repository (inside it, ansible-test would ask this repository's git
# for the file list and find the copy ignored) and the tests run there, on the venv's Python (--local). ansible-test
# keeps one virtual environment per test under ~/.ansible/test/venv with its own pinned requirements: the
# first run installs them from the package index, later runs reuse them and need no network. Those
# environments start without pip; the bootstrap script ansible-test would download for that is replaced by
# scripts/ansible-test-get-pip.py (see there why).
#
# Usage: scripts/sanity.sh [ansible-test sanity arguments, e.g. --test validate-modules]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$REPO/.venv/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/llm_infra-sanity.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/ansible_collections/llm_infra/cluster
mkdir -p "$DEST"
cd "$REPO"
# Only files that exist: a file deleted but not yet committed is still in the index.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' path; do [[ -f $path || -L $path ]] && printf '%s\0' "$path"; done \
  | tar --null --files-from=- --create --file=- \
  | tar --extract --file=- --directory="$DEST"

# The venv's Python (3.11 here) runs the tests; the pip version ansible-test pins for its environments names
# the bootstrap script it looks for.
PYTHON_VERSION=$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PIP_VERSION=$("$BIN/python" -c 'import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])' "$PYTHON_VERSION")
GET_PIP=$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py
if [[ ! -f $GET_PIP ]]; then
  mkdir -p "$(dirname "$GET_PIP")"
  cp "$REPO/scripts/ansible-test-get-pip.py" "$GET_PIP"
fi

cd "$DEST"
export PATH=$BIN:$PATH
# ansible-test reads its own configuration; the repository's ansible.cfg (inventory, callbacks) is not for it.
unset ANSIBLE_CONFIG
"$BIN/ansible-test" sanity --local --python "$PYTHON_VERSION" --color no "$@"
