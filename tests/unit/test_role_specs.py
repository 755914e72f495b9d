"""Each role's meta/argument_specs.yml agrees with its defaults/main.yml, and the reconcile role
documents the catalog keys exactly as plugins/plugin_utils/catalog.py describes them."""
import glob
import os
import re

import pytest
import yaml

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import KEYS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(os.path.dirname(path)) for path in glob.glob(os.path.join(REPO, "roles", "*", "meta")))


def _load(role, *path):
    with open(os.path.join(REPO, "roles", role, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _templated(value):
    """A default computed by Jinja at run time, which a spec's static default cannot state."""
    return isinstance(value, str) and "{{" in value


def _mentions_default(option):
    description = option.get("description") or ""
    text = " ".join(description) if isinstance(description, list) else description
    return "default" in text.lower()


def test_every_role_is_checked():
    assert "reconcile" in ROLES and "source_tree" in ROLES


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_an_option_of_main(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"].get("options") or {}
    assert sorted(set(defaults) - set(options)) == []


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_equal_the_role_defaults(role):
    defaults = _load(role, "defaults", "main.yml")
    problems = []
    for entry, spec in _load(role, "meta", "argument_specs.yml")["argument_specs"].items():
        for name, option in (spec.get("options") or {}).items():
            where = "%s %s" % (entry, name)
            if option.get("required"):
                if name in defaults or "default" in option:
                    problems.append("%s: required, so it has no default" % where)
            elif "default" in option:
                if name not in defaults:
                    problems.append("%s: default %r in the spec, none in defaults/main.yml" % (where, option["default"]))
                elif option["default"] != defaults[name]:
                    problems.append("%s: the spec says %r, defaults/main.yml %r" % (where, option["default"], defaults[name]))
            elif name in defaults and not (_templated(defaults[name]) and _mentions_default(option)):
                # Only a Jinja default, which the spec can only describe, may be missing there.
                problems.append("%s: no default in the spec, %r in defaults/main.yml" % (where, defaults[name]))
    assert problems == []


def _catalog_key_docs():
    """``{key: (type, choices)}`` from the reconcile_services description, one line per key
    written ``C(key) (type[, V(a) or V(b)][, default ...]): text``."""
    option = _load("reconcile", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]["reconcile_services"]
    documented = {}
    for line in option["description"]:
        match = re.match(r"C\((\w+)\) \((\w+)([^:]*)\): ", line)
        if match:
            key, kind, rest = match.groups()
            choices = tuple(re.findall(r"V\(([^)]*)\)", rest.split(", default")[0]))
            documented[key] = (kind, choices)
    return documented


def test_reconcile_services_documents_the_catalog_keys():
    described = dict((key, (spec["type"], tuple(spec.get("choices", ())))) for key, spec in KEYS.items())
    assert _catalog_key_docs() == described


def test_reconcile_services_documents_them_in_order():
    assert list(_catalog_key_docs()) == list(KEYS)
