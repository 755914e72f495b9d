"""Units rendered from the device's directives overlaid with the inventory's (no Ansible needed)."""
import copy

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import parse_unit
from ansible_collections.hailo.services.plugins.plugin_utils.unit_file import (
    UnitSettingsError,
    environment_names,
    overlay,
    refusals,
    render_lines,
    unit_plan,
    unit_settings,
    units_from_facts,
    units_plan,
)

# The hailo-ocr unit as its installer writes it (see the notes on installed units).
OCR = [
    ["Unit", "Description", "Hailo OCR service"],
    ["Unit", "After", "network-online.target"],
    ["Service", "Type", "simple"],
    ["Service", "User", "hailo-ocr"],
    ["Service", "Environment", "XDG_CONFIG_HOME=/etc/xdg"],
    ["Service", "Environment", "OCR_CONFIG_PATH=/etc/xdg/hailo-ocr/hailo-ocr.json"],
    ["Service", "Environment", "HAILO_PRINT_TO_SYSLOG=1"],
    ["Service", "ExecStart", "/opt/hailo-ocr/venv/bin/python3 /opt/hailo-ocr/hailo_ocr_server.py"],
    ["Service", "MemoryMax", "2.5G"],
    ["Service", "CPUQuota", "75%"],
    ["Service", "PrivateTmp", "yes"],
    ["Install", "WantedBy", "multi-user.target"],
]

CLIP = [
    ["Unit", "Description", "Hailo CLIP service"],
    ["Service", "ExecStart", "/opt/hailo-clip/venv/bin/python3 /opt/hailo-clip/hailo_clip_service.py"],
    ["Service", "TimeoutStartSec", "120"],
    ["Service", "MemoryMax", "4G"],
]


def test_no_settings_change_nothing():
    before = copy.deepcopy(OCR)
    for settings_ in (None, {}, {"Service": {}}):
        assert overlay(OCR, settings_) == OCR
        assert refusals("hailo-ocr", OCR, OCR, settings_) == []
    assert OCR == before  # the input is not modified
    plan = unit_plan("hailo-ocr", OCR, None, None)
    assert plan == {"settings": {}, "directives": OCR, "changed": False, "refusals": [],
                    "body": render_lines(OCR)}
    assert plan["directives"] is not OCR


def test_memory_max_is_overridden_where_it_was():
    after = overlay(OCR, {"Service": {"MemoryMax": "6G"}})
    expected = copy.deepcopy(OCR)
    expected[8] = ["Service", "MemoryMax", "6G"]
    assert after == expected
    assert refusals("hailo-ocr", OCR, after, {"Service": {"MemoryMax": "6G"}}) == []


def test_repeated_environment_is_replaced_by_a_list_at_the_first_position():
    value = ["XDG_CONFIG_HOME=/etc/xdg", "OCR_CONFIG_PATH=/etc/xdg/hailo-ocr/hailo-ocr.json", "HAILO_TRACE=1"]
    after = overlay(OCR, {"Service": {"Environment": value}})
    assert after[4:7] == [["Service", "Environment", item] for item in value]
    assert after[:4] == OCR[:4] and after[7:] == OCR[7:]
    # HAILO_PRINT_TO_SYSLOG is no longer assigned and the inventory does not name it.
    assert refusals("hailo-ocr", OCR, after, {"Service": {"Environment": value}}) == [
        "hailo-ocr.service: [Service] Environment would drop HAILO_PRINT_TO_SYSLOG (set it in the "
        "inventory's Environment too, or use the force switch)"]


def test_one_value_replaces_every_entry_of_a_repeated_directive():
    after = overlay(OCR, {"Service": {"Environment": "XDG_CONFIG_HOME=/etc/xdg"}})
    assert [entry for entry in after if entry[1] == "Environment"] == [
        ["Service", "Environment", "XDG_CONFIG_HOME=/etc/xdg"]]
    assert after.index(["Service", "Environment", "XDG_CONFIG_HOME=/etc/xdg"]) == 4


