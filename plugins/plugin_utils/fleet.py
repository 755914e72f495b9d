# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One port map for a whole fleet, worked out on the controller (pure; no Ansible import).

:func:`fleet_merge` turns every device's ``service_info`` into ONE engine input: the union of
the services found on any device, each at the port most devices use, and the union of the
ports other programs hold on any device. The engine's map is then the same for every device.
:func:`host_map` cuts that map down to one device (only the services it runs, moves counted
from its own ports, its own restart order). :func:`fleet_budget` says whether a canary rollout
may go on to its next batch, and :func:`budget_progress` what it has done so far.
"""

from __future__ import annotations

import re
from collections import Counter

from ansible_collections.hailo.services.plugins.plugin_utils.port_map import move_order


class FleetError(ValueError):
    """Fleet input the merge cannot work with; the message names the culprit."""


def _skip_reason(facts):
    if not isinstance(facts, dict):
        return "no facts (not discovered)"
    if facts.get("unreachable"):
        return "unreachable: %s" % (facts.get("msg") or "no connection")
    if facts.get("failed"):
        return "discovery failed: %s" % (facts.get("msg") or "unknown error")
    if not isinstance(facts.get("services"), dict):
        return "no facts (not discovered)"
    return None


def _pick_port(counts, catalog_port, taken=()):
    """The most common port; a tie goes to the catalog's port, else to the lowest port that no
    other program and no other service holds (``taken``), else the lowest.

    Without the middle rule a fleet whose rollout stopped half-way (one device moved, one
    rolled back) would tie on a squatter's port or on a port another service took, and the
    next run would swap the moved device's ports.
    """
    top = max(counts.values())
    tied = sorted(port for port, n in counts.items() if n == top)
    if catalog_port in tied:
        return catalog_port
    free = [port for port in tied if port not in taken]
    return (free or tied)[0]


def fleet_merge(hosts, catalog):
    """Merge the devices' discovered services into one engine input.

    :param hosts: hostname -> the ``service_info`` result of that device (``services`` and
        ``in_use``), or a result that is ``unreachable``/``failed``, or None.
    :param catalog: the service catalog (name -> settings).
    :returns: ``{"services": engine input, "in_use": [ports], "hosts": {host: {services,
        missing, notes}}, "skipped": {host: reason}, "disagreements": [{service, chosen,
        ports: {port: [hosts]}}], "preview": bool}``. ``preview`` is true when no device
        reported any service: the catalog's own ports are used (a dry preview).
    """
    if not isinstance(hosts, dict):
        raise FleetError("hosts must be a dict of hostname -> service_info result")
    catalog = catalog or {}
    seen = {}  # service -> {port: [hosts]}
    in_use = set()
    per_host = {}
    skipped = {}
    errors = {}
    for host in sorted(hosts):
        facts = hosts[host]
        reason = _skip_reason(facts)
        if reason:
            skipped[host] = reason
            continue
        names = []
        notes = []
        for name in sorted(facts["services"]):
            found = facts["services"][name] or {}
            if found.get("error") or not isinstance(found.get("port"), int):
                notes.append("%s left out of the fleet map: %s"
                             % (name, found.get("error") or "no port found"))
                errors.setdefault(host, []).append(name)
                continue
            names.append(name)
            seen.setdefault(name, {}).setdefault(found["port"], []).append(host)
        in_use.update(int(p) for p in facts.get("in_use") or ())
        per_host[host] = {"services": names, "notes": notes}

    preview = not seen
    services = {}
    disagreements = []
    if preview:
        services = {name: dict(spec or {}) for name, spec in catalog.items()}
        in_use = set()
    # Ports a tie must not go to: other programs' and those of the services the fleet agrees on.
    taken = set(in_use) | set(list(ports)[0] for ports in seen.values() if len(ports) == 1)
    for name in sorted(seen):
        ports = seen[name]
        spec = dict(catalog.get(name) or {})
        counts = Counter({port: len(on) for port, on in ports.items()})
        chosen = _pick_port(counts, spec.get("port"), taken)
        taken.add(chosen)
        spec["port"] = chosen
        services[name] = spec
        if len(ports) > 1:
            disagreements.append({
                "service": name,
                "chosen": chosen,
                "ports": {str(port): sorted(on) for port, on in sorted(ports.items())},
            })
            for port, on in ports.items():
                if port == chosen:
                    continue
                for host in on:
                    per_host[host]["notes"].append(
                        "%s is on %d here but on %d on %d of %d devices: the fleet map "
                        "starts from %d" % (name, port, chosen, counts[chosen],
                                            sum(counts.values()), chosen))
    all_names = sorted(services)
    for host, info in per_host.items():
        missing = [n for n in all_names if n not in info["services"]]
        info["missing"] = missing
        if missing and not preview:
            info["notes"].append("does not run %s: their ports do not apply here"
                                 % ", ".join(missing))
    return {
        "services": services,
        "in_use": sorted(in_use),
        "hosts": per_host,
        "skipped": skipped,
        "disagreements": disagreements,
        "preview": preview,
    }


def host_map(port_map, discovered):
    """The fleet map as it applies to one device.

    :param port_map: the FleetMap's ``port_map``: the engine's output for the fleet (``ports``,
        ``changes``, ``restart_order``).
    :param discovered: the device's ``service_info`` ``services``; empty means a preview on
        the controller (the fleet map is returned unchanged).
    :returns: the same shape as the engine's output, with only the device's services, each
        move counted from the device's own port, and a restart order for this device.
    """
    if not discovered:
        return port_map
    reasons = {c["service"]: c for c in port_map.get("changes", ())}
    ports = {}
    changes = []
    for name in sorted(discovered):
        if name not in port_map["ports"]:
            raise FleetError("service %s is on the device but not in the fleet map" % name)
        target = port_map["ports"][name]
        ports[name] = target
        current = (discovered[name] or {}).get("port")
        if current == target:
            continue
        fleet_change = reasons.get(name)
        if fleet_change and fleet_change["from"] == current:
            reason = fleet_change["reason"]
        elif fleet_change:
            reason = "fleet map moves it %d -> %d (%s)" % (
                fleet_change["from"], fleet_change["to"], fleet_change["reason"])
        else:
            reason = "the fleet keeps it on %d (this device had %s)" % (target, current)
        changes.append({"service": name, "from": current, "to": target, "reason": reason})
    return {"ports": ports, "changes": changes, "restart_order": move_order(changes)}


def fleet_budget(outcomes, max_failed_hosts=0, max_fail_percentage=100):
    """Whether the failure budget of a rollout is spent.

    :param outcomes: hostname -> outcome of the devices already handled (``ok``, ``changed``,
        ``rolled_back``, ``failed``, ``unreachable``), or a result dict holding it under
        ``outcome``; devices not handled yet are absent or None.
    :param max_failed_hosts: how many failed devices are tolerated (0: stop after the first).
    :param max_fail_percentage: the tolerated share of failed devices among those handled.
    :returns: ``{"spent": bool, "failed": [hosts], "handled": n, "reason": str}``.
    """
    if max_failed_hosts is None or int(max_failed_hosts) < 0:
        raise FleetError("max_failed_hosts must be 0 or more, got %r" % (max_failed_hosts,))
    if max_fail_percentage is None or not 0 <= float(max_fail_percentage) <= 100:
        raise FleetError("max_fail_percentage must be in 0-100, got %r" % (max_fail_percentage,))
    handled = {}
    for host, outcome in (outcomes or {}).items():
        if isinstance(outcome, dict):
            outcome = outcome.get("outcome")
        if outcome:
            handled[host] = outcome
    failed = sorted(h for h, o in handled.items() if o not in ("ok", "changed"))
    reason = ""
    spent = False
    if len(failed) > int(max_failed_hosts):
        spent = True
        reason = "%d device%s failed (%s), more than the %d tolerated" % (
            len(failed), "" if len(failed) == 1 else "s", ", ".join(failed), int(max_failed_hosts))
    elif handled and 100.0 * len(failed) / len(handled) > float(max_fail_percentage):
        spent = True
        reason = "%d of %d devices failed (%s), more than %s%%" % (
            len(failed), len(handled), ", ".join(failed), max_fail_percentage)
    return {"spent": spent, "failed": failed, "handled": len(handled), "reason": reason}


def budget_progress(budget):
    """What the rollout has done so far, from :func:`fleet_budget`'s result, for the batch's
    announcement: ``Done so far: 3 device(s), 1 failed (pi2).``"""
    failed = budget["failed"]
    return "Done so far: %d device(s), %d failed%s." % (
        budget["handled"], len(failed), " (%s)" % ", ".join(failed) if failed else "")


_PERCENT = re.compile(r"\A([0-9]+(?:\.[0-9]+)?)%\Z")


def _batch_size(item, raw):
    if isinstance(item, bool):
        raise FleetError("reconcile_serial: %r is not a batch size (%s)" % (item, _SERIAL_HELP))
    if isinstance(item, int):
        if item < 1:
            raise FleetError("reconcile_serial: batch size %d must be at least 1" % item)
        return item
    text = str(item).strip()
    if text.isdigit():
        return _batch_size(int(text), raw)
    match = _PERCENT.match(text)
    if match and 0 < float(match.group(1)) <= 100:
        return text
    raise FleetError("reconcile_serial: %r in %r is not a batch size (%s)" % (item, raw, _SERIAL_HELP))


_SERIAL_HELP = "use a count like 1, a percentage like '25%', or a list of them like [1, '25%', '100%']"


def fleet_serial(value):
    """The canary batches from ``reconcile_serial`` as a play's ``serial`` takes them.

    Accepts what a user types in an inventory or with ``-e``: a count (``1``), a percentage
    (``"25%"``), a list of them, or a string of such a list (``-e reconcile_serial=[1,2]``
    arrives as the text ``"[1,2]"``; ``"1,2"`` also works). Returns a list of positive ints and
    percentage strings; anything else raises FleetError naming the value.
    """
    raw = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        value = [part.strip().strip("'\"") for part in text.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise FleetError("reconcile_serial: %r is empty (%s)" % (raw, _SERIAL_HELP))
    return [_batch_size(item, raw) for item in value]


def source_moves(catalog, port_map):
    """The moves for the services' source tree: from the port each service's source says (the
    catalog's ``port``, the port it had before reconciliation) to its port in the fleet map.

    Worked out from the fleet map, not from one device: a service that the first device does
    not run, or a fleet already on the map, still gets its references migrated.
    """
    moves = []
    ports = (port_map or {}).get("ports") or {}
    for name in sorted(ports):
        old = ((catalog or {}).get(name) or {}).get("port")
        if isinstance(old, int) and not isinstance(old, bool) and old != ports[name]:
            moves.append({"service": name, "from": old, "to": ports[name],
                          "reason": "fleet map: %s moves from %d to %d" % (name, old, ports[name])})
    return moves
