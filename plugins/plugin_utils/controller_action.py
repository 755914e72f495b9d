# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the role's controller-side steps (device_change, fleet_map, device_result).

The one module under plugin_utils that imports Ansible: the steps' logic stays in the pure
modules beside it, and each action only maps its arguments onto them.
"""

from __future__ import annotations

import importlib
import shlex

import yaml
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.hailo.services.plugins.plugin_utils.deadline import Deadline, within

# What the role registers on each device, step by step: Discovery, DeviceChange, Outcome (and a
# health check's result under --tags verify). The fleet's report and its budget read them here.
DEVICE_VARS = {"discovery": "__reconcile_discovery", "change": "__reconcile_change",
               "outcome": "__reconcile_outcome", "health": "__reconcile_health"}


def device_vars(hostvars, host):
    """The results the role registered on ``host`` (see ``DEVICE_VARS``); None where it has none."""
    found = hostvars[host] if host in hostvars else {}
    return dict((key, found.get(name)) for key, name in DEVICE_VARS.items())


# The keys of a documented option that are also argument spec keys.
_SPEC_KEYS = ("type", "elements", "default", "choices", "required", "aliases", "no_log")


def spec_from_options(options):
    """An argument spec from a DOCUMENTATION ``options`` mapping (``suboptions`` nest)."""
    spec = {}
    for name, option in (options or {}).items():
        entry = dict((key, option[key]) for key in _SPEC_KEYS if key in option)
        if "suboptions" in option:
            entry["options"] = spec_from_options(option["suboptions"])
        spec[name] = entry
    return spec


def documented_spec(module_name):
    """The argument spec of the action ``module_name``, read from the DOCUMENTATION of its
    docs-only module in plugins/modules: what ``ansible-doc`` shows is what is validated."""
    module = importlib.import_module("ansible_collections.hailo.services.plugins.modules." + module_name)
    return spec_from_options(yaml.safe_load(module.DOCUMENTATION).get("options"))


class ControllerAction(ActionBase):
    """Validates ``ARGUMENT_SPEC`` (see :func:`documented_spec`), calls ``compute(args, task_vars)``
    and returns its dict.

    Runs on the controller only and never connects to the host. A ``ValueError`` (every
    plugin_utils error is one, naming its culprit) fails the task with its message.
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC: dict = {}

    def compute(self, args, task_vars):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            result.update(self.compute(args, task_vars or {}))
        except ValueError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.setdefault("changed", False)
        return result


class DeviceAction(ActionBase):
    """The base of the role's steps that run the collection's modules on the device (discover,
    apply_change): each module call ends within its deadline, and a lost connection, a missed
    deadline or a device Ansible cannot run a module on (paused: no temporary directory) is a
    result, as the device's failure, never an exception that would lose the step's record."""

    TRANSFERS_FILES = False
    _requires_connection = True

    @staticmethod
    def _answer(call, seconds, what):
        """``call()`` within its deadline; a lost connection, a missed deadline or Ansible's own
        error is returned as the device's result."""
        try:
            with within(seconds, what):
                return call()
        except AnsibleConnectionFailure as exc:
            return {"unreachable": True, "msg": str(exc)}
        except (Deadline, AnsibleError) as exc:
            return {"failed": True, "msg": str(exc)}

    def _module(self, name, module_args, task_vars, seconds=None, what="the step"):
        return self._answer(lambda: self._execute_module(module_name="hailo.services." + name,
                                                         module_args=module_args, task_vars=task_vars),
                            seconds, what)

    def _command(self, argv, seconds=None, what="the step"):
        """One command on the device (as the task's become user), its arguments quoted:
        ``{rc, stdout, stderr}``, or the device's result as :meth:`_module` gives it."""
        return self._answer(lambda: self._low_level_execute_command(
            " ".join(shlex.quote(str(arg)) for arg in argv), sudoable=True), seconds, what)
