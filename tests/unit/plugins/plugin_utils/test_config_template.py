"""Owned configs: the data they are rendered from, the refusal check, settings validation, and
the role's per-kind templates (rendered here with plain Jinja2, as the role renders them)."""
import glob
import hashlib
import json
import os

import jinja2
import pytest
import yaml

from ansible_collections.hailo.services.plugins.plugin_utils.config_template import (
    ConfigTemplateError,
    config_data,
    data_changes,
    device_config_changes,
    device_config_data,
    merge,
    settings_errors,
    show,
)
from ansible_collections.hailo.services.plugins.plugin_utils.rollout import rollout_steps

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "reconcile")
DEFAULTS = yaml.safe_load(open(os.path.join(ROLE, "vars", "main.yml")))["_reconcile_config_defaults"]
SEED_FILES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..",
                          "molecule", "resources", "files", "etc-hailo")
OCR = {"server": {"host": "0.0.0.0", "port": 11436}, "ocr": {"languages": ["en", "de"], "min": 0.5}}


def test_merge_keeps_base_order_and_replaces_lists():
    merged = merge({"a": {"x": 1, "y": [1, 2]}, "b": 2}, {"a": {"y": [3], "z": 4}, "c": 5})
    assert merged == {"a": {"x": 1, "y": [3], "z": 4}, "b": 2, "c": 5}
    assert list(merged) == ["a", "b", "c"] and list(merged["a"]) == ["x", "y", "z"]


def test_config_data_puts_server_host_and_port_first_and_port_from_the_map():
    data = config_data("hailo-ocr", 11439, {"ocr": {"languages": ["en"]}, "server": {"log_level": "info"}},
                       {"server": {"host": "127.0.0.1"}}, {"ocr": {"languages": ["de"]}})
    assert list(data) == ["server", "ocr"]
    assert list(data["server"].items()) == [("host", "127.0.0.1"), ("port", 11439), ("log_level", "info")]
    assert data["ocr"]["languages"] == ["de"]  # host/group overrides win over the catalog
    assert config_data("x", "5003")["server"] == {"host": "0.0.0.0", "port": 5003}


def test_device_config_data_only_for_template_mode():
    discovered = {"hailo-ocr": {}, "hailo-piper": {}, "hailo-face": {}}
    catalog = {"hailo-piper": {"config_mode": "edit"}, "hailo-face": {"settings": {"x": 1}}}
    plan = {"ports": {"hailo-ocr": 11436, "hailo-piper": 5003, "hailo-face": 5002}}
    configs = device_config_data(discovered, catalog, plan, {}, {}, "template")
    assert sorted(configs) == ["hailo-face", "hailo-ocr"]
    assert configs["hailo-face"]["x"] == 1
    assert device_config_data(discovered, {"hailo-ocr": {"config_mode": "template"}}, plan) == {
        "hailo-ocr": {"server": {"host": "0.0.0.0", "port": 11436}}}
    with pytest.raises(ConfigTemplateError, match="hailo-ocr: config_mode must be one of"):
        device_config_data(discovered, {"hailo-ocr": {"config_mode": "own"}}, plan)
    with pytest.raises(ConfigTemplateError, match="not in the port map"):
        device_config_data({"hailo-new": {}}, {}, plan, mode="template")


def test_changes_name_each_key_path_and_ignore_the_port():
    rendered = {"server": {"host": "0.0.0.0", "port": 11439}, "ocr": {"languages": ["en"], "new": True}}
    assert device_config_changes({"hailo-ocr": {"data": OCR}}, {"hailo-ocr": rendered}) == [
        "hailo-ocr: ocr.languages would change from [en, de] to [en]",
        "hailo-ocr: ocr.min would be removed (now 0.5)",
        "hailo-ocr: ocr.new would be added as true",
    ]
    assert device_config_changes({"hailo-ocr": {"data": OCR}}, {"hailo-ocr": dict(OCR, server={
        "host": "0.0.0.0", "port": 1})}) == []
    assert device_config_changes({"hailo-ocr": {"data": None}}, {"hailo-ocr": rendered}) == []
    # Already rendered by the role: the inventory owns every value, nothing is refused.
    assert device_config_changes({"hailo-ocr": {"data": OCR, "owned": True}}, {"hailo-ocr": rendered}) == []


def test_changes_see_types():
    assert data_changes({"a": 1}, {"a": 1.0}) == [(("a",), 1, 1.0, "changed")]
    assert data_changes({"a": 1}, {"a": True}) != []
    assert data_changes({"a": {"b": 1}}, {"a": 2}) == [(("a",), {"b": 1}, 2, "changed")]


def test_show_values_like_yaml_flow():
    assert show(["en", "de"]) == "[en, de]"
    assert show({"a": None, "b": False}) == "{a: null, b: false}"
    assert show("") == '""' and show("a, b") == '"a, b"'


