"""The role's controller-side steps as actions: fleet_plan and device_result (no play needed),
and the base they share (validation, a ValueError fails the task naming its culprit)."""
from unittest import mock

from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.hailo.services.plugins.action.device_result import ActionModule as DeviceResult
from ansible_collections.hailo.services.plugins.action.fleet_plan import ActionModule as FleetPlan

CATALOG = {"hailo-face": {"port": 5002, "frozen": True}, "hailo-piper": {"port": 5002}}


def found(port):
    return {"config_path": "/etc/hailo/x.yaml", "port": port, "error": None, "unit": {"active": "active"}}


HOSTVARS = {
    "pi1": {"discovered": {"services": {"hailo-face": found(5002), "hailo-piper": found(5002)}, "in_use": []}},
    "pi2": {"discovered": {"unreachable": True, "msg": "no route to host"}},
    "pi3": {},
}


def run(cls, args, **task_vars):
    task = Task()
    task.args = args
    action = cls(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars=dict({"hostvars": HOSTVARS, "inventory_hostname": "pi1"}, **task_vars))


def test_fleet_plan_reads_every_hosts_discovery_and_returns_the_plan_as_a_fact():
    result = run(FleetPlan, {"hosts": ["pi1", "pi2", "pi3"], "discovery_var": "discovered", "catalog": CATALOG,
                             "serial": "[1, '50%']",
                             "outside": [{"item": "pi9", "services": {"hailo-piper": found(5003)}, "in_use": []}]})
    assert result["changed"] is False and not result.get("failed")
    plan = result["ansible_facts"]["reconcile_fleet_plan"]
    assert plan["serial"] == [1, "50%"]
    assert plan["outside_limit"] == ["pi9"]
    assert sorted(plan["skipped"]) == ["pi2", "pi3"]
    assert plan["plan"]["ports"] == {"hailo-face": 5002, "hailo-piper": 5003}
    assert plan["source_moves"] == [{"service": "hailo-piper", "from": 5002, "to": 5003,
                                     "reason": "fleet map: hailo-piper moves from 5002 to 5003"}]


def test_a_bad_value_fails_the_task_naming_it():
    result = run(FleetPlan, {"hosts": ["pi1"], "discovery_var": "discovered", "catalog": CATALOG, "serial": "[0]"})
    assert result["failed"] is True
    assert result["msg"] == "reconcile_serial: batch size 0 must be at least 1"


def test_device_result_records_the_outcome_as_a_fact_and_says_why_it_failed():
    steps = [{"name": "hailo-piper", "from": 5002, "port": 5003, "was": "serving"}]
    result = run(DeviceResult, {"steps": steps, "failure": {"msg": "hailo-piper did not answer"},
                                "transaction": {"failed": True, "rolled_back": True, "restarted": [],
                                                "rollback": {"restored": ["/etc/hailo/hailo-piper.yaml"],
                                                             "restarted": ["hailo-piper"]},
                                                "after": {"services": {"hailo-piper": {"port": 5002, "serving": True}}}},
                                "cause": "hailo-piper did not answer", "confirm_timeout": 120})
    record = result["ansible_facts"]["reconcile_result"]
    assert record["outcome"] == "rolled_back" and record["message"] == "hailo-piper did not answer"
    assert result["message"] == (
        "Port rollout failed on pi1 and was rolled back. Cause: hailo-piper did not answer. "
        "Restored 1 file(s); restarted hailo-piper. Every service is as it was before. Now: hailo-piper: serving on 5002.")


def test_every_action_validates_what_its_documentation_says():
    """The argument specs are derived from the docs-only modules (as ansible-doc shows them)."""
    import importlib

    import yaml

    from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import spec_from_options

    for name in ("check_input", "device_plan", "device_result", "fleet_budget", "fleet_plan", "fleet_report",
                 "source_report"):
        action = importlib.import_module("ansible_collections.hailo.services.plugins.action." + name)
        doc = yaml.safe_load(importlib.import_module("ansible_collections.hailo.services.plugins.modules." + name)
                             .DOCUMENTATION)
        assert action.ARGUMENT_SPEC == spec_from_options(doc["options"]), name
        assert action.ARGUMENT_SPEC, name
    path = {"type": "str", "required": True, "description": "x"}
    documented = {"settings": {"type": "dict", "suboptions": {"path": path}}}
    nested = spec_from_options(documented)
    assert nested == {"settings": {"type": "dict", "options": {"path": {"type": "str", "required": True}}}}