def test_dropped_environment_variable_is_refused_unless_the_inventory_names_it():
    fleet = {"Service": {"Environment": "XDG_CONFIG_HOME=/etc/xdg HAILO_PRINT_TO_SYSLOG=1"}}
    plan = unit_plan("hailo-ocr", OCR, fleet, None)
    assert plan["refusals"] == [
        "hailo-ocr.service: [Service] Environment would drop OCR_CONFIG_PATH (set it in the "
        "inventory's Environment too, or use the force switch)"]
    assert plan["changed"] is True
    named = {"Service": {"Environment": [
        '"XDG_CONFIG_HOME=/etc/xdg" \'HAILO_PRINT_TO_SYSLOG=1\'',
        'OCR_CONFIG_PATH="/etc/xdg/hailo ocr/hailo-ocr.json"']}}
    assert unit_plan("hailo-ocr", OCR, fleet, named)["refusals"] == []


def test_removing_environment_drops_every_variable():
    plan = unit_plan("hailo-ocr", OCR, None, {"Service": {"Environment": None}})
    assert [message.split(" would drop ")[1].split(" ")[0] for message in plan["refusals"]] == [
        "XDG_CONFIG_HOME", "OCR_CONFIG_PATH", "HAILO_PRINT_TO_SYSLOG"]
    assert all(message.startswith("hailo-ocr.service: [Service] Environment would drop ")
               for message in plan["refusals"])


def test_environment_syntax():
    assert environment_names('"A=1" "B=x y" C=3') == ["A", "B", "C"]
    assert environment_names("'D=a b' E=\"q r\" F=\\ G") == ["D", "E", "F"]
    assert environment_names("NOEQUALS H=") == ["H"]
    assert environment_names('"I=a \\" b" J=1') == ["I", "J"]
    assert environment_names("") == []


def test_empty_environment_resets_the_list_before_it():
    before = [["Service", "Environment", "A=1"], ["Service", "Environment", ""],
              ["Service", "Environment", "B=2"]]
    settings_ = {"Service": {"Environment": "C=3"}}
    after = overlay(before, settings_)
    assert after == [["Service", "Environment", "C=3"]]
    # A was reset by the empty assignment, so only B is lost.
    assert refusals("x", before, after, settings_) == [
        "x.service: [Service] Environment would drop B (set it in the inventory's Environment too, "
        "or use the force switch)"]


def test_absent_directive_and_section_are_appended():
    settings_ = {"Service": {"TimeoutStopSec": 30, "KillSignal": "SIGTERM"},
                 "Install": {"WantedBy": "multi-user.target"},
                 "Hailo": {"Owner": "fleet"},
                 "Unit": {"StartLimitIntervalSec": 0}}
    after = overlay(CLIP, settings_)
    assert after[:4] == [CLIP[0], ["Unit", "StartLimitIntervalSec", "0"], CLIP[1], CLIP[2]]
    assert after[4:] == [
        CLIP[3],
        ["Service", "TimeoutStopSec", "30"],
        ["Service", "KillSignal", "SIGTERM"],
        ["Install", "WantedBy", "multi-user.target"],
        ["Hailo", "Owner", "fleet"],
    ]


def test_new_sections_come_unit_service_install_then_others_by_name():
    after = overlay([["Service", "Type", "simple"]], {
        "Zeta": {"A": 1}, "Install": {"WantedBy": "multi-user.target"}, "Alpha": {"B": 2},
        "Unit": {"Description": "d"}})
    assert [entry[0] for entry in after] == ["Service", "Unit", "Install", "Alpha", "Zeta"]


def test_appended_directive_goes_after_the_last_entry_of_a_repeated_section():
    before = [["Service", "Type", "simple"], ["Install", "WantedBy", "multi-user.target"],
              ["Service", "Restart", "always"]]
    assert overlay(before, {"Service": {"RestartSec": 5}}) == before + [["Service", "RestartSec", "5"]]
    assert overlay(before, {"Install": {"Alias": "ocr.service"}}) == [
        before[0], before[1], ["Install", "Alias", "ocr.service"], before[2]]


