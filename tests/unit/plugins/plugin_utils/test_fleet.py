"""Fleet merging, per-device maps and the failure budget (pure helpers)."""
import pytest

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import (
    FleetError,
    budget_progress,
    fleet_budget,
    fleet_merge,
    fleet_serial,
    source_moves,
    host_map,
)
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile

CATALOG = {
    "hailo-ocr": {"port": 11436, "priority": 1},
    "hailo-depth": {"port": 11436},
    "hailo-pose": {"port": 11436},
    "hailo-face": {"port": 5002, "frozen": True},
    "hailo-piper": {"port": 5002},
}


def facts(in_use=(), **ports):
    return {"services": {name.replace("_", "-"): {"port": port} for name, port in ports.items()},
            "in_use": list(in_use)}


def fleet_of_three():
    return {
        "pi1": facts(hailo_ocr=11436, hailo_depth=11436, hailo_pose=11436,
                     hailo_face=5002, hailo_piper=5002),
        "pi2": facts(hailo_ocr=11436, hailo_depth=11436, hailo_face=5002, hailo_piper=5002),
        "pi3": facts(in_use=[11439, 22], hailo_ocr=11436, hailo_depth=11436, hailo_pose=11436,
                     hailo_face=5002, hailo_piper=5002),
    }


def test_union_of_services_and_in_use_gives_one_map_that_avoids_every_squatter():
    merged = fleet_merge(fleet_of_three(), CATALOG)
    assert sorted(merged["services"]) == sorted(CATALOG)
    assert merged["in_use"] == [22, 11439]
    plan = reconcile(merged["services"], in_use=merged["in_use"])
    assert plan["ports"]["hailo-depth"] == 11437
    assert plan["ports"]["hailo-pose"] == 11438
    assert 11439 not in plan["ports"].values()
    assert merged["hosts"]["pi2"]["missing"] == ["hailo-pose"]
    assert any("does not run hailo-pose" in n for n in merged["hosts"]["pi2"]["notes"])
    assert not merged["preview"] and not merged["disagreements"]


def test_disagreement_takes_the_most_common_port_and_explains_it():
    hosts = fleet_of_three()
    hosts["pi3"]["services"]["hailo-piper"]["port"] = 5004
    merged = fleet_merge(hosts, CATALOG)
    assert merged["services"]["hailo-piper"]["port"] == 5002
    assert merged["disagreements"] == [
        {"service": "hailo-piper", "chosen": 5002,
         "ports": {"5002": ["pi1", "pi2"], "5004": ["pi3"]}}]
    assert any("hailo-piper is on 5004 here but on 5002 on 2 of 3" in n
               for n in merged["hosts"]["pi3"]["notes"])


def test_tie_goes_to_the_catalog_port_else_the_lowest():
    hosts = {"a": facts(hailo_piper=5004), "b": facts(hailo_piper=5002)}
    assert fleet_merge(hosts, CATALOG)["services"]["hailo-piper"]["port"] == 5002
    assert fleet_merge(hosts, {})["services"]["hailo-piper"]["port"] == 5002
    hosts = {"a": facts(hailo_piper=5007), "b": facts(hailo_piper=5005)}
    assert fleet_merge(hosts, CATALOG)["services"]["hailo-piper"]["port"] == 5005


def test_a_rollout_stopped_half_way_keeps_the_map_the_moved_devices_are_on():
    """pi1 moved depth 11439 -> 11440 and pose 11440 -> 11441 (a squatter holds 11439 there);
    pi2's change was rolled back. One device each way: the tie must not go to the squatter's
    port, nor to a port another service of the tie took, or the next run swaps pi1's ports."""
    hosts = {
        "pi1": facts(in_use=[11439], hailo_ocr=11436, hailo_depth=11440, hailo_pose=11441),
        "pi2": facts(hailo_ocr=11436, hailo_depth=11439, hailo_pose=11440),
    }
    merged = fleet_merge(hosts, CATALOG)
    assert merged["services"]["hailo-depth"]["port"] == 11440
    assert merged["services"]["hailo-pose"]["port"] == 11441
    plan = reconcile(merged["services"], in_use=merged["in_use"])
    assert plan["ports"]["hailo-depth"] == 11440 and plan["ports"]["hailo-pose"] == 11441
    assert host_map(plan, hosts["pi1"]["services"])["changes"] == []
    assert [(c["service"], c["from"], c["to"]) for c in host_map(plan, hosts["pi2"]["services"])["changes"]] == [
        ("hailo-depth", 11439, 11440), ("hailo-pose", 11440, 11441)]


def test_unreachable_failed_and_errored_hosts_are_skipped_not_crashed_on():
    hosts = fleet_of_three()
    hosts["pi4"] = {"unreachable": True, "msg": "ssh: timeout"}
    hosts["pi5"] = {"failed": True, "msg": "boom"}
    hosts["pi6"] = None
    hosts["pi1"]["services"]["hailo-face"] = {"error": "unreadable"}
    merged = fleet_merge(hosts, CATALOG)
    assert merged["skipped"]["pi4"] == "unreachable: ssh: timeout"
    assert merged["skipped"]["pi5"].startswith("discovery failed")
    assert "pi6" in merged["skipped"]
    assert any("hailo-face left out" in n for n in merged["hosts"]["pi1"]["notes"])


