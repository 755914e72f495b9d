"""The role's DeviceChange, Outcome and FleetMap as single calls: device_change, device_result, fleet_map."""
import json

import pytest

from ansible_collections.hailo.services.plugins.plugin_utils.device_change import device_change
from ansible_collections.hailo.services.plugins.plugin_utils.device_result import (
    device_result,
    outcome,
    device_failure_message,
)
from ansible_collections.hailo.services.plugins.plugin_utils.fleet import FleetError
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_map import fleet_map

CATALOG = {
    "hailo-ocr": {"port": 11436, "priority": 1},
    "hailo-depth": {"port": 11436},
    "hailo-face": {"port": 5002, "frozen": True},
    "hailo-piper": {"port": 5002},
}


def found(port, active="active"):
    return {"config_path": "/etc/hailo/x.yaml", "port": port, "json_path": "/etc/xdg/x/x.json",
            "json_exists": False, "json_in_step": False, "error": None, "checksum": "c0ffee",
            "unit": {"active": active, "checksum": "u1", "file_exists": True, "directives": None,
                     "parse_error": None}}


FACTS = {"services": {"hailo-ocr": found(11436), "hailo-depth": found(11436, active="failed"),
                      "hailo-face": found(5002), "hailo-piper": found(5002, active="activating")},
         "in_use": [11437]}


def never(*_args):
    raise AssertionError("nothing to render in edit mode with no unit settings")


def test_a_device_on_its_own_gets_its_own_map_and_one_transaction():
    change = device_change(FACTS, CATALOG, never, never, host="pi1", scope="host")
    assert change["port_map"]["ports"] == {"hailo-ocr": 11436, "hailo-depth": 11438,
                                           "hailo-face": 5002, "hailo-piper": 5003}
    assert change["table"][0].split() == ["SERVICE", "OLD", "NEW", "REASON"]
    # Edit mode: one entry per moved service, its new port and the checksum discovery saw.
    assert change["actions"]["files"] == [{"path": "/etc/hailo/x.yaml", "port": 11438, "expect": "c0ffee"},
                                          {"path": "/etc/hailo/x.yaml", "port": 5003, "expect": "c0ffee"}]
    assert change["actions"]["restart"][:2] == ["hailo-depth", "hailo-piper"]
    assert change["actions"]["stop_first"] == ["hailo-piper"]
    assert change["refusal"] == "" and change["config_changes"] == [] and change["unit_refusals"] == []
    assert {check["name"]: check["port"] for check in change["health"]}["hailo-depth"] == 11436


def test_the_fleet_map_is_cut_down_to_the_device():
    fleet_map = {"ports": {"hailo-ocr": 11436, "hailo-depth": 11440, "hailo-face": 5002, "hailo-piper": 5003},
                 "changes": [], "restart_order": []}
    change = device_change(FACTS, CATALOG, never, never, host="pi1", fleet_map=fleet_map)
    assert change["port_map"]["ports"]["hailo-depth"] == 11440
    assert change["table"] == []  # the fleet play showed the fleet's map


def test_units_and_template_configs_are_rendered_by_the_callers_functions():
    rendered = []

    def render_unit(body):
        rendered.append(("unit", body))
        return "# managed\n" + body

    def render_config(name, data):
        rendered.append(("config", name))
        return "server:\n  port: %d\n" % data["server"]["port"]

    catalog = dict(CATALOG, **{"hailo-piper": {"port": 5002, "config_mode": "template"}})
    facts = {"services": {"hailo-piper": dict(found(5002), data={"server": {"host": "0.0.0.0", "port": 5002}},
                                              unit=dict(found(5002)["unit"], directives=[["Service", "ExecStart", "/bin/x"]]))},
             "in_use": []}
    change = device_change(facts, catalog, render_unit, render_config, host="pi1", scope="host",
                           unit_settings={"Service": {"MemoryMax": "1G"}}, reserved=[5002], json_readers=["hailo-piper"])
    assert ("config", "hailo-piper") in rendered and rendered[0][0] == "unit"
    kinds = {entry.get("kind"): entry for entry in change["actions"]["files"]}
    assert kinds["config"]["content"] == "server:\n  port: 5003\n"
    assert json.loads(kinds["json"]["content"])["server"]["port"] == 5003
    assert kinds["unit"]["content"].startswith("# managed\n")


