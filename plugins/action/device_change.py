# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.device_change: one device's DeviceChange, on the controller (see the module's docs)."""

from __future__ import annotations

from ansible.plugins.loader import lookup_loader

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import ControllerAction, documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.device_change import device_change

ARGUMENT_SPEC = documented_spec("device_change")


class ActionModule(ControllerAction):
    """Works out one device's port map, files and transaction in one step, on the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def compute(self, args, task_vars):
        template = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)

        def render(path, template_vars):
            found = self._find_needle("templates", path)
            return str(template.run([found], variables=task_vars, template_vars=template_vars)[0])

        def render_unit(body):
            return render(args["unit_template"], {"_reconcile_unit_body": body})

        def render_config(name, data):
            kind = name if name in args["config_defaults"] else "generic"
            return render("%s/%s.yaml.j2" % (args["config_template_dir"], kind),
                          {"_reconcile_config": data, "item": name})

        change = device_change(
            args["discovery"], args["catalog"], render_unit, render_config, host=task_vars.get("inventory_hostname"),
            fleet_map=args["fleet_map"], saved={"device": args["saved_device"]} if args["saved_plan"] else None,
            scope=args["scope"], ranges=args["ranges"],
            reserved=args["reserved"], json_readers=args["json_readers"],
            unit_settings=args["unit_settings"], config_defaults=args["config_defaults"],
            config_settings=args["config_settings"], config_mode=args["config_mode"],
            unit_dir=args["unit_dir"], config_force=args["config_force"], unit_force=args["unit_force"],
            plan_file=args["plan_file"])
        return dict(change, ansible_facts={"reconcile_port_map": change["port_map"]})
