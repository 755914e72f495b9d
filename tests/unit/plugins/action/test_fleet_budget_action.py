"""The fleet_budget action: whether a rollout may go on to its next batch (no play needed)."""
from unittest import mock

from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.hailo.services.plugins.action.fleet_budget import ActionModule

# What the role registered: each device's Outcome is the record of its apply_change result.
HOSTVARS = {
    "pi1": {"__reconcile_outcome": {"record": {"outcome": "changed"}}},
    "pi2": {"__reconcile_outcome": {"failed": True,
                                    "record": {"outcome": "rolled_back", "message": "health check failed"}}},
    "pi3": {"__reconcile_discovery": {"services": {}}},  # discovered, in a batch not reached yet
}


def run(args):
    task = Task()
    task.args = args
    action = ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None,
                          shared_loader_obj=None)
    return action.run(task_vars={"hostvars": HOSTVARS})


def test_the_budget_alone():
    result = run({"hosts": ["pi1", "pi2", "pi3"], "max_failed_hosts": 0, "max_fail_percentage": 100})
    assert result["changed"] is False
    assert result["budget"] == {"spent": True, "failed": ["pi2"], "handled": 2,
                                "reason": "1 device failed (pi2), more than the 0 tolerated"}
    assert result["progress"] == "Done so far: 2 device(s), 1 failed (pi2)."
    assert "report" not in result


def test_a_bad_limit_fails_naming_it():
    result = run({"hosts": ["pi1"], "max_failed_hosts": -1, "max_fail_percentage": 100})
    assert result["failed"] is True
    assert "max_failed_hosts must be 0 or more" in result["msg"]


def test_the_batch_is_numbered_from_the_batches_registered_before_it():
    hostvars = dict(HOSTVARS, pi1=dict(HOSTVARS["pi1"], __rollout_budget={"batch": ["pi1"]}),
                    pi2=dict(HOSTVARS["pi2"], __rollout_budget={"batch": ["pi2"]}))
    task = Task()
    task.args = {"hosts": ["pi1", "pi2", "pi3"], "batch": ["pi3"], "max_failed_hosts": 1, "max_fail_percentage": 100}
    action = ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={"hostvars": hostvars})
    assert result["number"] == 3 and result["batch"] == ["pi3"]
    assert run({"hosts": ["pi1", "pi2", "pi3"], "batch": ["pi1"], "max_failed_hosts": 0,
                "max_fail_percentage": 100})["number"] == 1
