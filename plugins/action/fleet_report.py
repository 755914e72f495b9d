# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.fleet_report: the fleet report, built and written on the
controller (see the module's docs)."""

from __future__ import annotations

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import device_vars, documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.device_result import device_record
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import (
    SOURCE_REFERENCES,
    fleet_report,
    report_outputs,
    write_report,
    write_saved_plan,
)
from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import plan_document, plan_markdown

ARGUMENT_SPEC = documented_spec("fleet_report")


class ActionModule(ActionBase):
    """Builds the fleet report from every device's result and writes it."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        hostvars = task_vars.get("hostvars", {})
        _spec, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            required_if=[["saved_plan", True, ["plan_out"]]],
        )
        fleet_map = args["fleet_map"]
        hosts = args["hosts"]
        if hosts is None:
            hosts = list(fleet_map.get("hosts_all") or ())
        # Every device's Outcome, read here once; a device the rollout never reached has none.
        check_mode = bool(task_vars.get("ansible_check_mode"))
        registered = dict((host, device_vars(hostvars, host)) for host in hosts)
        results = dict((host, device_record(applying=args["applying"], check_mode=check_mode, **found))
                       for host, found in registered.items())
        result["changed"] = False

        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report_dir = args["report_dir"]
        source_references = os.path.join(report_dir, SOURCE_REFERENCES)
        meta = {
            "generated": generated,
            "check_mode": bool(task_vars.get("ansible_check_mode")) or not args["applying"],
            "tags": task_vars.get("ansible_run_tags"),
            "limit": task_vars.get("ansible_limit"),
            "scope": args["scope"] or fleet_map.get("scope"),
            "stopped": args["stopped"],
            "serial": fleet_map.get("serial"),
            "batches": args["batches"],
            "max_failed_hosts": args["max_failed_hosts"],
            "max_fail_percentage": args["max_fail_percentage"],
            # only a file that exists: the report names no file it does not have
            "source_references": source_references if os.path.exists(source_references) else None,
        }
        # Devices that dropped out of the run (unreachable mid-rollout) are not in the report
        # play's hosts; without a result they count as unreachable.
        lost = [] if args["active_hosts"] is None else [h for h in hosts if h not in args["active_hosts"]]
        try:
            report = fleet_report(fleet_map, results, hosts, meta, lost=lost)
            result.update(report=report, **report_outputs(report, report_dir, os.path.exists(source_references)))
            if args["saved_plan"]:
                facts = dict((host, found["discovery"]) for host, found in registered.items())
                document = plan_document(fleet_map, facts, results, {"generated": generated, "scope": meta["scope"]})
                result["saved_plan"] = {"document": document, "markdown": plan_markdown(document)}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            result.update(failed=True, msg="fleet_report: %s" % exc)
            return result
        # The files live on the controller, so they are written in check mode too: a report of
        # what would change is the point of a check run.
        try:
            result["files"] = write_report(report_dir, report, result["markdown"])
            if args["saved_plan"] and not (args["fail_on_device_error"] and result["message"]):
                plan_out = args["plan_out"]
                result["files"] += write_saved_plan(plan_out, result["saved_plan"]["document"],
                                                    result["saved_plan"]["markdown"])
                result["lines"] = result["lines"] + [
                    "Plan: %s.md (review) and %s.json (apply)." % (plan_out, plan_out),
                    "Apply exactly this plan: ansible-playbook -i <inventory> playbooks/reconcile.yml "
                    "-e reconcile_plan_file=%s.json" % plan_out]
        except OSError as exc:
            result.update(failed=True, msg="fleet_report: cannot write the report: %s" % exc)
        return result
