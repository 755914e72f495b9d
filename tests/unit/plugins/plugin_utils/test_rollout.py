"""Rollout steps worked out on the controller from device facts, catalog and map."""
import hashlib

import pytest

from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile
from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    RolloutError,
    device_services,
    health_targets,
    restart_order,
    rollback_order,
    rollback_report,
    rollout_actions,
    rollout_steps,
)

CATALOG = {
    "hailo-ocr": {"port": 11436, "priority": 1},
    "hailo-depth": {"port": 11436},
    "hailo-face": {"port": 5002, "frozen": True},
    "hailo-piper": {"port": 5002},
    "hailo-ollama": {"port": 11434, "priority": 10, "health_path": "/api/version"},
    "hailo-spare": {"port": 5010, "state": "standby"},
}


def found(port, active="active", json_exists=False, json_in_step=False, checksum=None):
    return {
        "config_path": "/etc/hailo/x.yaml", "port": port, "json_path": "/etc/xdg/x/x.json",
        "json_exists": json_exists, "json_in_step": json_in_step, "error": None,
        "unit": {"active": active, "checksum": checksum},
    }


DEVICE = {
    "hailo-ocr": found(11436, json_exists=True, json_in_step=True),
    "hailo-depth": found(11436, active="failed", json_exists=True, json_in_step=True),
    "hailo-face": found(5002),
    "hailo-piper": found(5002, active="activating"),
    "hailo-ollama": found(11434, json_exists=False),
    "hailo-spare": found(5010, active="inactive"),
}


def plan_for(device):
    return reconcile(device_services(device, CATALOG))


def test_device_ports_override_the_catalog_and_policy_is_kept():
    services = device_services({"hailo-piper": found(5004)}, CATALOG)
    assert services == {"hailo-piper": {"port": 5004}}
    assert device_services({"hailo-face": found(5002)}, CATALOG)["hailo-face"]["frozen"] is True


def test_without_device_services_the_catalog_is_previewed():
    assert device_services({}, CATALOG) == CATALOG


def test_unreadable_config_names_the_service():
    broken = dict(found(None), error="server.port missing")
    with pytest.raises(RolloutError, match="service hailo-piper: server.port missing"):
        device_services({"hailo-piper": broken}, CATALOG)


def test_a_json_problem_refuses_a_json_reader_in_discoverys_words():
    problem = "/etc/xdg/hailo-ollama/hailo-ollama.json: refused: its directory /etc/xdg/hailo-ollama does not exist"
    device = dict(DEVICE, **{"hailo-ollama": dict(found(11434), json_problem=problem),
                             "hailo-piper": dict(found(5002, active="activating"), json_problem="not read")})
    plan = plan_for(device)
    with pytest.raises(RolloutError) as err:
        rollout_steps(device, CATALOG, plan, json_readers=["hailo-ollama"])
    assert str(err.value) == "service hailo-ollama: " + problem
    # hailo-piper reads its YAML: a problem with a JSON copy it does not have is not its.
    rollout_steps(device, CATALOG, plan, json_readers=[])


def test_steps_say_what_each_service_needs():
    plan = plan_for(DEVICE)
    steps = {s["name"]: s for s in rollout_steps(DEVICE, CATALOG, plan, json_readers=["hailo-ollama"])}
    assert steps["hailo-depth"]["port"] == 11437 and steps["hailo-depth"]["update_config"]
    assert steps["hailo-piper"]["port"] == 5003 and steps["hailo-piper"]["update_config"]
    assert steps["hailo-piper"]["json_path"] is None  # no copy and not a JSON reader
    assert not steps["hailo-ocr"]["update_config"]
    # ollama reads a JSON copy that is missing: it must be written even though it keeps its port
    assert steps["hailo-ollama"]["update_config"] and steps["hailo-ollama"]["json_path"]
    assert steps["hailo-spare"]["state"] == "standby"


def test_unit_update_compares_checksums():
    unit = "[Service]\nExecStart=/bin/true\n"
    device = {"hailo-face": found(5002, checksum=hashlib.sha1(unit.encode()).hexdigest()),
              "hailo-piper": found(5003, checksum="0" * 40)}
    plan = plan_for(device)
    steps = {s["name"]: s for s in rollout_steps(device, CATALOG, plan, units={
        "hailo-face": unit, "hailo-piper": unit})}
    assert steps["hailo-face"]["update_unit"] is False
    assert steps["hailo-piper"]["update_unit"] is True


def test_restart_order_brings_back_what_should_run_and_leaves_standby_stopped():
    plan = plan_for(DEVICE)
    steps = rollout_steps(DEVICE, CATALOG, plan, json_readers=["hailo-ollama"])
    order = restart_order(steps, ["hailo-depth", "hailo-piper", "hailo-ollama"], plan)
    # movers first in the map's order, then the rest alphabetically; spare stays stopped
    assert order == ["hailo-depth", "hailo-piper", "hailo-ollama"]
    assert restart_order(steps, [], plan) == ["hailo-depth", "hailo-piper"]  # not running


