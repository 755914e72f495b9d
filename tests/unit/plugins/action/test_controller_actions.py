"""The role's steps as actions (no play needed): fleet_map on the controller; discover and
apply_change, whose module calls on the device are replaced by recorded answers; and the base
they share (validation, a ValueError fails the task naming its culprit)."""
import json
from unittest import mock

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.hailo.services.plugins.action.apply_change import ActionModule as ApplyChange
from ansible_collections.hailo.services.plugins.action.discover import ActionModule as Discover
from ansible_collections.hailo.services.plugins.action.fleet_map import ActionModule as FleetMap

CATALOG = {"hailo-face": {"port": 5002, "frozen": True}, "hailo-piper": {"port": 5002}}


def found(port):
    return {"config_path": "/etc/hailo/x.yaml", "port": port, "error": None, "unit": {"active": "active"}}


HOSTVARS = {
    "pi1": {"__reconcile_discovery": {"services": {"hailo-face": found(5002), "hailo-piper": found(5002)},
                                      "in_use": []}},
    "pi2": {"__reconcile_discovery": {"unreachable": True, "msg": "no route to host"}},
    "pi3": {},
}


def action(cls, args, check_mode=False):
    task = Task()
    task.args = args
    task.check_mode = check_mode
    return cls(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)


def run(cls, args, **task_vars):
    return action(cls, args).run(task_vars=dict({"hostvars": HOSTVARS, "inventory_hostname": "pi1"}, **task_vars))