def test_a_refusal_names_the_device_and_the_force_variable():
    catalog = dict(CATALOG, **{"hailo-piper": {"port": 5002, "config_mode": "template"}})
    facts = {"services": {"hailo-piper": dict(found(5002), data={"server": {"host": "0.0.0.0", "port": 5002},
                                                                 "tuned": {"x": 1}})}, "in_use": []}
    change = device_change(facts, catalog, never, lambda name, data: "x\n", host="pi1", scope="host")
    assert change["config_changes"] == ["hailo-piper: tuned would be removed (now {x: 1})"]
    assert change["refusal"] == (
        "Switching pi1 to config_mode template would change hand-tuned values: hailo-piper: tuned would be "
        "removed (now {x: 1}). Nothing was changed. Put the values in the inventory (the catalog's settings or "
        "reconcile_config_settings), or set reconcile_config_template_force=true to render anyway (check mode "
        "with --diff shows each file's diff).")
    assert "reconcile_config_template_force=true" in change["refusal"]
    forced = device_change(facts, catalog, never, lambda name, data: "x\n", host="pi1", scope="host", config_force=True)
    assert forced["refusal"] == "" and forced["config_changes"] == change["config_changes"]


def test_drift_from_a_saved_plan_is_refused_naming_the_plan():
    change = device_change(FACTS, CATALOG, never, never, host="pi1", fleet_map={}, saved={"device": None},
                           plan_file="plans/p.json")
    assert change["failure"]["msg"].startswith("pi1 drifted from the saved plan plans/p.json: pi1 is not in the plan")
    assert change["actions"] == {} and change["steps"] == []  # nothing to change


def test_a_device_that_was_not_discovered_is_a_failure_as_data():
    unreachable = device_change({"unreachable": True, "msg": "no route"}, CATALOG, never, never, host="pi1")
    assert unreachable["failure"] == {"msg": "pi1 is unreachable: no route", "unreachable": True}
    failed = device_change({"failed": True, "msg": "pi1 lacks python3-yaml"}, CATALOG, never, never, host="pi1")
    assert failed["failure"] == {"msg": "pi1 lacks python3-yaml"} and failed["steps"] == []


def test_the_outcome_of_each_shape_of_result():
    skipped = {"skipped": True, "changed": False}
    assert outcome({"unreachable": True}, None, None, None, [], []) == "unreachable"
    assert outcome({}, {"msg": "lost", "unreachable": True}, None, None, [], []) == "unreachable"
    assert outcome({}, {"msg": "x"}, {"rolled_back": True}, skipped, [], []) == "rolled_back"
    assert outcome({}, {"msg": "x"}, {"failed": True}, {"rollback": {}}, [], []) == "rolled_back"
    assert outcome({}, {"msg": "x"}, skipped, skipped, [], []) == "failed"
    assert outcome({}, None, {"written": ["/etc/x"]}, None, ["/etc/x"], []) == "changed"
    assert outcome({}, None, skipped, None, [], []) == "ok"


def test_the_record_reads_what_ran_and_says_what_would_restart_when_not_applying():
    steps = [{"name": "hailo-piper", "from": 5002, "port": 5003}]
    record = device_result(steps, {"restart": ["hailo-piper"]}, discovery={"last_revert": {"id": "c1"}},
                           transaction={"skipped": True}, health={"services": {"hailo-piper": {"healthy": True}}},
                           applying=False)
    assert record == {"outcome": "changed", "message": "", "check_mode": True, "ports": steps,
                      "restarted": ["hailo-piper"], "health": {"hailo-piper": {"healthy": True}},
                      "found": {"id": "c1"}, "rollback": None, "clients": [],
                      "firewall": None}
    failed = device_result(steps, {}, failure={"msg": "boom"}, transaction={"rolled_back": True, "rollback": {"restored": []},
                                                                            "restarted": []}, cause="boom")
    assert failed["outcome"] == "rolled_back" and failed["message"] == "boom"
    assert failed["rollback"] == {"restored": []}