def test_settings_errors_name_service_and_key():
    catalog = {"hailo-ocr": {"settings": {"ocr": {"langauges": ["en"]}}},
               "hailo-piper": {"config_mode": "owned"},
               "hailo-custom": {"settings": {"anything": {"goes": 1}}}}
    errors = settings_errors(catalog, DEFAULTS, {"hailo-ocr": {"server": {"port": 1}, "model": 3}}, "edit")
    assert errors == [
        "hailo-ocr: unknown setting ocr.langauges (settings)",
        "hailo-ocr: reconcile_config_settings sets server.port; the port map owns it "
        "(use port in reconcile_services)",
        "hailo-ocr: setting model must be a mapping, got 3 (reconcile_config_settings)",
        "hailo-piper: config_mode must be one of edit, template, got 'owned'",
    ]
    assert settings_errors({}, DEFAULTS, {}, "own") == [
        "reconcile_config_mode must be one of edit, template, got 'own'"]
    assert settings_errors({"hailo-ocr": {"settings": ["x"]}}, DEFAULTS) == [
        "hailo-ocr: settings must be a mapping, got [x]"]
    assert settings_errors({}, DEFAULTS, {"hailo-ocr": {"server": {"host": "::"}}}) == []


def _render(name, data):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")),
                             trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    env.filters["comment"] = lambda text: "#\n# %s\n#" % text
    kind = name if name in DEFAULTS else "generic"
    return env.get_template("config/%s.yaml.j2" % kind).render(
        _reconcile_config=data, item=name, ansible_managed="Ansible managed",
        reconcile_json_dir="/etc/xdg")


@pytest.mark.parametrize("name", sorted(DEFAULTS) + ["hailo-standby-test"])
def test_each_template_renders_its_data_in_order(name):
    settings = {"standby": True, "server": {"host": "127.0.0.1"}} if name not in DEFAULTS else None
    data = config_data(name, 5003, DEFAULTS.get(name), settings)
    text = _render(name, data)
    assert text.startswith("#\n# Ansible managed")
    parsed = yaml.safe_load(text)
    assert parsed == data
    # The JSON copy is rendered from the data: it must be what the installer makes of the file.
    assert json.dumps(parsed, indent=2) == json.dumps(data, indent=2)
    assert "port: 5003  # from the port map" in text
    assert "# Owned by hailo.services (config_mode template)" in text.split("\nserver:")[0]


# The seeded devices' hand-written files of the service kinds the role knows (not the
# test-only standby service).
SEED_TEMPLATES = [
    path for path in sorted(glob.glob(os.path.join(SEED_FILES, "*.yaml.j2")))
    if os.path.basename(path)[:-len(".yaml.j2")] in DEFAULTS
]


def test_seed_files_are_found():
    assert len(SEED_TEMPLATES) == 11


@pytest.mark.parametrize("path", SEED_TEMPLATES)
def test_defaults_are_the_installers_values(path):
    """Switching a stock device to template mode loses nothing: only comments differ."""
    name = os.path.basename(path)[:-len(".yaml.j2")]
    current = yaml.safe_load(open(path).read().replace("{{ port }}", "5000"))
    assert data_changes(current, config_data(name, 5000, DEFAULTS[name])) == []


def test_rollout_steps_of_template_mode_services():
    yaml_text, json_text = "server: {port: 5003}\n", '{\n  "server": {\n    "port": 5003\n  }\n}'
    same = hashlib.sha1(yaml_text.encode()).hexdigest()
    discovered = {
        "hailo-piper": {"config_path": "/etc/hailo/hailo-piper.yaml", "port": 5002, "checksum": same,
                        "json_path": "/j", "json_exists": False, "json_checksum": None,
                        "unit": {"active": "active"}},
        "hailo-ocr": {"config_path": "/etc/hailo/hailo-ocr.yaml", "port": 11436, "checksum": "old",
                      "json_path": "/j2", "json_exists": True,
                      "json_checksum": hashlib.sha1(json_text.encode()).hexdigest(),
                      "unit": {"active": "active"}},
    }
    plan = {"ports": {"hailo-piper": 5003, "hailo-ocr": 11436}}
    configs = {name: {"yaml": yaml_text, "json": json_text} for name in discovered}
    steps = {step["name"]: step for step in rollout_steps(discovered, {}, plan, ["hailo-ocr"],
                                                          configs=configs)}
    piper, ocr = steps["hailo-piper"], steps["hailo-ocr"]
    assert (piper["template"], piper["update_config"], piper["update_yaml"], piper["update_json"]) == (
        True, False, False, False)
    assert (ocr["update_yaml"], ocr["update_json"], ocr["json_path"]) == (True, False, "/j2")
    edit = rollout_steps(discovered, {}, plan)[1]
    assert (edit["template"], edit["update_yaml"], edit["update_config"]) == (False, False, True)
