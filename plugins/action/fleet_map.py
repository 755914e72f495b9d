# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.fleet_map: the fleet's one map (the FleetMap), on the controller (see the module's docs)."""

from __future__ import annotations

import json
import os

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import (
    ControllerAction,
    device_vars,
    documented_spec,
)
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_map import fleet_map

ARGUMENT_SPEC = documented_spec("fleet_map")


class ActionModule(ControllerAction):
    """Computes the fleet map from every device's discovery, on the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _saved_plan(self, path):
        if not path:
            return None
        # The user's path, from where ansible-playbook was started, as the plan was written
        # (reconcile_plan_out | realpath): not searched for in the role's or playbook's files.
        found = os.path.abspath(os.path.expanduser(path))
        try:
            with open(found, encoding="utf-8") as handle:
                return json.load(handle)
        except OSError as exc:
            raise ValueError("reconcile_plan_file %s: cannot read %s: %s" % (path, found, exc.strerror)) from exc
        except ValueError as exc:
            raise ValueError("reconcile_plan_file %s: %s is no saved plan (not JSON: %s)" % (path, found, exc)) from exc

    def compute(self, args, task_vars):
        hostvars = task_vars.get("hostvars", {})
        # Every device's own Discovery, read here once (a device that has none is recorded as such).
        discovered = dict((host, device_vars(hostvars, host)["discovery"]) for host in args["hosts"])
        # The loop results of the read-only discovery of the devices outside --limit.
        outside = dict((item["item"], item) for item in args["outside"] if "item" in item)
        fleet = fleet_map(discovered, args["catalog"], args["hosts"], outside=outside,
                          ranges=args["ranges"], reserved=args["reserved"], scope=args["scope"],
                          serial=args["serial"], saved=self._saved_plan(args["plan_file"]))
        return {"ansible_facts": {"reconcile_fleet_map": fleet}}