def test_none_removes_and_an_absent_none_does_nothing():
    settings_ = {"Service": {"TimeoutStartSec": None, "NotThere": None}, "Nope": {"X": None}}
    after = overlay(CLIP, settings_)
    assert after == [CLIP[0], CLIP[1], CLIP[3]]
    assert refusals("hailo-clip", CLIP, after, settings_) == []
    assert overlay(CLIP, {"Service": {"TimeoutStartSec": []}}) == after


def test_booleans_are_written_yes_and_no_and_numbers_as_text():
    after = overlay(OCR, {"Service": {"PrivateTmp": False, "NoNewPrivileges": True, "RestartSec": 5,
                                      "CPUWeight": 1.5}})
    assert ["Service", "PrivateTmp", "no"] in after and after.index(["Service", "PrivateTmp", "no"]) == 10
    assert after[11:14] == [["Service", "NoNewPrivileges", "yes"], ["Service", "RestartSec", "5"],
                            ["Service", "CPUWeight", "1.5"]]
    assert overlay([], {"Service": {"X": [True, 0, "a"]}}) == [
        ["Service", "X", "yes"], ["Service", "X", "0"], ["Service", "X", "a"]]


def test_unset_directive_that_differs_is_refused_naming_unit_and_directive():
    after = [entry for entry in CLIP if entry[1] != "TimeoutStartSec"]
    after.append(["Service", "Restart", "always"])
    after[2] = ["Service", "MemoryMax", "2G"]
    assert refusals("hailo-clip", CLIP, after, {"Unit": {"Description": "x"}}) == [
        "hailo-clip.service: [Service] TimeoutStartSec=120 would be dropped",
        "hailo-clip.service: [Service] MemoryMax=4G would change to MemoryMax=2G",
        "hailo-clip.service: [Service] Restart=always would be added",
    ]
    # The unit name may be given with its suffix.
    assert refusals("hailo-clip.service", CLIP, CLIP[:2], None) == [
        "hailo-clip.service: [Service] TimeoutStartSec=120 would be dropped",
        "hailo-clip.service: [Service] MemoryMax=4G would be dropped",
    ]


def test_fleet_and_service_settings_merge_per_directive():
    fleet = {"Service": {"MemoryMax": "3G", "CPUQuota": "80%", "Environment": ["A=1"]},
             "Unit": {"StartLimitBurst": 10}}
    service = {"Service": {"MemoryMax": "6G", "CPUQuota": None}}
    assert unit_settings("hailo-clip", fleet, service) == {
        "Service": {"MemoryMax": "6G", "CPUQuota": None, "Environment": ["A=1"]},
        "Unit": {"StartLimitBurst": 10}}
    assert unit_settings("hailo-clip", None, None) == {}
    assert fleet["Service"]["MemoryMax"] == "3G"  # inputs untouched


