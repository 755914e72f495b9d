# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.device_result: what happened on a device (see the module's docs)."""

from __future__ import annotations

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import ControllerAction, documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.device_result import device_result, device_failure_message

ARGUMENT_SPEC = documented_spec("device_result")


class ActionModule(ControllerAction):
    """Records the device's outcome, and the message of a failed change, from the role's results."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def compute(self, args, task_vars):
        record = device_result(
            args["steps"], args["actions"], discovery=args["discovery"], failure=args["failure"],
            transaction=args["transaction"], revert=args["revert"], health=args["health"], cause=args["cause"],
            applying=args["applying"], check_mode=bool(task_vars.get("ansible_check_mode")))
        message = device_failure_message(
            task_vars.get("inventory_hostname"), args["steps"], args["cause"], transaction=args["transaction"],
            revert=args["revert"], after=args["after"], confirm_timeout=args["confirm_timeout"],
            transaction_timeout=args["transaction_timeout"])
        return {"message": message, "ansible_facts": {"reconcile_result": record}}
