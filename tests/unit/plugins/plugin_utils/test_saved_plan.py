"""Saved fleet plans: the document, its review text and drift (pure helpers)."""
import pytest

from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import (
    SavedPlanError,
    check_plan,
    plan_document,
    plan_drift,
    plan_markdown,
)

FACTS = {"services": {
    "hailo-ocr": {"port": 11436, "checksum": "a", "json_checksum": "b", "unit": {"checksum": "c"}},
    "hailo-depth": {"port": 11436, "checksum": "d", "json_checksum": "e", "unit": {"checksum": "f"}},
}}
FLEET = {"port_map": {"ports": {"hailo-ocr": 11436, "hailo-depth": 11437},
                      "changes": [{"service": "hailo-depth", "from": 11436, "to": 11437, "reason": "shared"}],
                      "restart_order": ["hailo-depth"]},
         "skipped": {"pi9": "unreachable: no route"}}
RESULTS = {"pi1": {"outcome": "changed", "restarted": ["hailo-depth"],
                   "ports": [{"name": "hailo-ocr", "from": 11436, "port": 11436},
                             {"name": "hailo-depth", "from": 11436, "port": 11437}]}}


def doc():
    return plan_document(FLEET, {"pi1": FACTS}, RESULTS, {"generated": "now"})


def test_the_document_keeps_the_map_the_moves_and_what_each_device_looked_like():
    plan = doc()
    assert check_plan(plan) is plan
    assert plan["fleet_map"] == {"hailo-ocr": 11436, "hailo-depth": 11437}
    assert plan["devices"]["pi1"]["moves"] == [{"service": "hailo-depth", "from": 11436, "to": 11437}]
    assert plan["devices"]["pi1"]["seen"]["hailo-ocr"] == {"port": 11436, "config": "a", "json": "b", "unit": "c"}
    text = plan_markdown(plan)
    assert "| hailo-depth | 11436 | 11437 | shared |" in text
    assert "- **pi1**: hailo-depth 11436 -> 11437; restart hailo-depth" in text
    assert "- **pi9**: not planned (unreachable: no route)" in text


def test_no_drift_when_the_device_is_as_planned():
    assert plan_drift(doc(), "pi1", FACTS) == []


def test_drift_names_each_difference():
    now = {"services": {
        "hailo-ocr": dict(FACTS["services"]["hailo-ocr"], checksum="edited"),
        "hailo-depth": dict(FACTS["services"]["hailo-depth"], port=11438),
        "hailo-pose": {"port": 11436},
    }}
    assert plan_drift(doc(), "pi1", now) == [
        "hailo-depth is on 11438 now, the plan saw 11436",
        "hailo-ocr: its config changed since the plan",
        "hailo-pose is new (port 11436)"]
    assert plan_drift(doc(), "pi1", {"services": {}}) == ["hailo-depth is gone", "hailo-ocr is gone"]
    assert plan_drift(doc(), "pi2", FACTS) == ["pi2 is not in the plan"]


@pytest.mark.parametrize("bad, culprit", [
    ({}, "not a hailo.services fleet plan"), ([], "not a hailo.services fleet plan"),
    ({"format": "hailo.services/fleet-plan/v1"}, "the plan has no 'fleet_map'"),
])
def test_a_file_that_is_not_a_plan_is_refused(bad, culprit):
    with pytest.raises(SavedPlanError, match=culprit):
        check_plan(bad)