def test_health_targets_after_and_for_rollback():
    plan = plan_for(DEVICE)
    steps = rollout_steps(DEVICE, CATALOG, plan)
    after = {t["name"]: t for t in health_targets(steps)}
    assert set(after) == {"hailo-ocr", "hailo-depth", "hailo-face", "hailo-piper", "hailo-ollama"}
    assert after["hailo-depth"]["port"] == 11437
    assert after["hailo-ollama"]["path"] == "/api/version"
    assert "path" not in after["hailo-ocr"]
    before = {t["name"]: t["port"] for t in health_targets(steps, ports="current", was_running=True)}
    assert before == {"hailo-ocr": 11436, "hailo-face": 5002, "hailo-ollama": 11434}
    with pytest.raises(RolloutError, match="'later'"):
        health_targets(steps, ports="later")


def test_bad_state_names_the_service():
    with pytest.raises(RolloutError, match="service hailo-spare: state must be"):
        rollout_steps({"hailo-spare": found(5010)}, {"hailo-spare": {"state": "off"}},
                      {"ports": {"hailo-spare": 5010}})


def test_a_unit_that_does_not_hold_its_port_is_not_running():
    """A crash-looping unit reads "active" for a moment after each restart."""
    device = {"hailo-piper": dict(found(5003), serving=False),
              "hailo-face": dict(found(5002), serving=True)}
    steps = {s["name"]: s for s in rollout_steps(device, CATALOG, plan_for(device))}
    assert steps["hailo-piper"]["active"] is False
    assert steps["hailo-face"]["active"] is True
    assert restart_order(list(steps.values()), [], plan_for(device)) == ["hailo-piper"]


def test_rollback_order_gives_the_ports_back_to_the_services_that_ran():
    steps = [{"name": "hailo-piper", "active": False}, {"name": "hailo-face", "active": True},
             {"name": "hailo-depth", "active": False}, {"name": "hailo-ocr", "active": True},
             {"name": "hailo-clip", "active": True}]
    restart = ["hailo-depth", "hailo-piper", "hailo-face", "hailo-ocr"]
    assert rollback_order(steps, restart) == ["hailo-face", "hailo-ocr", "hailo-depth", "hailo-piper"]
    assert rollback_order(steps, []) == []


def test_run_state_before_the_rollout():
    device = dict(DEVICE, **{"hailo-piper": dict(found(5002, active="activating"), serving=False),
                             "hailo-face": dict(found(5002), serving=True)})
    was = {s["name"]: s["was"] for s in rollout_steps(device, CATALOG, plan_for(device))}
    assert was == {"hailo-ocr": "serving", "hailo-depth": "failed", "hailo-face": "serving",
                   "hailo-piper": "failing", "hailo-ollama": "serving", "hailo-spare": "stopped"}


def test_actions_restart_only_the_movers_and_what_should_run():
    """Nothing is written for a service that keeps its port: it is not restarted."""
    device = dict(DEVICE, **{"hailo-piper": dict(found(5002, active="activating"), serving=False),
                             "hailo-face": dict(found(5002), serving=True)})
    plan = plan_for(device)
    steps = rollout_steps(device, CATALOG, plan)
    actions = rollout_actions(steps, plan)
    assert actions["restart"] == ["hailo-depth", "hailo-piper"]
    # piper crash-loops: stopped before its config changes; depth sits failed
    assert actions["stop_first"] == ["hailo-piper"]
    assert actions["rollback_restart"] == ["hailo-piper"]
    assert actions["rollback_stop"] == ["hailo-depth"]


def test_actions_restart_a_service_whose_unit_changes():
    device = {"hailo-face": dict(found(5002, checksum="x"), serving=True)}
    plan = plan_for(device)
    steps = rollout_steps(device, CATALOG, plan, units={"hailo-face": "[Service]\n"})
    actions = rollout_actions(steps, plan)
    assert actions == {"restart": ["hailo-face"], "stop_first": [], "rollback_restart": ["hailo-face"],
                       "rollback_stop": []}


def _after(services, listeners):
    return {"services": services, "listeners": listeners}


def test_rollback_report_says_what_runs_where():
    steps = [{"name": "hailo-ocr", "from": 11436, "was": "serving"},
             {"name": "hailo-depth", "from": 11436, "was": "failing"},
             {"name": "hailo-pose", "from": 11436, "was": "failed"}]
    facts = _after({"hailo-ocr": {"port": 11436, "serving": True, "unit": {"active": "active"}},
                    "hailo-depth": {"port": 11436, "serving": False, "unit": {"active": "activating"}},
                    "hailo-pose": {"port": 11436, "serving": False, "unit": {"active": "inactive"}}},
                   [{"port": 11436, "unit": "hailo-ocr.service"}])
    report = rollback_report(steps, facts)
    assert report["ok"] is True
    assert report["lines"] == ["hailo-ocr: serving on 11436",
                               "hailo-depth: not serving on 11436 (crash-looping), as before (failing)",
                               "hailo-pose: inactive, as before (failed)"]


def test_rollback_report_names_a_service_left_on_a_port_its_config_does_not_name():
    steps = [{"name": "hailo-ocr", "from": 11436, "was": "serving"},
             {"name": "hailo-depth", "from": 11436, "was": "failing"}]
    facts = _after({"hailo-ocr": {"port": 11436, "serving": False, "unit": {"active": "failed"}},
                    "hailo-depth": {"port": 11436, "serving": False, "unit": {"active": "active"}}},
                   [{"port": 11439, "unit": "hailo-depth.service"}])
    report = rollback_report(steps, facts)
    assert report["ok"] is False
    assert report["problems"] == [
        "hailo-ocr served on 11436 before and does not now",
        "hailo-depth holds port(s) 11439 that its config does not name (11436)"]
