# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Saved fleet plans, reviewed before they are applied (pure; no Ansible import).

``playbooks/plan.yml`` keeps the fleet map and, per device, what the rollout would change and
the state it was worked out from (each service's port and the checksums of its files).
``playbooks/reconcile.yml -e reconcile_plan_file=...`` applies exactly that map, and refuses a
device whose state drifted since, naming the drift.
"""

from __future__ import annotations

FORMAT = "hailo.services/fleet-plan/v1"


class SavedPlanError(ValueError):
    """A plan file that cannot be used; the message names the culprit."""


def _seen(facts):
    """What a device looked like: per service, its port and the checksums of its files."""
    seen = {}
    for name, found in sorted(((facts or {}).get("services") or {}).items()):
        found = found or {}
        seen[name] = {
            "port": found.get("port"),
            "config": found.get("checksum"),
            "json": found.get("json_checksum"),
            "unit": (found.get("unit") or {}).get("checksum"),
        }
    return seen


def plan_document(fleet_map, facts_by_host, results, meta=None):
    """The plan file's document.

    :param fleet_map: the playbook's ``reconcile_fleet_map`` (fleet_merge output + ``port_map``).
    :param facts_by_host: host -> its ``service_info`` result, as discovered for the plan.
    :param results: host -> its ``reconcile_result`` (what would change), or None.
    """
    port_map = (fleet_map or {}).get("port_map") or {}
    devices = {}
    for host in sorted(facts_by_host):
        result = (results or {}).get(host) or {}
        devices[host] = {
            "outcome": result.get("outcome"),
            "moves": [{"service": step["name"], "from": step["from"], "to": step["port"]}
                      for step in result.get("ports") or () if step["from"] != step["port"]],
            "restart": list(result.get("restarted") or ()),
            "seen": _seen(facts_by_host[host]),
        }
    return dict({"format": FORMAT}, **dict(meta or {}, **{
        "fleet_map": dict(port_map.get("ports") or {}),
        "changes": list(port_map.get("changes") or ()),
        "restart_order": list(port_map.get("restart_order") or ()),
        "skipped": dict((fleet_map or {}).get("skipped") or {}),
        "devices": devices,
    }))


def plan_markdown(doc):
    """The plan as Markdown, to review in a pull request."""
    out = ["# Hailo fleet port plan", ""]
    moving = [c for c in doc.get("changes") or () if c.get("from") != c.get("to")]
    devices = len(doc["devices"])
    headline = ("**%d device%s, %d service%s move.** Review, then apply exactly this plan with "
                "`ansible-playbook -i <inventory> playbooks/reconcile.yml -e "
                "reconcile_plan_file=<this plan's .json>`.")
    out += [headline % (devices, "" if devices == 1 else "s", len(moving), "" if len(moving) == 1 else "s"), ""]
    if doc.get("generated"):
        out += ["Planned %s." % doc["generated"], ""]
    out += ["## Fleet map", "", "| Service | Port |", "|---|---|"]
    out += ["| %s | %s |" % (name, port) for name, port in sorted(doc["fleet_map"].items())]
    out += ["", "## Moves", ""]
    if moving:
        out += ["| Service | From | To | Why |", "|---|---|---|---|"]
        out += ["| %s | %s | %s | %s |" % (c["service"], c["from"], c["to"], c.get("reason", ""))
                for c in moving]
    else:
        out.append("None: every service keeps its port.")
    out += ["", "## Devices", ""]
    for host, device in sorted(doc["devices"].items()):
        moves = ", ".join("%s %s -> %s" % (m["service"], m["from"], m["to"]) for m in device["moves"])
        out.append("- **%s**: %s; restart %s" % (host, moves or "no move",
                                                 ", ".join(device["restart"]) or "nothing"))
    for host, reason in sorted((doc.get("skipped") or {}).items()):
        out.append("- **%s**: not planned (%s)" % (host, reason))
    return "\n".join(out) + "\n"


def check_plan(doc):
    """The saved plan's document, checked; raises SavedPlanError naming what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SavedPlanError("not a hailo.services fleet plan (format %r, expected %r)"
                             % ((doc or {}).get("format") if isinstance(doc, dict) else None, FORMAT))
    for key in ("fleet_map", "changes", "restart_order", "devices"):
        if key not in doc:
            raise SavedPlanError("the plan has no %r" % key)
    return doc


def plan_drift(doc, host, facts):
    """How ``host`` differs now from the state the saved plan was worked out from.

    Returns a list of messages (empty: no drift). A device the plan does not cover is drift.
    """
    check_plan(doc)
    return device_drift(doc["devices"].get(host), host, facts)


def device_drift(device, host, facts):
    """:func:`plan_drift` for one device's entry of a checked plan (None: not in the plan)."""
    if device is None:
        return ["%s is not in the plan" % host]
    before, now = device["seen"], _seen(facts)
    drift = []
    for name in sorted(set(before) | set(now)):
        if name not in now:
            drift.append("%s is gone" % name)
        elif name not in before:
            drift.append("%s is new (port %s)" % (name, now[name]["port"]))
        else:
            was, current = before[name], now[name]
            if was["port"] != current["port"]:
                drift.append("%s is on %s now, the plan saw %s" % (name, current["port"], was["port"]))
            for part, label in (("config", "its config"), ("json", "its JSON copy"), ("unit", "its unit")):
                if was[part] != current[part] and was["port"] == current["port"]:
                    drift.append("%s: %s changed since the plan" % (name, label))
    return drift
