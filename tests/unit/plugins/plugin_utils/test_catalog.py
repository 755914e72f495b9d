"""The catalog's description and its one validator, called directly (no Ansible needed)."""
import os

import pytest
import yaml

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import (
    KEYS,
    CatalogError,
    catalog_errors,
    config_errors,
    entry_errors,
    name_problem,
    value_problem,
)

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "reconcile")


def _role_yaml(*path):
    with open(os.path.join(ROLE, *path), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


DEFAULTS = _role_yaml("vars", "main.yml")["_reconcile_config_defaults"]
SHIPPED = _role_yaml("defaults", "main.yml")["reconcile_default_services"]


def test_every_key_is_described():
    assert list(KEYS) == ["port", "frozen", "priority", "state", "health_path", "unit", "config_mode", "settings"]
    for key, spec in KEYS.items():
        assert spec["type"] in ("int", "bool", "str", "dict"), key
        assert "default" in spec, key
        assert spec["description"] and "\n" not in spec["description"], key
        assert spec.get("default") is None or value_problem(key, spec["default"]) is None, key


def test_the_shipped_catalog_and_settings_are_fine():
    assert catalog_errors(SHIPPED, DEFAULTS, {}, "edit", {}) == []
    assert catalog_errors(SHIPPED, DEFAULTS, {"hailo-ocr": {"ocr": {"languages": ["en"]}}}, "template",
                          {"Service": {"TimeoutStopSec": 60}}) == []
    assert catalog_errors({}) == []


@pytest.mark.parametrize("key, value, problem", [
    ("port", 0, "port 0 is not an integer in 1-65535"),
    ("port", "5000", "port '5000' is not an integer in 1-65535"),
    ("port", True, "port True is not an integer in 1-65535"),
    ("frozen", "yes", "frozen must be true or false, got 'yes'"),
    ("priority", 1.5, "priority must be an integer, got 1.5"),
    ("priority", False, "priority must be an integer, got False"),
    ("state", "off", "state must be one of enabled, standby, got 'off'"),
    ("state", None, "state must be one of enabled, standby, got None"),
    ("health_path", 5, "health_path must be a string, got 5"),
    ("unit", ["MemoryMax=1G"], "unit must be a mapping, got [MemoryMax=1G]"),
    ("config_mode", "own", "config_mode must be one of edit, template, got 'own'"),
    ("settings", ["x"], "settings must be a mapping, got [x]"),
])
def test_a_bad_value_is_named_with_its_key(key, value, problem):
    assert value_problem(key, value) == problem
    assert entry_errors("hailo-x", {key: value}) == ["hailo-x: " + problem]


@pytest.mark.parametrize("key, value", [
    ("port", 1), ("port", 65535), ("frozen", False), ("priority", -3), ("state", "standby"),
    ("health_path", "/health/ready"), ("health_path", None), ("unit", None), ("unit", {}),
    ("config_mode", "template"), ("settings", None), ("settings", {"a": 1}),
])
def test_a_good_value_passes(key, value):
    assert value_problem(key, value) is None


def test_the_phrase_can_name_another_variable():
    assert value_problem("config_mode", "own", "reconcile_config_mode") == (
        "reconcile_config_mode must be one of edit, template, got 'own'")


def test_names_must_be_safe_file_names():
    assert name_problem("hailo-ocr") is None and name_problem("a.b_c-1") is None
    for bad in ("../x", "Hailo", "a..b", "-a", "", 5, None):
        assert "is not a safe file name" in name_problem(bad)
        assert repr(bad) in name_problem(bad)


def test_unknown_keys_and_bad_entries_are_named():
    errors = catalog_errors({"hailo-x": {"port": 5005, "prio": 1, "State": "standby"},
                             "hailo-y": [5006], "hailo-z": None, "../w": {"port": 5007}})
    known = "port, frozen, priority, state, health_path, unit, config_mode, settings"
    assert errors == [
        "service name '../w' is not a safe file name (it becomes paths like /etc/hailo/<name>.yaml): "
        "use lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit, and no '..'",
        "hailo-x: unknown key 'prio'; the known keys are " + known,
        "hailo-x: unknown key 'State'; the known keys are " + known,
        "hailo-y: the entry must be a mapping of keys, got [5006]",
    ]


def test_not_a_catalog():
    assert catalog_errors(["hailo-x"]) == ["the catalog must be a mapping of service name to its entry, got list"]
    with pytest.raises(CatalogError, match="config_defaults must be a mapping"):
        catalog_errors({}, config_defaults=["hailo-ocr"])


def test_config_settings_are_checked_once_each():
    catalog = {"hailo-ocr": {"port": 11436, "settings": {"ocr": {"langauges": ["en"]}}},
               "hailo-piper": {"port": 5002, "config_mode": "owned"},
               "hailo-clip": {"port": 5000, "settings": ["x"]},
               "hailo-custom": {"port": 5010, "settings": {"anything": {"goes": 1}}}}
    errors = catalog_errors(catalog, DEFAULTS, {"hailo-ocr": {"server": {"port": 1}, "model": 3},
                                                "hailo-face": "fast"}, "own")
    assert errors == [
        # the keys of each entry, in name order
        "hailo-clip: settings must be a mapping, got [x]",
        "hailo-piper: config_mode must be one of edit, template, got 'owned'",
        # then the config settings, the default mode first
        "reconcile_config_mode must be one of edit, template, got 'own'",
        "hailo-face: reconcile_config_settings must be a mapping, got fast",
        "hailo-ocr: unknown setting ocr.langauges (settings)",
        "hailo-ocr: reconcile_config_settings sets server.port; the port map owns it "
        "(use port in reconcile_services)",
        "hailo-ocr: setting model must be a mapping, got 3 (reconcile_config_settings)",
    ]
    assert catalog_errors({}, DEFAULTS, ["hailo-ocr"]) == [
        "reconcile_config_settings must be a mapping of service name to settings"]


def test_config_errors_alone_check_the_config_keys_too():
    """What config_template.settings_errors returns (the config keys with the settings)."""
    catalog = {"hailo-piper": {"config_mode": "owned"}, "hailo-clip": {"settings": ["x"]}}
    assert config_errors(catalog, DEFAULTS) == [
        "hailo-clip: settings must be a mapping, got [x]",
        "hailo-piper: config_mode must be one of edit, template, got 'owned'",
    ]
    assert config_errors(catalog, DEFAULTS, entries=False) == []


def test_unit_settings_name_the_unit_section_and_directive():
    catalog = {"hailo-clip": {"port": 5000, "unit": {"Service": {"Memory-Max": "1G"}}},
               "hailo-ocr": {"port": 11436, "unit": {"Service": {"MemoryMax": "1G"}}},
               "hailo-pose": {"port": 11436, "unit": "MemoryMax=1G"}}
    errors = catalog_errors(catalog, unit_settings={"Service": {"TimeoutStopSec": ["60", {"x": 1}]}})
    assert errors[0] == "hailo-pose: unit must be a mapping, got MemoryMax=1G"
    assert errors[1].startswith("every service (fleet-wide unit settings): [Service] TimeoutStopSec: ")
    assert errors[2].startswith("hailo-clip.service (unit settings of the service): [Service] invalid "
                                "directive name 'Memory-Max'")
    assert len(errors) == 3
    assert catalog_errors({}, unit_settings=["Service"]) == [
        "every service (fleet-wide unit settings): unit settings must be a mapping of sections, not list"]
