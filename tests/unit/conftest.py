"""Make the collection importable as ansible_collections.llm_infra.cluster for unit tests."""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".collections")
link = os.path.join(COLLECTIONS, "ansible_collections", "llm_infra", "cluster")
if not os.path.exists(link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
