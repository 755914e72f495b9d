# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What happened on one device, from the results the role registered (pure; no Ansible import).

A result the role did not get to is None (or a skipped result); every shape is read here, once,
instead of through a guard on every field in the role's tasks.
"""

from __future__ import annotations

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import rollback_report


def _ran(result):
    """A registered result that ran (not None, not skipped), as a dict; else {}."""
    if not isinstance(result, dict) or result.get("skipped"):
        return {}
    return result


def outcome(discovery, failure, transaction, revert, changed, restarted):
    """unreachable, rolled_back, failed, changed or ok."""
    if _ran(discovery).get("unreachable") or _ran(transaction).get("unreachable") or (
            isinstance(failure, dict) and failure.get("unreachable")):
        return "unreachable"
    if failure is not None:
        rolled_back = _ran(transaction).get("rolled_back") or "rollback" in _ran(revert)
        return "rolled_back" if rolled_back else "failed"
    return "changed" if (changed or restarted) else "ok"


def device_result(steps, actions, discovery=None, failure=None, transaction=None, revert=None, health=None,
                  cause=None, applying=True, check_mode=False):
    """The device's ``reconcile_result``, as the fleet report reads it.

    :param failure: the failed result that ended the role on the device, or None.
    :param cause: why the change was rolled back (set by the rollback), or None.
    :param applying: whether this run applies changes; a run that does not (``--tags plan``, a
        saved plan being written) reports what it would restart.
    """
    done = _ran(transaction)
    restarted = (done.get("restarted") or []) if applying else list((actions or {}).get("restart") or [])
    checked = done.get("health") if done.get("health") is not None else _ran(health)
    return {
        "outcome": outcome(discovery, failure, transaction, revert, done.get("written"), restarted),
        "message": (failure or {}).get("msg", "") if isinstance(failure, dict) else "",
        "check_mode": bool(check_mode or not applying),
        "ports": list(steps or []),
        "restarted": restarted,
        "health": (checked or {}).get("services") or {},
        "found": _ran(discovery).get("last_revert"),
        # The clients' files and literals the change rewrote (or would), and what is left to review.
        "clients": [client for client in done.get("clients") or [] if not client.get("missing")],
        # What the device's ufw rules needed or got for the moves (None: no move, or not asked).
        "firewall": done.get("firewall"),
        "rollback": None if cause is None else (done.get("rollback") or _ran(revert).get("rollback")),
    }


def device_failure_message(host, steps, cause, transaction=None, revert=None, after=None, confirm_timeout=None,
                           transaction_timeout=None):
    """The failure message of a device whose change failed: what failed, whether and how it was
    rolled back, and what runs where now."""
    done, reverted = _ran(transaction), _ran(revert)
    facts = done.get("after") if "after" in done else after
    return rollback_report(
        steps or [], facts, host=host, cause=cause, rollback=done.get("rollback") or reverted.get("rollback"),
        rollback_health=done.get("rollback_health"), unreachable=bool(reverted.get("unreachable")),
        revert_error=reverted.get("msg") if reverted.get("failed") else None,
        confirm_timeout=confirm_timeout, transaction_timeout=transaction_timeout,
        confirm_by=done.get("confirm_by"))["message"]


def device_record(discovery=None, change=None, outcome=None, health=None, applying=True, check_mode=False):
    """A device's Outcome, read from what the rollout registered for it, or None when the rollout
    never reached it (a batch the failure budget stopped).

    :param change: its DeviceChange (``device_change``'s result), or None.
    :param outcome: ``apply_change``'s result, whose ``record`` is the Outcome when it ran.
    :param health: a ``health_check`` result (``--tags verify``).
    Without ``apply_change`` (``--tags plan``, ``--tags verify``), the Outcome is what the change
    would do, with the device's failure (its discovery, a drift) and its health.
    """
    applied = _ran(outcome)
    if applied.get("record") is not None:
        return applied["record"]
    change = _ran(change)
    if not change:
        return None
    failure = change.get("failure")
    for step in (change, applied):  # a step that failed without its record (it crashed)
        if failure is None and step.get("failed"):
            failure = {"msg": step.get("msg") or "a step failed", "unreachable": bool(step.get("unreachable"))}
    checked = _ran(health)
    if failure is None and checked.get("failed"):
        failure = {"msg": checked.get("msg") or "a health check failed"}
    return device_result(change.get("steps"), change.get("actions"), discovery=discovery, failure=failure,
                         health=health, applying=applying, check_mode=check_mode)