class Device:
    """The device's answers to the action's module calls, in order; records the calls."""

    def __init__(self, *answers, commands=()):
        self.answers = list(answers)
        self.commands = list(commands)
        self.calls = []

    def execute_module(self, module_name=None, module_args=None, task_vars=None):
        self.calls.append((module_name.rsplit(".", 1)[-1], dict(module_args)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def low_level(self, cmd, **_kwargs):
        self.calls.append(("command", cmd))
        answer = self.commands.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def run(self, cls, args, check_mode=False):
        step = action(cls, args, check_mode=check_mode)
        with mock.patch.object(step, "_execute_module", self.execute_module), \
                mock.patch.object(step, "_low_level_execute_command", self.low_level):
            return step.run(task_vars={"inventory_hostname": "pi1", "hostvars": HOSTVARS})


def test_fleet_map_reads_every_hosts_discovery_and_returns_the_fleet_map_as_a_fact():
    result = run(FleetMap, {"hosts": ["pi1", "pi2", "pi3"], "catalog": CATALOG,
                            "serial": "[1, '50%']",
                            "outside": [{"item": "pi9", "services": {"hailo-piper": found(5003)}, "in_use": []}]})
    assert result["changed"] is False and not result.get("failed")
    fleet = result["ansible_facts"]["reconcile_fleet_map"]
    assert fleet["serial"] == [1, "50%"]
    assert fleet["outside_limit"] == ["pi9"]
    assert sorted(fleet["skipped"]) == ["pi2", "pi3"]
    assert fleet["port_map"]["ports"] == {"hailo-face": 5002, "hailo-piper": 5003}
    assert fleet["source_moves"] == [{"service": "hailo-piper", "from": 5002, "to": 5003,
                                     "reason": "fleet map: hailo-piper moves from 5002 to 5003"}]


def test_a_bad_value_fails_the_task_naming_it():
    result = run(FleetMap, {"hosts": ["pi1"], "catalog": CATALOG, "serial": "[0]"})
    assert result["failed"] is True
    assert result["msg"] == "reconcile_serial: batch size 0 must be at least 1"


DISCOVERY = {"config_dir": "/etc/hailo", "journal_dir": "/var/lib/j", "lease_holder": "run-1"}


def test_discover_is_one_module_call_on_a_device_without_a_leftover():
    device = Device({"services": {"hailo-piper": found(5002)}, "in_use": []})
    result = device.run(Discover, {"discovery": DISCOVERY})
    assert [name for name, _args in device.calls] == ["service_info"]
    assert result["services"]["hailo-piper"]["port"] == 5002 and result["changed"] is False


def test_discover_reverts_a_dead_runs_change_then_discovers_again():
    leftover = {"services": {}, "in_use": [], "journal": {"id": "c1", "stage": "restarting"}}
    device = Device(leftover, {"rollback": {"restored": ["/etc/hailo/hailo-piper.yaml"]}},
                    {"services": {"hailo-piper": found(5002)}, "in_use": []})
    result = device.run(Discover, {"discovery": DISCOVERY, "revert_leftover": True})
    assert [name for name, _args in device.calls] == ["service_info", "port_transaction", "service_info"]
    assert device.calls[1][1]["state"] == "reverted" and device.calls[1][1]["lease_holder"] == "run-1"
    assert "stage restarting" in device.calls[1][1]["reason"]
    assert result["last_revert"] == {"restored": ["/etc/hailo/hailo-piper.yaml"]} and result["changed"] is True
    assert "reverting it before planning" in result["warnings"][-1]


def test_discover_only_names_a_leftover_when_it_may_not_revert_it():
    device = Device({"services": {}, "in_use": [], "journal": {"id": "c1", "stage": "restarting"}})
    result = device.run(Discover, {"discovery": DISCOVERY})
    assert [name for name, _args in device.calls] == ["service_info"]
    assert "a real run reverts it first" in result["warnings"][-1]


@pytest.mark.parametrize("stdout, named", [
    ("missing python3\nmissing python3-yaml\n", "pi1 lacks python3 and python3-yaml: install the Debian package(s) "
                                                "python3 python3-yaml"),
    ("missing python3-yaml\n", "pi1 lacks python3-yaml: install the Debian package(s) python3-yaml"),
])
def test_discover_names_the_missing_prerequisite_with_its_package(stdout, named):
    device = Device({"failed": True, "msg": "MODULE FAILURE", "rc": 127}, commands=[{"rc": 0, "stdout": stdout}])
    result = device.run(Discover, {"discovery": DISCOVERY})
    assert result["failed"] is True and result["msg"].startswith(named)


def test_discover_keeps_an_unreachable_device_as_data():
    device = Device(AnsibleConnectionFailure("ssh: connect to host pi1 port 22: No route to host"))
    result = device.run(Discover, {"discovery": DISCOVERY})
    assert result["unreachable"] is True and "No route to host" in result["msg"]


STEPS = [{"name": "hailo-piper", "from": 5002, "port": 5003, "was": "serving"}]
CHANGE = {"steps": STEPS, "actions": {"restart": ["hailo-piper"], "previous_ports": {"hailo-piper": 5002}},
          "refusal": "", "failure": None}
SETTINGS = {"journal_dir": "/var/lib/j", "lease_holder": "run-1", "confirm_timeout": 120,
            "transaction_timeout": 300}


def apply_args(**change):
    return {"change": dict(CHANGE, **change), "transaction": SETTINGS, "discovery": {"services": {}},
            "rediscovery": {"config_dir": "/etc/hailo"}}


APPLIED = {"changed": True, "id": "c1", "confirm_by": 1.0, "written": ["/etc/hailo/hailo-piper.yaml"],
           "restarted": ["hailo-piper"]}


def confirmed(answer, rc=0):
    return {"rc": rc, "stdout": json.dumps(answer) + "\n", "stderr": ""}


def test_apply_applies_then_confirms_with_one_command_and_records_the_outcome():
    device = Device(APPLIED, commands=[confirmed({"changed": True, "msg": "change c1 confirmed",
                                                  "lease_released": True})])
    result = device.run(ApplyChange, apply_args())
    calls = [(name, args.get("state") if isinstance(args, dict) else args) for name, args in device.calls]
    assert calls == [("port_transaction", None),
                     ("command", "/var/lib/j/revert.py /var/lib/j --confirm c1 run-1")]
    assert device.calls[0][1]["restart"] == ["hailo-piper"] and device.calls[0][1]["journal_dir"] == "/var/lib/j"
    assert not result.get("failed") and result["changed"] is True and result["lease_released"] is True
    assert result["record"]["outcome"] == "changed" and result["record"]["restarted"] == ["hailo-piper"]
    assert result["ansible_facts"]["reconcile_result"] == result["record"]


def test_apply_fails_a_change_the_device_rolled_back_saying_what_runs_where():
    device = Device({"failed": True, "rolled_back": True, "msg": "hailo-piper did not answer", "restarted": [],
                     "rollback": {"restored": ["/etc/hailo/hailo-piper.yaml"], "restarted": ["hailo-piper"]},
                     "after": {"services": {"hailo-piper": {"port": 5002, "serving": True}}}})
    result = device.run(ApplyChange, apply_args())
    assert [name for name, _args in device.calls] == ["port_transaction"]  # rolled back on the device
    assert result["failed"] is True and result["record"]["outcome"] == "rolled_back"
    assert result["msg"] == result["record"]["message"] == (
        "Port rollout failed on pi1 and was rolled back. Cause: hailo-piper did not answer. "
        "Restored 1 file(s); restarted hailo-piper. Every service is as it was before. Now: hailo-piper: serving on 5002.")


def test_apply_reverts_a_change_that_never_answered_then_discovers_what_runs():
    device = Device(AnsibleConnectionFailure("connection lost"),
                    {"changed": True, "rollback": {"restored": ["/etc/hailo/hailo-piper.yaml"],
                                                   "restarted": ["hailo-piper"]}},
                    {"services": {"hailo-piper": {"port": 5002, "serving": True}}})
    result = device.run(ApplyChange, apply_args())
    assert [(name, args.get("state")) for name, args in device.calls] == [
        ("port_transaction", None), ("port_transaction", "reverted"), ("service_info", None)]
    assert device.calls[2][1]["services"] == ["hailo-piper"]
    assert result["failed"] is True and "pi1 became unreachable mid-change: connection lost" in result["msg"]
    assert result["record"]["outcome"] == "unreachable"


def test_apply_touches_no_device_the_plan_says_must_not_be_touched():
    for change in ({"failure": {"msg": "pi1 is unreachable: no route", "unreachable": True}},
                   {"refusal": "Switching pi1 to config_mode template would change hand-tuned values"}):
        device = Device()
        result = device.run(ApplyChange, apply_args(**change))
        assert device.calls == [] and result["failed"] is True
        assert result["record"]["outcome"] == ("unreachable" if "failure" in change else "failed")


def test_apply_in_check_mode_fails_a_refused_change_showing_its_diffs_in_the_message():
    """Ansible shows no diffs for a failed task: the message carries them; the report does not."""
    diff = [{"before": "port: 11436\n", "after": "port: 11440\n", "before_header": "/etc/hailo/hailo-ocr.yaml",
             "after_header": "/etc/hailo/hailo-ocr.yaml"}]
    device = Device({"changed": True, "diff": diff})
    result = device.run(ApplyChange, apply_args(refusal="Switching pi1 ... refused"), check_mode=True)
    assert result["failed"] is True and [call[0] for call in device.calls] == ["port_transaction"]
    assert result["msg"] == ("Switching pi1 ... refused\nWhat the change would write:\n"
                             "--- before: /etc/hailo/hailo-ocr.yaml\n+++ after: /etc/hailo/hailo-ocr.yaml\n"
                             "@@ -1 +1 @@\n-port: 11436\n+port: 11440\n")
    assert result["record"]["outcome"] == "failed" and "ansible_facts" not in result
    assert result["record"]["message"] == "Switching pi1 ... refused"


def test_apply_in_check_mode_without_diff_fails_a_refused_change_with_the_refusal_alone():
    device = Device({"changed": True})
    result = device.run(ApplyChange, apply_args(refusal="Switching pi1 ... refused"), check_mode=True)
    assert result["failed"] is True and result["msg"] == "Switching pi1 ... refused"


def test_apply_records_without_touching_the_device_when_the_run_does_not_apply():
    device = Device()
    result = device.run(ApplyChange, dict(apply_args(), applying=False))
    assert device.calls == [] and result["record"]["check_mode"] is True
    assert result["record"]["outcome"] == "changed" and result["record"]["restarted"] == ["hailo-piper"]  # would


def test_every_action_validates_what_its_documentation_says():
    """The argument specs are derived from the docs-only modules (as ansible-doc shows them)."""
    import importlib

    import yaml

    from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import spec_from_options

    for name in ("apply_change", "check_input", "device_change", "discover", "fleet_budget", "fleet_map",
                 "fleet_report", "source_report"):
        action_module = importlib.import_module("ansible_collections.hailo.services.plugins.action." + name)
        doc = yaml.safe_load(importlib.import_module("ansible_collections.hailo.services.plugins.modules." + name)
                             .DOCUMENTATION)
        assert action_module.ARGUMENT_SPEC == spec_from_options(doc["options"]), name
        assert action_module.ARGUMENT_SPEC, name
    path = {"type": "str", "required": True, "description": "x"}
    documented = {"settings": {"type": "dict", "suboptions": {"path": path}}}
    nested = spec_from_options(documented)
    assert nested == {"settings": {"type": "dict", "options": {"path": {"type": "str", "required": True}}}}


def test_apply_neither_confirms_nor_reverts_once_the_controller_died():
    """ansible-playbook's workers outlive it (their own sessions): a worker whose controller
    died mid-change leaves the change to the device's revert timer."""
    parents = iter([100, 1])  # the controller's pid when the task began, then init's
    device = Device({"changed": True, "id": "c1", "confirm_by": 1.0})
    with mock.patch("os.getppid", lambda: next(parents)):
        result = device.run(ApplyChange, apply_args())
    assert [name for name, _args in device.calls] == ["port_transaction"]
    assert result["failed"] is True and "reverts it by itself" in result["msg"]


def test_apply_reports_a_device_it_cannot_run_modules_on_as_a_failure_not_a_crash():
    from ansible.errors import AnsibleError

    device = Device(AnsibleError("Failed to create temporary directory: container state improper"),
                    AnsibleError("Failed to create temporary directory: container state improper"))
    result = device.run(ApplyChange, apply_args())
    assert result["failed"] is True and result["record"]["outcome"] == "failed"
    assert "container state improper" in result["msg"]


def test_discover_does_not_plan_from_a_leftover_it_could_not_revert():
    leftover = {"services": {}, "in_use": [], "journal": {"id": "c1", "stage": "restarting"}}
    device = Device(leftover, AnsibleConnectionFailure("connection lost"))
    result = device.run(Discover, {"discovery": DISCOVERY, "revert_leftover": True})
    assert [name for name, _args in device.calls] == ["service_info", "port_transaction"]
    assert result["journal"] == {"id": "c1", "stage": "restarting"} and result["changed"] is False
    assert "reverting c1 failed: connection lost" in result["warnings"][-1]


def test_apply_in_check_mode_names_the_refusal_first_when_the_check_of_the_change_failed_too():
    device = Device({"failed": True, "msg": "systemd-analyze verify refused the new unit"})
    result = device.run(ApplyChange, apply_args(refusal="Switching pi1 ... refused"), check_mode=True)
    assert result["failed"] is True and result["record"]["message"] == "Switching pi1 ... refused"
    assert result["msg"] == ("Switching pi1 ... refused\nThe check of the change failed too: "
                             "systemd-analyze verify refused the new unit")


@pytest.mark.parametrize("answer, cause", [
    (confirmed({"failed": True, "msg": "change c1 was reverted by the device before it was confirmed (late)",
                "lease_released": False}, rc=1), "change c1 was reverted by the device before it was confirmed"),
    ({"rc": 127, "stdout": "", "stderr": "sh: 1: /var/lib/j/revert.py: not found"},
     "the confirmation gave no answer (exit status 127): sh: 1: /var/lib/j/revert.py: not found"),
])
def test_a_failed_confirmation_reverts_the_change_from_here(answer, cause):
    device = Device(APPLIED, {"changed": True, "rollback": {"restored": ["/etc/hailo/hailo-piper.yaml"]}},
                    {"services": {"hailo-piper": {"port": 5002, "serving": True}}}, commands=[answer])
    result = device.run(ApplyChange, apply_args())
    called = [name for name, _args in device.calls]
    assert called == ["port_transaction", "command", "port_transaction", "service_info"]
    assert device.calls[2][1]["state"] == "reverted" and result["failed"] is True
    assert cause in result["msg"], result["msg"]


def test_a_device_lost_before_the_confirmation_is_reverted_from_here_or_by_its_timer():
    device = Device(APPLIED, AnsibleConnectionFailure("still gone"),
                    commands=[AnsibleConnectionFailure("ssh: connect to host pi1 port 22: Connection timed out")])
    result = device.run(ApplyChange, apply_args())
    assert [name for name, _args in device.calls] == ["port_transaction", "command", "port_transaction"]
    assert result["failed"] is True and "pi1 became unreachable before the change was confirmed: ssh: connect" \
        in result["msg"]
