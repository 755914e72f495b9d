# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.apply_change: one device's change applied and confirmed, or rolled
back, and its Outcome, in one task (see the module's docs)."""

from __future__ import annotations

import json
import os
import posixpath

from ansible_collections.hailo.services.plugins.module_utils.port_references import unified_diff
from ansible_collections.hailo.services.plugins.module_utils.transaction import SCRIPT
from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import DeviceAction, documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.device_result import device_failure_message, device_result

ARGUMENT_SPEC = documented_spec("apply_change")

# The longest a confirmation may take: it only disarms the device's revert timer.
CONFIRM_SECONDS = 60


def diff_text(diffs):
    """The unified diff of each file a change would write, as text: a failed task's diffs are not
    shown by Ansible's callbacks, so a refused change's failure carries them in its message."""
    return "".join(unified_diff(str(diff["before"] or ""), str(diff["after"] or ""),
                                diff.get("before_header", ""))["prepared"]
                   for diff in diffs or [] if isinstance(diff, dict) and "before" in diff and "after" in diff)


class ActionModule(DeviceAction):
    """Applies a DeviceChange as one transaction, confirms it, and records the Outcome."""

    def _confirm(self, journal_dir, change_id, lease_holder):
        """Confirm the change with one command, the device's own script in its journal directory
        (root's only; the change just installed it, from the same code as the module's
        state=confirmed): no second module to send and start on the device."""
        argv = [posixpath.join(journal_dir, SCRIPT), journal_dir, "--confirm", change_id]
        answer = self._command(argv + ([lease_holder] if lease_holder else []), CONFIRM_SECONDS,
                               "the confirmation")
        if "rc" not in answer:  # unreachable, or the deadline passed
            return answer
        lines = (answer.get("stdout") or "").strip().splitlines()
        try:
            confirmed = json.loads(lines[-1])
        except (IndexError, ValueError):
            confirmed = None
        if not isinstance(confirmed, dict):
            return {"failed": True, "msg": "the confirmation gave no answer (exit status %s): %s"
                    % (answer.get("rc"), (answer.get("stderr") or answer.get("stdout") or "").strip())}
        return confirmed

    def _controller_gone(self):
        """Whether ansible-playbook died while this worker waited on the device: its workers
        run in sessions of their own and outlive it. A change is then neither confirmed nor
        reverted from here: its device reverts it by itself at its deadline, as it would had
        the worker died too."""
        return os.getppid() != self._controller

    def run(self, tmp=None, task_vars=None):
        self._controller = os.getppid()
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _spec, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname")
        check_mode = bool(self._task.check_mode)
        change, settings, applying = args["change"], args["transaction"], args["applying"]
        steps = change.get("steps") or []
        actions = change.get("actions") or {}

        def outcome(failure=None, transaction=None, revert=None, cause=None):
            return device_result(steps, actions, discovery=args["discovery"], failure=failure,
                                 transaction=transaction, revert=revert, cause=cause, applying=applying,
                                 check_mode=check_mode)

        def fail(message, shown=None, **record_args):
            """Fails the device; ``shown`` is added to the task's message only, not to the report."""
            failure = {"msg": message, "unreachable": bool(record_args.pop("unreachable", False))}
            record = outcome(failure=failure, **record_args)
            result.update(failed=True, msg="%s\n%s" % (message, shown) if shown else message, record=record,
                          changed=False)
            return result

        # The device's own guards, as data from the plan: a failed discovery, a drift, a refusal.
        if change.get("failure"):
            return fail(change["failure"]["msg"], unreachable=change["failure"].get("unreachable"))
        if not applying:  # --tags plan without apply, or a saved plan being written
            result.update(changed=False, record=outcome(), ansible_facts={"reconcile_result": outcome()})
            return result
        if change.get("refusal") and not check_mode:
            return fail(change["refusal"])
        if change.get("noop"):  # the discovery's probes showed every service healthy where it is
            probes = dict((name, found["probe"]) for name, found in
                          ((args["discovery"] or {}).get("services") or {}).items() if "probe" in found)
            record = device_result(steps, actions, discovery=args["discovery"], health={"services": probes},
                                   applying=applying, check_mode=check_mode)
            result.update(changed=False, record=record, ansible_facts={"reconcile_result": record})
            return result

        transaction = self._module("port_transaction", dict(settings, **actions), task_vars,
                                   settings.get("transaction_timeout"), "the change")
        cause = None
        confirm = None
        if self._controller_gone():
            result.update(failed=True, transaction=transaction, changed=False,
                          msg="the controller died during the change; %s reverts it by itself" % host)
            return result
        if transaction.get("unreachable"):
            cause = "%s became unreachable mid-change: %s" % (host, transaction.get("msg") or "no connection")
        elif transaction.get("failed"):
            cause = transaction.get("msg") or "the change failed"
        elif transaction.get("confirm_by") is not None and not check_mode:
            confirm = self._confirm(settings["journal_dir"], transaction["id"], settings.get("lease_holder"))
            if confirm.get("unreachable"):
                cause = "%s became unreachable before the change was confirmed: %s" % (
                    host, confirm.get("msg") or "no connection")
            elif confirm.get("failed"):
                cause = confirm.get("msg") or "the confirmation failed"
        result.update(transaction=transaction, confirm=confirm,
                      lease_released=bool(transaction.get("lease_released") or (confirm or {}).get("lease_released")))
        if "diff" in transaction:
            result["diff"] = transaction["diff"]

        if check_mode and change.get("refusal"):
            # The device fails, as the real run would, refused first; then what the check found
            # and what the change would write (only under --diff).
            found = ["The check of the change failed too: %s" % cause] if cause else []
            diff = diff_text(transaction.get("diff"))
            if diff:
                found.append("What the change would write:\n" + diff)
            return fail(change["refusal"], "\n".join(found) or None, transaction=transaction)
        if cause is None:
            record = outcome(transaction=transaction)
            result.update(changed=bool(transaction.get("changed")), record=record,
                          ansible_facts={"reconcile_result": record})
            return result
        if check_mode:
            return fail("Port rollout check failed on %s: %s. Check mode changed nothing." % (host, cause),
                        transaction=transaction)

        # The transaction rolls itself back when a step fails; when it never answered (timed out,
        # connection lost) or the confirmation failed, the change is reverted from here, and if
        # the device cannot be reached at all its revert timer does it.
        revert = after = None
        if not transaction.get("rolled_back"):
            revert = self._module("port_transaction", {
                "state": "reverted", "journal_dir": settings["journal_dir"], "id": transaction.get("id"),
                "lease_holder": settings.get("lease_holder"),
            }, task_vars, settings.get("transaction_timeout"), "the revert")
            if not (revert.get("unreachable") or revert.get("failed")):
                after = self._module("service_info", dict(args["rediscovery"], services=sorted(
                    actions.get("previous_ports") or {})), task_vars, 120, "the discovery after the revert")
            result.update(revert=revert, after=after,
                          lease_released=result["lease_released"] or bool(revert.get("lease_released")))
        message = device_failure_message(
            host, steps, cause, transaction=transaction, revert=revert, after=after,
            confirm_timeout=settings.get("confirm_timeout"), transaction_timeout=settings.get("transaction_timeout"))
        return fail(message, transaction=transaction, revert=revert, cause=cause)
