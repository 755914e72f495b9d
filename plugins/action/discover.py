# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.discover: one device's Discovery, in one task (see the module's docs)."""

from __future__ import annotations

import re
import shlex

from ansible.errors import AnsibleConnectionFailure, AnsibleError

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import DeviceAction, documented_spec

ARGUMENT_SPEC = documented_spec("discover")

INSTALL = ("if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then echo present; "
           "else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-yaml "
           "&& echo installed; fi")


def missing_check(python):
    """A shell check that prints ``missing PACKAGE`` for each prerequisite the device lacks."""
    quoted = shlex.quote(python)
    return ("if ! command -v %s >/dev/null 2>&1; then echo 'missing python3'; echo 'missing python3-yaml'; "
            "elif ! %s -c 'import yaml' >/dev/null 2>&1; then echo 'missing python3-yaml'; fi" % (quoted, quoted))


def missing_message(host, stdout):
    """Why the device is skipped when it lacks a prerequisite, naming the Debian packages; or None."""
    packages = sorted(set(re.findall(r"missing (python3(?:-yaml)?)\b", stdout or "")))
    if not packages:
        return None
    return ("%s lacks %s: install the Debian package(s) %s (apt-get install %s), or set "
            "reconcile_install_prerequisites: true" % (host, " and ".join(packages), " ".join(packages),
                                                       " ".join(packages)))


def leftover_reason(journal):
    return ("left unfinished at stage %s by a run that did not confirm it; reverted by the next run before planning"
            % journal.get("stage"))


class ActionModule(DeviceAction):
    """Discovers one device: prerequisites, service_info, and the revert of a dead run's change."""

    def _discover(self, module_args, task_vars):
        found = self._module("service_info", module_args, task_vars)
        if found.get("failed"):
            python = task_vars.get("ansible_python_interpreter") or "python3"
            if str(python).startswith("auto"):
                python = "python3"
            probe = self._low_level_execute_command(missing_check(str(python)))
            message = missing_message(task_vars.get("inventory_hostname"), probe.get("stdout"))
            if message:
                found = {"failed": True, "msg": message}
        return found

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        module_args = dict(args["discovery"])
        warnings = []
        reverted = False
        try:
            if args["install_prerequisites"]:
                installed = self._low_level_execute_command(INSTALL)
                if installed.get("rc") != 0:
                    result.update(failed=True, msg="installing python3 and python3-yaml failed: %s"
                                  % (installed.get("stderr") or installed.get("stdout")).strip())
                    return result
                result["installed"] = "installed" in installed.get("stdout", "")
            found = self._discover(module_args, task_vars)
            journal = found.get("journal")
            if journal and not found.get("failed"):
                host = task_vars.get("inventory_hostname")
                if not args["revert_leftover"]:
                    warnings.append("%s holds an unfinished change %s (stopped at stage %s); a real run reverts it "
                                    "first." % (host, journal.get("id"), journal.get("stage")))
                else:
                    warnings.append("%s holds an unfinished change %s (stopped at stage %s); reverting it before "
                                    "planning." % (host, journal.get("id"), journal.get("stage")))
                    revert = self._module("port_transaction", {
                        "state": "reverted", "journal_dir": module_args.get("journal_dir"),
                        "lease_holder": module_args.get("lease_holder"), "reason": leftover_reason(journal),
                    }, task_vars, args["revert_timeout"], "the revert of the leftover change")
                    if not (revert.get("failed") or revert.get("unreachable")):
                        # Plan from the device as it was before the unfinished change.
                        found = dict(self._discover(module_args, task_vars), last_revert=revert.get("rollback"))
                        reverted = True
                    else:
                        warnings.append("reverting %s failed: %s" % (journal.get("id"), revert.get("msg")))
        except AnsibleConnectionFailure as exc:  # the commands run without a module
            found = {"unreachable": True, "msg": str(exc)}
        except AnsibleError as exc:
            found = {"failed": True, "msg": str(exc)}
        result.update(found)
        result["changed"] = bool(result.get("installed")) or reverted
        if warnings:
            result["warnings"] = list(result.get("warnings") or []) + warnings
        return result
