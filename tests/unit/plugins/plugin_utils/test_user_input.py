"""The user's variables against the roles' argument specs (plugin_utils/user_input.py)."""
import os

import yaml

from ansible_collections.hailo.services.plugins.plugin_utils.user_input import (
    allowed,
    group_problem,
    input_problems,
    spec_options,
)

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")


def _options(role):
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return spec_options(yaml.safe_load(handle)["argument_specs"])


OPTIONS = dict(_options("reconcile"), **_options("source_tree"))
PREFIXES = ("reconcile_", "source_tree_")
with open(os.path.join(ROLES, "reconcile", "vars", "main.yml"), encoding="utf-8") as _handle:
    CONFIG_DEFAULTS = yaml.safe_load(_handle)["_reconcile_config_defaults"]


def problems(variables, hosts=("pi1",)):
    return input_problems(dict((h, variables) for h in hosts), OPTIONS, PREFIXES, config_defaults=CONFIG_DEFAULTS)


def test_every_entry_points_options_are_known():
    assert {"reconcile_scope", "reconcile_report_batches", "source_tree_path"} <= set(OPTIONS)


def test_valid_values_and_text_from_e_pass():
    assert problems({"reconcile_scope": "host", "reconcile_max_failed_hosts": "2",
                     "reconcile_serial": "[1,2]", "reconcile_backup": "yes",
                     "reconcile_ranges": [{"start": 5000, "end": 5099}],
                     "reconcile_services": {"hailo-ocr": {"priority": 3}}}) == []


def test_wrong_types_and_choices_name_the_variable_and_what_it_allows():
    assert problems({"reconcile_scope": "fleeet", "reconcile_health_timeout": "soon",
                     "reconcile_services": ["hailo-ocr"]}) == [
        "reconcile_health_timeout: 'soon' is not allowed; allowed: an integer",
        "reconcile_scope: 'fleeet' is not allowed; allowed: one of fleet, host",
        "reconcile_services: [hailo-ocr] is not allowed; allowed: a mapping",
    ]


def test_nested_options_are_checked():
    assert problems({"reconcile_ranges": [{"start": 1}]}) == [
        "reconcile_ranges: missing required arguments: end found in reconcile_ranges"]


def test_a_bad_serial_is_named():
    assert problems({"reconcile_serial": "fast"})[0].startswith("reconcile_serial: 'fast'")


def test_unknown_names_get_the_closest_known_one_and_the_collections_facts_pass():
    assert problems({"reconcile_servics": {}, "reconcile_result": {}, "reconcile_port_map": {},
                     "other_var": 1}) == [
        "reconcile_servics: no such variable; did you mean reconcile_services? (hailo.services "
        "knows the reconcile_* variables of its argument specs)"]


def test_the_catalog_and_unit_settings_are_checked_once_their_types_are_right():
    found = problems({"reconcile_unit_settings": {"Servce": {"MemoryMax": "1G"}}})
    assert len(found) == 1 and found[0].startswith("reconcile_unit_settings: ") and "[Servce]" in found[0]
    assert problems({"reconcile_services": {"hailo-ocr": {"prority": 1}}})[0].startswith(
        "reconcile_services: hailo-ocr: unknown key 'prority'")
    # a list is named by the spec check alone, without a traceback from the catalog check
    assert len(problems({"reconcile_services": []})) == 1


def test_a_problem_of_some_devices_names_them():
    found = input_problems({"pi1": {"reconcile_scope": "x"}, "pi2": {}}, OPTIONS, PREFIXES)
    assert found == ["reconcile_scope: 'x' is not allowed; allowed: one of fleet, host (set for pi1)"]


def test_allowed_phrases():
    assert allowed(OPTIONS["reconcile_ranges"]) == "a list of mappings with the keys start, end"
    assert allowed(OPTIONS["reconcile_reserved_ports"]) == "a list of integers"


def test_group_problems():
    groups = {"all": ["pi1", "pi2"], "hailo_devices": ["pi1", "pi2"], "empty": [], "pis": ["pi2"]}
    assert group_problem("hailo_devices", groups, ["pi1", "pi2", "localhost"], False) is None
    assert group_problem("hailo_devices", groups, ["pi1"], True) is None  # --limit pi1
    assert "has no group 'nope'" in group_problem("nope", groups, ["localhost"], False)
    assert "'empty' holds no device" in group_problem("empty", groups, ["localhost"], False)
    # set in the inventory: the plays ran on hailo_devices
    assert "pass it with -e reconcile_fleet_group=pis" in group_problem("pis", groups, ["pi1", "pi2"], False)
