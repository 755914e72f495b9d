"""The fleet_report action: what it reads from hostvars and what it returns (no play needed)."""
import json
import os
from unittest import mock

import pytest
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.hailo.services.plugins.action.fleet_report import ActionModule

FLEET_MAP = {
    "services": {"hailo-ocr": {"port": 11436}, "hailo-depth": {"port": 11436}},
    "hosts": {"pi1": {"services": ["hailo-ocr", "hailo-depth"], "notes": []},
              "pi2": {"services": ["hailo-ocr", "hailo-depth"], "notes": []}},
    "skipped": {}, "disagreements": [], "in_use": [], "scope": "fleet",
    "hosts_all": ["pi1", "pi2", "pi3"], "serial": [1, "50%"],
    "port_map": {"ports": {"hailo-ocr": 11436, "hailo-depth": 11437},
                 "changes": [{"service": "hailo-depth", "from": 11436, "to": 11437, "reason": "shared 11436"}],
                 "restart_order": ["hailo-depth"]},
}
# What the role registered: each device's Discovery, and its Outcome (apply_change's record).
HOSTVARS = {
    "pi1": {"__reconcile_outcome": {"record": {"outcome": "changed", "restarted": ["hailo-depth"],
                                               "ports": [{"name": "hailo-depth", "from": 11436, "port": 11437}]}},
            "__reconcile_discovery": {"services": {"hailo-depth": {"port": 11436, "checksum": "a"}}}},
    "pi2": {"__reconcile_outcome": {"failed": True,
                                    "record": {"outcome": "rolled_back", "message": "health check failed"}}},
    "pi3": {},
}


def run(args, check_mode=False, **task_vars):
    task = Task()
    task.args = args
    action = ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None,
                          shared_loader_obj=None)
    variables = dict({"hostvars": HOSTVARS, "ansible_check_mode": check_mode,
                      "ansible_run_tags": ["all"]}, **task_vars)
    return action.run(task_vars=variables)


def test_the_report_of_the_fleet_plans_devices(tmp_path):
    (tmp_path / "source-references.md").write_text("## Source references\n")
    result = run({"fleet_map": FLEET_MAP, "report_dir": str(tmp_path), "max_failed_hosts": 0,
                  "max_fail_percentage": 100, "stopped": "1 device failed (pi2)",
                  "batches": [["pi1"], ["pi2"], ["pi3"]], "applying": False},
                 ansible_limit="pi1:pi2:pi3")
    report = result["report"]
    assert list(report["devices"]) == ["pi1", "pi2", "pi3"]
    assert {h: d["outcome"] for h, d in report["devices"].items()} == {
        "pi1": "changed", "pi2": "rolled_back", "pi3": "not_reached"}
    assert report["check_mode"] is True  # not applying
    assert report["scope"] == "fleet" and report["stopped"] == "1 device failed (pi2)"
    assert report["meta"] == {
        "tags": ["all"], "limit": "pi1:pi2:pi3", "serial": [1, "50%"], "batches": [["pi1"], ["pi2"], ["pi3"]],
        "max_failed_hosts": 0, "max_fail_percentage": 100,
        "source_references": os.path.join(str(tmp_path), "source-references.md")}
    assert result["markdown"].endswith("see [source-references.md](source-references.md).\n")
    assert result["lines"][-1] == "Fleet report: %s/fleet-rollout.md and fleet-rollout.json" % tmp_path
    assert result["stats"]["devices"] == {"pi1": "changed", "pi2": "rolled_back", "pi3": "not_reached"}
    assert result["message"].startswith("Fleet rollout incomplete: pi2; 1 device failed (pi2).")
    assert "saved_plan" not in result
    # Written by the action, in Python on the controller (no file or copy task), whole.
    assert result["files"] == [str(tmp_path / "fleet-rollout.md"), str(tmp_path / "fleet-rollout.json")]
    assert (tmp_path / "fleet-rollout.md").read_text() == result["markdown"]
    assert json.loads((tmp_path / "fleet-rollout.json").read_text()) == json.loads(json.dumps(report))
    assert oct(os.stat(str(tmp_path / "fleet-rollout.json")).st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(str(tmp_path))) == ["fleet-rollout.json", "fleet-rollout.md", "source-references.md"]


def test_the_report_is_written_in_check_mode_too_into_a_new_directory(tmp_path):
    reports = tmp_path / "new" / "reports"
    result = run({"fleet_map": FLEET_MAP, "report_dir": str(reports), "max_failed_hosts": 0,
                  "max_fail_percentage": 100}, check_mode=True)
    assert result["report"]["check_mode"] is True
    assert sorted(os.listdir(str(reports))) == ["fleet-rollout.json", "fleet-rollout.md"]


def test_a_report_dir_that_cannot_be_written_fails_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run({"fleet_map": FLEET_MAP, "report_dir": str(blocker / "reports"), "max_failed_hosts": 0,
                  "max_fail_percentage": 100})
    assert result["failed"] and "cannot write the report" in result["msg"] and str(blocker) in result["msg"]


def test_the_saved_plan_when_asked(tmp_path):
    args = {"fleet_map": FLEET_MAP, "report_dir": str(tmp_path), "max_failed_hosts": 0,
            "max_fail_percentage": 100, "saved_plan": True,
            "plan_out": str(tmp_path / "plans" / "fleet-plan"), "fail_on_device_error": False}
    result = run(args)
    document = result["saved_plan"]["document"]
    assert json.loads((tmp_path / "plans" / "fleet-plan.json").read_text()) == json.loads(json.dumps(document))
    assert (tmp_path / "plans" / "fleet-plan.md").read_text() == result["saved_plan"]["markdown"]
    assert "Apply exactly this plan" in result["lines"][-1]
    assert list(document)[:3] == ["format", "generated", "scope"]
    assert document["generated"] == result["report"]["generated"]
    assert document["devices"]["pi1"]["moves"] == [{"service": "hailo-depth", "from": 11436, "to": 11437}]
    assert document["devices"]["pi1"]["seen"]["hailo-depth"]["config"] == "a"
    assert document["devices"]["pi3"]["seen"] == {}
    assert "| hailo-depth | 11436 | 11437 | shared 11436 |" in result["saved_plan"]["markdown"]
    assert "Source references" not in result["markdown"]
    assert result["message"] == "Fleet rollout incomplete: pi2; not stopped. See %s/fleet-rollout.md." % tmp_path
    # pi2 failed: a run that fails on it saves no plan.
    os.unlink(str(tmp_path / "plans" / "fleet-plan.json"))
    result = run(dict(args, fail_on_device_error=True))
    assert "saved_plan" in result and not (tmp_path / "plans" / "fleet-plan.json").exists()


@pytest.mark.parametrize("args, culprit", [
    ({"max_failed_hosts": 0, "max_fail_percentage": 100, "report_dir": "/tmp"}, "fleet_map"),
    ({"fleet_map": {}, "max_failed_hosts": 0, "max_fail_percentage": 100}, "report_dir"),
    ({"fleet_map": {}, "report_dir": "/tmp", "max_failed_hosts": 0, "max_fail_percentage": 100,
      "saved_plan": True}, "plan_out"),
])
def test_missing_arguments_are_named(args, culprit):
    with pytest.raises(Exception, match=culprit):
        run(args)