@pytest.mark.parametrize("fleet, service, culprit", [
    ({"Ser vice": {"A": 1}}, None, "invalid section name 'Ser vice'"),
    ({"1Service": {"A": 1}}, None, "invalid section name '1Service'"),
    # The table of what systemd knows (plugin_utils/systemd_directives.py): a typo restarts every
    # service for nothing, so it is refused with the nearest known name.
    ({"Servce": {"MemoryMax": "1G"}}, None, "unknown section [Servce]; did you mean 'Service'?"),
    (None, {"Service": {"MemoryMx": "1G"}}, "[Service] unknown directive 'MemoryMx'; did you mean 'MemoryMax'?"),
    (None, {"Install": {"MemoryMax": "1G"}}, "[Install] unknown directive 'MemoryMax'"),
    (None, {"Service": {"Memory-Max": "1G"}}, "[Service] invalid directive name 'Memory-Max'"),
    (None, {"Service": {"": "1G"}}, "[Service] invalid directive name ''"),
    (None, {"Service": {"MemoryMax": {"a": 1}}}, "[Service] MemoryMax: value must be"),
    ({"Service": {"Environment": ["A=1", None]}}, None, "[Service] Environment: list items must be"),
    ({"Service": {"Environment": [["A=1"]]}}, None, "[Service] Environment: list items must be"),
    (None, {"Service": {"ExecStart": "/bin/a\n/bin/b"}}, "[Service] ExecStart: value must be a single line"),
    (None, {"Service": {"ExecStart": "/bin/a \\"}}, "[Service] ExecStart: value must not end in a backslash"),
    (None, {"Service": ["MemoryMax=1G"]}, "[Service] must be a mapping of directives"),
    (None, ["Service"], "unit settings must be a mapping"),
])
def test_bad_settings_raise_naming_service_section_and_directive(fleet, service, culprit):
    with pytest.raises(UnitSettingsError) as err:
        unit_settings("hailo-depth", fleet, service)
    message = str(err.value)
    assert message.startswith("hailo-depth.service (")
    assert culprit in message
    assert ("fleet-wide" in message) is (fleet is not None)
    with pytest.raises(ValueError):
        units_plan({"hailo-depth": []}, fleet, {"hailo-depth": service})
    # Also when the device has no such service, or no services at all.
    with pytest.raises(UnitSettingsError) as err:
        units_plan({}, fleet, {"hailo-depth": service})
    assert culprit in str(err.value)
    assert str(err.value).startswith("every service (" if fleet is not None else "hailo-depth.service (")


def test_render_lines_round_trips_through_parse_unit():
    text = render_lines(OCR)
    assert text.startswith("[Unit]\nDescription=Hailo OCR service\nAfter=network-online.target\n\n[Service]\n")
    assert text.endswith("\n\n[Install]\nWantedBy=multi-user.target\n")
    assert parse_unit(text) == OCR
    split = [["Service", "A", "1"], ["Install", "B", "2"], ["Service", "C", "3"]]
    assert render_lines(split) == "[Service]\nA=1\n\n[Install]\nB=2\n\n[Service]\nC=3\n"
    assert parse_unit(render_lines(split)) == split
    assert render_lines([]) == ""
    after = overlay(OCR, {"Service": {"Environment": ['"A=x y"', "B=1"], "NoNewPrivileges": True}})
    assert parse_unit(render_lines(after)) == after


def test_units_plan_for_a_device():
    units = {"hailo-ocr": OCR, "hailo-clip": CLIP, "hailo-gone": None, "hailo-face": None}
    per_service = {"hailo-clip": {"Service": {"MemoryMax": "6G"}}, "hailo-gone": {"Service": {"MemoryMax": "1G"}},
                   "hailo-elsewhere": {"Service": {"MemoryMax": "1G"}}}
    plans = units_plan(units, None, per_service, {"hailo-gone": "/etc/systemd/system/hailo-gone.service does not exist"})
    assert list(plans) == ["hailo-clip", "hailo-face", "hailo-gone", "hailo-ocr"]
    assert plans["hailo-ocr"] == {"settings": {}, "directives": OCR, "changed": False, "refusals": [],
                                  "body": render_lines(OCR)}
    assert plans["hailo-clip"]["changed"] is True and plans["hailo-clip"]["refusals"] == []
    assert ["Service", "MemoryMax", "6G"] in plans["hailo-clip"]["directives"]
    assert plans["hailo-face"] == {"settings": {}, "directives": None, "changed": False, "refusals": [],
                                   "body": None}
    assert plans["hailo-gone"]["changed"] is False and plans["hailo-gone"]["directives"] is None
    assert plans["hailo-gone"]["refusals"] == [
        "hailo-gone.service: the device's unit could not be read "
        "(/etc/systemd/system/hailo-gone.service does not exist), so it cannot be rendered"]
    # Fleet-wide settings apply to every unit, so an unreadable one is refused too.
    fleet_plans = units_plan(units, {"Service": {"CPUQuota": "80%"}}, None)
    assert fleet_plans["hailo-face"]["refusals"] == [
        "hailo-face.service: the device's unit could not be read (no directives were reported), "
        "so it cannot be rendered"]
    assert fleet_plans["hailo-ocr"]["directives"][9] == ["Service", "CPUQuota", "80%"]


