"""Make the collection importable as ``ansible_collections.hailo.services``.

The checkout can live anywhere, so a symlink under ``.collections/`` gives Python (and
Ansible) the namespaced path the collection loader expects.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
_LINK = os.path.join(COLLECTIONS_DIR, "ansible_collections", "hailo", "services")

if not os.path.lexists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.relpath(REPO_ROOT, os.path.dirname(_LINK)), _LINK)
if COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, COLLECTIONS_DIR)
