# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Human-readable renderings of a reconciled port map (pure; no Ansible import)."""

from __future__ import annotations


def _current_port(spec):
    return spec["port"] if isinstance(spec, dict) else spec


def port_table(plan, services):
    """A fixed-width table: service, old port, new port, reason.

    :param plan: the output of ``reconcile``.
    :param services: the engine's input (dict keyed by name, or list of dicts with ``name``),
        used for the old ports.
    """
    if isinstance(services, dict):
        old = {name: _current_port(spec) for name, spec in services.items()}
    else:
        old = {item["name"]: item["port"] for item in services}
    reasons = {c["service"]: c["reason"] for c in plan["changes"]}
    left_by = {}
    for change in plan["changes"]:
        left_by.setdefault(change["from"], []).append(change["service"])
    for name, port in plan["ports"].items():
        if name not in reasons and port in left_by:
            reasons[name] = "kept %d (shared with %s)" % (port, ", ".join(left_by[port]))
    rows = [("SERVICE", "OLD", "NEW", "REASON")]
    for name, new in sorted(plan["ports"].items(), key=lambda item: (item[1], item[0])):
        reason = reasons.get(name, "unchanged")
        rows.append((name, str(old.get(name, "-")), str(new), reason))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "%-*s  %*s  %*s  %s" % (widths[0], r[0], widths[1], r[1], widths[2], r[2], r[3])
        for r in rows
    ]
    moved = len(plan["changes"])
    lines.append("%d service%s, %d moved%s" % (
        len(plan["ports"]), "" if len(plan["ports"]) == 1 else "s", moved,
        (": restart order " + ", ".join(plan["restart_order"])) if moved else "",
    ))
    return "\n".join(lines) + "\n"