def test_units_from_service_facts():
    services = {
        "hailo-ocr": {"port": 11436, "unit": {"directives": OCR, "parse_error": None}},
        "hailo-pose": {"port": 11440, "unit": {"directives": None, "parse_error": "x: line 3: bad"}},
        "hailo-clip": CLIP,
    }
    units, reasons = units_from_facts(services)
    assert units == {"hailo-ocr": OCR, "hailo-pose": None, "hailo-clip": CLIP}
    assert reasons == {"hailo-pose": "x: line 3: bad"}


def test_units_plan_from_facts_and_its_errors():
    # What the unit_plan filter did before the role's plan became one call (device_change).
    services = {"hailo-pose": {"unit": {"directives": None, "parse_error": "x: line 3: bad"}},
                "hailo-clip": {"unit": {"directives": CLIP, "parse_error": None}}}
    units, reasons = units_from_facts(services)
    plans = units_plan(units, {"Service": {"TimeoutStartSec": 90}}, None, reasons)
    assert plans["hailo-pose"]["refusals"] == [
        "hailo-pose.service: the device's unit could not be read (x: line 3: bad), so it cannot be rendered"]
    assert plans["hailo-clip"]["directives"][2] == ["Service", "TimeoutStartSec", "90"]
    with pytest.raises(UnitSettingsError, match=r"every service \(fleet-wide unit settings\): \[Service\] invalid directive name .Bad-Name."):
        units_plan(units, {"Service": {"Bad-Name": 1}}, None, reasons)


# ---------------------------------------------------------------------------- properties
_names = st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,8}\Z")
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)
_units = st.lists(st.tuples(st.sampled_from(["Unit", "Service", "Install", "X-Hailo"]), _names, _values)
                  .map(list), max_size=25)


@settings(max_examples=200, deadline=None)
@given(_units)
def test_overlay_without_settings_is_the_identity_and_refuses_nothing(directives):
    for settings_ in (None, {}, {"Service": {}}):
        after = overlay(directives, settings_)
        assert after == directives
        assert refusals("hailo-x", directives, after, settings_) == []
        plan = unit_plan("hailo-x", directives, settings_, None)
        assert plan["changed"] is False and plan["refusals"] == []


@settings(max_examples=200, deadline=None)
@given(_units, st.dictionaries(st.sampled_from(["Unit", "Service", "Install", "Extra"]),
                               st.dictionaries(_names, st.one_of(st.none(), st.booleans(), st.integers(),
                                                                 _names, st.lists(_names, max_size=3)),
                                               max_size=4), max_size=3))
def test_overlay_touches_only_what_is_set_and_renders_back(directives, settings_):
    after = overlay(directives, settings_)
    is_set = set((section, key) for section, items in settings_.items() for key in items)
    untouched_before = [entry for entry in directives if (entry[0], entry[1]) not in is_set]
    untouched_after = [entry for entry in after if (entry[0], entry[1]) not in is_set]
    assert untouched_after == untouched_before
    assert [message for message in refusals("hailo-x", directives, after, settings_)
            if " Environment would drop " not in message] == []
    if not any(value.endswith("\\") for _section, _key, value in after):
        assert parse_unit(render_lines(after)) == after


def test_refusals_mask_environment_values():
    before = [["Service", "Environment", "TOKEN=secret"], ["Service", "ExecStart", "/bin/x"]]
    after = [["Service", "ExecStart", "/bin/x"]]
    messages = refusals("hailo-x", before, after, {})
    assert messages == ["hailo-x.service: [Service] Environment=TOKEN=*** would be dropped"]
