# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollout must do on one device, worked out on the controller (pure; no Ansible import).

The device supplies the current ports (``service_info``), the catalog supplies the policy, the
engine supplies the target ports; these helpers turn the three into the steps the role runs, so
that nothing is sent to a device that would not change it.
"""

from __future__ import annotations

import time

from ansible_collections.hailo.services.plugins.module_utils import rules
from ansible_collections.hailo.services.plugins.module_utils.port_order import describe_unbound
from ansible_collections.hailo.services.plugins.plugin_utils.catalog import KEYS, value_problem


class RolloutError(ValueError):
    """Device state the rollout cannot work with; the message names the culprit."""


def device_services(discovered, catalog):
    """The engine's input for one device: the catalog's policy with the device's ports.

    :param discovered: ``service_info``' ``services`` (name -> facts); empty when the host has
        no services (then the catalog's own ports are used, e.g. to preview on the controller).
    :param catalog: name -> settings (port, frozen, priority, ...).
    """
    catalog = catalog or {}
    if not discovered:
        return {name: dict(spec or {}) for name, spec in catalog.items()}
    services = {}
    for name in sorted(discovered):
        found = discovered[name]
        if found.get("error"):
            raise RolloutError("service %s: %s" % (name, found["error"]))
        spec = dict(catalog.get(name) or {})
        spec["port"] = found["port"]
        services[name] = spec
    return services


def _state(name, spec):
    state = spec.get("state", KEYS["state"]["default"])
    problem = value_problem("state", state)
    if problem:
        raise RolloutError("service %s: %s" % (name, problem))
    return state


def _run_state(unit, found):
    """How the service ran before the rollout: serving, failing, failed or stopped.

    ``failing`` is a unit systemd keeps (re)starting that does not hold its port: a loser of a
    shared port crash-looping under ``Restart=always``.
    """
    active = unit.get("active")
    if active in ("active", "activating", "reloading"):
        return "serving" if active == "active" and found.get("serving", True) else "failing"
    return "failed" if active == "failed" else "stopped"


def _differs(text, checksum):
    return rules.checksum(text) != checksum


def rollout_steps(discovered, catalog, plan, json_readers=(), units=None, configs=None):
    """One entry per service on the device, saying what it needs.

    Each entry: ``name``, ``from`` and ``port`` (current and target), ``config_path``,
    ``json_path`` (None when the service has no JSON copy and does not read one),
    ``update_config`` (edit mode: the YAML port or the JSON copy must change), ``update_unit`` (the
    rendered unit in ``units`` differs from the device's, by the SHA-1 the device reported), ``state``
    (enabled or standby), ``active`` (running and holding its port before the rollout) and
    ``health_path``.

    ``configs`` maps each service in template mode to its rendered ``yaml`` and ``json`` text;
    such a service gets ``template: true``, never ``update_config``, and ``update_yaml`` /
    ``update_json`` when the rendered text differs from the device's file (by SHA-1).
    """
    catalog = catalog or {}
    steps = []
    for name in sorted(discovered or {}):
        found = discovered[name]
        spec = catalog.get(name) or {}
        if name not in plan["ports"]:
            raise RolloutError("service %s is on the device but not in the port map" % name)
        target = plan["ports"][name]
        wants_json = bool(found.get("json_exists")) or name in json_readers
        if wants_json and found.get("json_problem"):
            # Discovery's words, which port_transaction would refuse the write with.
            raise RolloutError("service %s: %s" % (name, found["json_problem"]))
        unit = found.get("unit") or {}
        rendered = (units or {}).get(name)
        update_unit = rendered is not None and _differs(rendered, unit.get("checksum"))
        config = (configs or {}).get(name)
        steps.append({
            "name": name,
            "from": found["port"],
            "port": target,
            "config_path": found["config_path"],
            "json_path": found.get("json_path") if wants_json else None,
            "update_config": config is None and (
                found["port"] != target or (wants_json and not found.get("json_in_step"))),
            "template": config is not None,
            "update_yaml": config is not None and _differs(config["yaml"], found.get("checksum")),
            "update_json": config is not None and wants_json and _differs(
                config["json"], found.get("json_checksum") if found.get("json_exists") else None),
            "update_unit": update_unit,
            "state": _state(name, spec),
            # Running means serving: a crash-looping unit reads "active" for a moment after
            # each restart, but never holds its port.
            "active": unit.get("active") == "active" and found.get("serving", True),
            "was": _run_state(unit, found),
            "health_path": spec.get("health_path"),
        })
    return steps


UPDATES = ("update_config", "update_yaml", "update_json", "update_unit")


def planned_changes(steps):
    """Names of the services whose config, JSON copy or unit the rollout will write."""
    return [step["name"] for step in steps if any(step.get(key) for key in UPDATES)]


def restart_order(steps, changed, plan):
    """Services to (re)start after the files changed, in a safe order.

    A service is restarted when its config or unit changed (``changed``; None: the changes the
    steps plan), or when it should run but does not
    (a loser that crash-looped, a kept service that could not bind while a loser held its
    port). A standby service that was stopped stays stopped. Moved services come first, in the
    engine's ``restart_order``, so each one's new port is free when it starts; the others
    follow alphabetically.
    """
    changed = set(planned_changes(steps) if changed is None else changed)
    wanted = set()
    for step in steps:
        if step["state"] == "standby" and not step["active"]:
            continue
        if step["name"] in changed or not step["active"]:
            wanted.add(step["name"])
    first = [name for name in plan.get("restart_order", ()) if name in wanted]
    return first + sorted(wanted - set(first))


def health_targets(steps, ports="target", was_running=False):
    """The services to health-check, as ``health_check`` takes them.

    :param ports: ``target`` (after a rollout) or ``current`` (the device as it is, or as a
        rollback restored it).
    :param was_running: only the services that ran before the rollout (to confirm a rollback);
        otherwise every service that should run: enabled ones, and standby ones that run.
    """
    if ports not in ("target", "current"):
        raise RolloutError("ports must be 'target' or 'current', got %r" % (ports,))
    targets = []
    for step in steps:
        if was_running and not step["active"]:
            continue
        if step["state"] == "standby" and not step["active"]:
            continue
        target = {"name": step["name"], "port": step["port"] if ports == "target" else step["from"]}
        if step["health_path"]:
            target["path"] = step["health_path"]
        targets.append(target)
    return targets


def rollback_order(steps, restart):
    """The order to restart ``restart`` in after a rollback restored the old files.

    On the old settings several services share a port again. The services that ran before
    the rollout held their ports, so they start first (alphabetically) and take them back;
    the ones that did not run (a loser that crash-looped) follow, and fail as they did before
    instead of taking a winner's port. The rollout's own order (moved services first) would
    let a restored loser grab the shared port before its winner restarts.
    """
    wanted = set(restart or ())
    ran = sorted(step["name"] for step in steps if step["active"] and step["name"] in wanted)
    return ran + sorted(wanted - set(ran))


def client_ports(steps):
    """Where the literals of the device's clients go: ``(moves, unplaced)``.

    A literal of port P follows the service that owned P on this device before the move: the
    one service whose config names P, or, when several do (a shared port before the plan),
    the one that served on it. ``moves``: ``{"P": new port}`` for each P whose owner moves.
    ``unplaced``: ``{"P": why}`` for a P that several services named, none or more than one
    serving it, when one of them moves: its literals go to review, unchanged.
    """
    named = {}
    for step in steps:
        named.setdefault(step["from"], []).append(step)
    moves, unplaced = {}, {}
    for port in sorted(named):
        owners = named[port]
        if len(owners) > 1:
            owners = [step for step in owners if step.get("was") == "serving"] or owners
        if not any(step["port"] != port for step in owners):
            continue
        if len(owners) == 1:
            moves["%d" % port] = owners[0]["port"]
        else:
            unplaced["%d" % port] = "port %d was named by %s before the move and none held it alone" % (
                port, ", ".join(sorted(step["name"] for step in owners)))
    return moves, unplaced


def rollout_actions(steps, plan, discovered=None, units=None, configs=None, unit_dir="/etc/systemd/system"):
    """What the role does to the services on one device, worked out before any file changes.

    ``restart``: the services to (re)start after the files are written, in ``restart_order``.
    ``stop_first``: those of them that crash-loop now; they are stopped before any file is
    written, so that systemd cannot restart them on a half-written change (and keep them on it
    through a rollback). ``rollback_restart``: after a rollback restored the files, the services
    that ran (serving or crash-looping) before, in ``rollback_order``; ``rollback_stop``: the
    ones that were stopped or failed before, which a rollback leaves stopped.
    """
    restart = restart_order(steps, None, plan)
    was = dict((step["name"], step.get("was")) for step in steps)
    ran = [name for name in restart if was.get(name) in ("serving", "failing")]
    actions = {
        "restart": restart,
        "stop_first": [name for name in restart if was.get(name) == "failing"],
        "rollback_restart": rollback_order(steps, ran),
        "rollback_stop": sorted(name for name in restart if name not in ran),
    }
    if discovered is not None:
        actions.update(
            files=transaction_files(steps, discovered, units=units, configs=configs, unit_dir=unit_dir),
            health=health_targets(steps),
            rollback_health=health_targets(steps, ports="current", was_running=True),
            previous_ports=dict((step["name"], step["from"]) for step in steps),
            service_ports=dict((step["name"], step["port"]) for step in steps),
        )
        actions["client_ports"], actions["client_review"] = client_ports(steps)
    return actions


def _expect(checksum, exists=True):
    """The SHA-1 the device reported, or ``absent`` for a file that was not there."""
    return checksum if exists and checksum else "absent"


def transaction_files(steps, discovered, units=None, configs=None, unit_dir="/etc/systemd/system"):
    """The ``files`` of ``port_transaction``: every write of the rollout, with the checksum seen.

    Edit mode sends only the new port (the device edits the YAML in place and renders the JSON
    copy from it); template mode and units send the rendered text. Each file carries the SHA-1
    discovery reported, so a file changed since is refused on the device before any write.
    """
    files = []
    for step in steps:
        name = step["name"]
        found = (discovered or {}).get(name) or {}
        unit = found.get("unit") or {}
        if step.get("update_config"):
            entry = {"path": step["config_path"], "port": step["port"], "expect": _expect(found.get("checksum"))}
            if step.get("json_path"):
                entry.update(json_path=step["json_path"],
                             json_expect=_expect(found.get("json_checksum"), found.get("json_exists")))
            files.append(entry)
        if step.get("update_yaml"):
            files.append({"path": step["config_path"], "kind": "config", "content": configs[name]["yaml"],
                          "expect": _expect(found.get("checksum"))})
        if step.get("update_json"):
            files.append({"path": step["json_path"], "kind": "json", "content": configs[name]["json"],
                          "expect": _expect(found.get("json_checksum"), found.get("json_exists"))})
        if step.get("update_unit"):
            files.append({"path": "%s/%s.service" % (unit_dir.rstrip("/"), name), "kind": "unit",
                          "content": units[name], "expect": _expect(unit.get("checksum"), unit.get("file_exists"))})
    return files


def rollback_report(steps, facts, host=None, cause=None, rollback=None, rollback_health=None,
                    unreachable=False, confirm_timeout=None, revert_error=None, transaction_timeout=None,
                    confirm_by=None):
    """What runs where after a rollback, from a fresh ``service_info`` result.

    Returns ``{"ok": bool, "lines": [...], "problems": [...]}``: one line per service
    (``hailo-ocr: serving on 11436``, ``hailo-depth: not serving, crash-looping as before``);
    a problem is a service that served before and does not serve on its restored port, or a
    service holding a port its restored config does not name.
    """
    if not isinstance(facts, dict) or facts.get("skipped") or facts.get("failed"):
        facts = {}
    services = facts.get("services") or {}
    held = {}
    for item in (facts or {}).get("listeners") or ():
        unit = item.get("unit") or ""
        if unit.endswith(".service"):
            held.setdefault(unit[:-len(".service")], set()).add(item["port"])
    lines, problems = [], []
    for step in steps:
        name = step["name"]
        found = services.get(name) or {}
        port = found.get("port", step["from"])
        state = (found.get("unit") or {}).get("active") or "unknown"
        stray = sorted(held.get(name, set()) - set([port]))
        if found.get("serving"):
            line = "%s: serving on %s" % (name, port)
        elif state in ("activating", "active", "reloading"):
            line = "%s: not serving on %s (%s)" % (name, port, "crash-looping")
        else:
            line = "%s: %s" % (name, state)
        if step.get("was") and step["was"] != "serving" and not found.get("serving"):
            line += ", as before (%s)" % step["was"]
        lines.append(line)
        if step.get("was") == "serving" and not found.get("serving"):
            problems.append("%s served on %s before and does not now" % (name, step["from"]))
        if stray:
            problems.append("%s holds port(s) %s that its config does not name (%s)"
                            % (name, ", ".join(str(p) for p in stray), port))
    report = {"ok": not problems, "lines": lines, "problems": problems}
    if host is not None:
        report["message"] = rollback_message(host, cause, report, rollback, rollback_health, unreachable,
                                             confirm_timeout, revert_error, transaction_timeout, confirm_by)
    return report


def revert_deadline(confirm_timeout, transaction_timeout=None, confirm_by=None):
    """When a device that nobody confirms reverts by itself, as its timer is armed."""
    if confirm_by is not None:
        return "at %s, reconcile_confirm_timeout (%s s) after the change was applied" % (
            time.strftime("%H:%M:%S UTC", time.gmtime(float(confirm_by))), confirm_timeout)
    if transaction_timeout is not None and confirm_timeout is not None:
        return ("at the latest %d s after the change began (reconcile_transaction_timeout + "
                "reconcile_confirm_timeout)" % (int(transaction_timeout) + int(confirm_timeout)))
    return "when its confirmation is overdue"


def rollback_message(host, cause, report, rollback, rollback_health, unreachable, confirm_timeout,
                     revert_error=None, transaction_timeout=None, confirm_by=None):
    """The failure message of a device whose change was rolled back (or could not be)."""
    cause = (cause or "the failed step gave no message").rstrip(".")
    now = (" Now: %s." % "; ".join(report["lines"])) if report["lines"] else ""
    if unreachable or revert_error:
        why = "could not be reached to roll it back" if unreachable else "could not be rolled back (%s)" % revert_error
        return ("Port rollout failed on %s: %s. The device %s; it restores its old files and services by "
                "itself when its revert timer fires (%s), or at its next boot before its services start, "
                "whichever comes first, and the next run reports it."
                % (host, cause, why, revert_deadline(confirm_timeout, transaction_timeout, confirm_by)))
    if rollback is None:
        return "Port rollout failed on %s: %s. Nothing on the device was changed.%s" % (host, cause, now)
    restarted = ", ".join(rollback.get("restarted") or []) or "nothing"
    stopped = rollback.get("stopped") or []
    parts = ["Port rollout failed on %s and was rolled back. Cause: %s." % (host, cause),
             "Restored %d file(s); restarted %s%s." % (len(rollback.get("restored") or []), restarted,
                                                       (", stopped " + ", ".join(stopped)) if stopped else "")]
    if rollback.get("errors"):
        parts.append("Could not restore: %s; the journal is kept on the device and the next run reports it."
                     % "; ".join(rollback["errors"]))
    unbound = describe_unbound(rollback)
    if unbound:
        parts.append("Shared ports: %s." % unbound)
    unhealthy = (rollback_health or {}).get("unhealthy") or []
    if unhealthy:
        parts.append("After the rollback, not answering: %s." % ", ".join(unhealthy))
    if report["problems"]:
        parts.append("Not as before: %s." % "; ".join(report["problems"]))
    elif report["lines"]:
        parts.append("Every service is as it was before.")
    return " ".join(parts) + now
