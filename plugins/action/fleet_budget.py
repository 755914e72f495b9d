# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.fleet_budget: the failure budget between batches, on the
controller (see the module's docs)."""

from __future__ import annotations

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import (
    ControllerAction,
    device_vars,
    documented_spec,
)
from ansible_collections.hailo.services.plugins.plugin_utils.device_result import device_record
from ansible_collections.hailo.services.plugins.plugin_utils.fleet import budget_progress, fleet_budget

ARGUMENT_SPEC = documented_spec("fleet_budget")
# What the playbook registers this action's result as, on every device of the batch.
REGISTERED = "__rollout_budget"


class ActionModule(ControllerAction):
    """Whether the rollout may go on to its next batch."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def compute(self, args, task_vars):
        hostvars = task_vars.get("hostvars", {})
        # Every device's Outcome; a device the rollout never reached has none.
        results = dict((host, device_record(**device_vars(hostvars, host))) for host in args["hosts"])
        budget = fleet_budget(results, args["max_failed_hosts"], args["max_fail_percentage"])
        # This batch's number: one more than the batches this task was registered for before.
        before = set(tuple((hostvars[host].get(REGISTERED) or {}).get("batch") or ()) for host in args["hosts"]
                     if host in hostvars and host not in args["batch"])
        before.discard(())
        return {"budget": budget, "progress": budget_progress(budget), "batch": list(args["batch"]),
                "number": len(before) + 1}