def test_the_rollback_message_says_when_the_device_could_not_be_reached():
    steps = [{"name": "hailo-piper", "from": 5002, "port": 5003, "was": "serving"}]
    message = device_failure_message("pi1", steps, "timed out", revert={"unreachable": True, "msg": "gone"},
                                     after={"skipped": True}, confirm_timeout=120, transaction_timeout=300)
    assert message.startswith("Port rollout failed on pi1: timed out. The device could not be reached to roll it back")
    # The timer is armed for the whole change plus the confirmation window; a reboot reverts too.
    assert "at the latest 420 s after the change began" in message
    assert "or at its next boot before its services start" in message


def test_the_rollback_message_names_the_revert_time_of_an_applied_change():
    steps = [{"name": "hailo-piper", "from": 5002, "port": 5003, "was": "serving"}]
    message = device_failure_message("pi1", steps, "confirmation lost", transaction={"confirm_by": 0, "id": "c1"},
                                     revert={"unreachable": True, "msg": "gone"}, after={"skipped": True},
                                     confirm_timeout=120, transaction_timeout=300)
    assert "at 00:00:00 UTC, reconcile_confirm_timeout (120 s) after the change was applied" in message


def test_the_fleet_map_merges_every_device_and_checks_the_batches():
    facts = {"pi1": FACTS, "pi2": {"unreachable": True, "msg": "no route"}}
    fleet = fleet_map(facts, CATALOG, ["pi1", "pi2"], serial="[1, 2]", reserved=[])
    assert fleet["serial"] == [1, 2] and fleet["hosts_all"] == ["pi1", "pi2"]
    assert list(fleet["skipped"]) == ["pi2"]
    assert fleet["port_map"]["ports"]["hailo-piper"] == 5003
    assert fleet["table"][0] == "Fleet map (1 device(s) discovered, skipped: pi2):"
    assert {move["service"] for move in fleet["source_moves"]} == {"hailo-depth", "hailo-piper"}
    with pytest.raises(FleetError, match="reconcile_serial"):
        fleet_map(facts, CATALOG, ["pi1"], serial="[0]")


def test_a_device_with_nothing_to_do_needs_no_transaction_only_when_every_probe_answered():
    from ansible_collections.hailo.services.plugins.plugin_utils.device_change import nothing_to_do

    health = [{"name": "hailo-ocr", "port": 11436}, {"name": "hailo-depth", "port": 11438}]
    healthy = {"services": {"hailo-ocr": {"probe": {"ok": True, "port": 11436}},
                            "hailo-depth": {"probe": {"ok": True, "port": 11438}}}}
    assert nothing_to_do(healthy, {"files": [], "restart": []}, health) is True
    loading = {"services": dict(healthy["services"], **{"hailo-depth": {"probe": {"ok": False, "port": 11438}}})}
    assert nothing_to_do(loading, {}, health) is False  # the transaction waits for it, as before
    unprobed = {"services": {"hailo-ocr": {"probe": {"ok": True, "port": 11436}}, "hailo-depth": {}}}
    assert nothing_to_do(unprobed, {}, health) is False
    assert nothing_to_do(healthy, {"restart": ["hailo-depth"]}, health) is False
    assert nothing_to_do(healthy, {"files": [{"path": "/etc/hailo/hailo-depth.yaml"}]}, health) is False
    assert nothing_to_do(dict(healthy, journal={"id": "c1"}), {}, health) is False
    assert nothing_to_do(dict(healthy, last_revert={"id": "c0"}), {}, health) is False  # reported by the change


def test_a_step_that_crashed_without_its_record_is_the_devices_failure():
    from ansible_collections.hailo.services.plugins.plugin_utils.device_result import device_record

    change = {"steps": [], "actions": {}, "failure": None}
    crashed = {"failed": True, "msg": "Unexpected failure during module execution"}
    assert device_record(change=change, outcome=crashed)["outcome"] == "failed"
    assert device_record(change=dict(crashed))["outcome"] == "failed"
    assert device_record(change=change)["outcome"] == "ok"