def test_no_services_anywhere_is_a_preview_of_the_catalog():
    merged = fleet_merge({"localhost": facts(in_use=[22])}, CATALOG)
    assert merged["preview"] and merged["services"] == CATALOG and merged["in_use"] == []


def test_bad_hosts_argument():
    with pytest.raises(FleetError):
        fleet_merge([], CATALOG)


def test_host_plan_keeps_only_the_device_services_and_counts_from_its_port():
    hosts = fleet_of_three()
    hosts["pi3"]["services"]["hailo-piper"]["port"] = 5004
    merged = fleet_merge(hosts, CATALOG)
    plan = reconcile(merged["services"], in_use=merged["in_use"])
    mine = host_map(plan, hosts["pi2"]["services"])
    assert sorted(mine["ports"]) == sorted(hosts["pi2"]["services"])
    assert [c["service"] for c in mine["changes"]] == ["hailo-depth", "hailo-piper"]
    other = host_map(plan, hosts["pi3"]["services"])
    piper = [c for c in other["changes"] if c["service"] == "hailo-piper"][0]
    assert piper["from"] == 5004 and piper["to"] == 5003 and "fleet map" in piper["reason"]
    assert host_map(plan, {}) is plan
    with pytest.raises(FleetError):
        host_map(plan, {"hailo-x": {"port": 1}})


def test_host_plan_keeps_a_service_the_fleet_does_not_move():
    plan = {"ports": {"hailo-clip": 5000}, "changes": [], "restart_order": []}
    mine = host_map(plan, {"hailo-clip": {"port": 5005}})
    assert mine["changes"][0]["reason"].startswith("the fleet keeps it on 5000")


@pytest.mark.parametrize("outcomes, max_failed, pct, spent", [
    ({}, 0, 100, False),
    ({"a": "ok", "b": "changed"}, 0, 100, False),
    ({"a": "ok", "b": "rolled_back"}, 0, 100, True),
    ({"a": "ok", "b": "unreachable"}, 1, 100, False),
    ({"a": "ok", "b": "unreachable"}, 1, 40, True),
    ({"a": "failed", "b": "failed", "c": "ok"}, 1, 100, True),
    ({"a": None, "b": "ok"}, 0, 0, False),
    ({"a": {"outcome": "failed"}, "b": None}, 0, 100, True),
])
def test_budget(outcomes, max_failed, pct, spent):
    result = fleet_budget(outcomes, max_failed, pct)
    assert result["spent"] is spent
    assert bool(result["reason"]) is spent


def test_budget_rejects_bad_limits():
    with pytest.raises(FleetError):
        fleet_budget({}, -1)
    with pytest.raises(FleetError):
        fleet_budget({}, 0, 101)


@pytest.mark.parametrize("given, batches", [
    (1, [1]), ("25%", ["25%"]), ([1, "25%", "100%"], [1, "25%", "100%"]),
    ("[1,2]", [1, 2]), ("[1, '50%']", [1, "50%"]), ("1,2", [1, 2]), (["2", 3], [2, 3]),
])
def test_serial_takes_what_users_type(given, batches):
    assert fleet_serial(given) == batches


@pytest.mark.parametrize("given, culprit", [
    ("foo", "'foo'"), (0, "at least 1"), ([1, "150%"], "'150%'"), ([], "is empty"), (True, "True"),
])
def test_bad_serial_is_refused_naming_the_value(given, culprit):
    with pytest.raises(FleetError, match="reconcile_serial") as err:
        fleet_serial(given)
    assert culprit in str(err.value)


def test_source_moves_come_from_the_fleet_map_and_the_catalogs_ports():
    catalog = {"hailo-pose": {"port": 11436}, "hailo-ocr": {"port": 11436}, "hailo-x": {}}
    plan = {"ports": {"hailo-pose": 11440, "hailo-ocr": 11436, "hailo-x": 5000}}
    assert [(m["service"], m["from"], m["to"]) for m in source_moves(catalog, plan)] == [
        ("hailo-pose", 11436, 11440)]


def test_budget_progress_names_the_failed_devices():
    assert budget_progress(fleet_budget({})) == "Done so far: 0 device(s), 0 failed."
    budget = fleet_budget({"pi1": "changed", "pi2": {"outcome": "rolled_back"}, "pi3": "unreachable", "pi4": None}, 5)
    assert budget_progress(budget) == "Done so far: 3 device(s), 2 failed (pi2, pi3)."


def test_budget_reason_keeps_the_limits_as_given():
    budget = fleet_budget({"a": "ok", "b": "failed"}, 1, 25)
    assert budget["reason"] == "1 of 2 devices failed (b), more than 25%"
    assert fleet_budget({"a": "failed"}, "0", "100")["reason"] == "1 device failed (a), more than the 0 tolerated"
