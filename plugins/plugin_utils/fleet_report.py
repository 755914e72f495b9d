# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet rollout report: a JSON document and a Markdown migration guide (pure).

:func:`fleet_report` gathers the fleet map and every device's result into one document;
:func:`fleet_report_markdown` renders it for a terminal and a git forge alike (pipe tables,
no HTML, summary first); :func:`report_outputs` derives what the run writes, shows, publishes
and fails with; :func:`write_report` and :func:`write_saved_plan` write the files on the
controller, each whole or not at all.
"""

from __future__ import annotations

import json
import os
import tempfile

OUTCOMES = ("changed", "ok", "rolled_back", "failed", "unreachable", "not_reached")
_LABEL = {
    "changed": "changed",
    "ok": "already consistent",
    "rolled_back": "failed, rolled back",
    "failed": "failed",
    "unreachable": "unreachable",
    "not_reached": "not reached (rollout stopped)",
}


def _port_row(entry):
    """``{service, old, new}`` from a report row or a rollout step (``name``, ``from``, ``port``)."""
    if "service" in entry:
        return {"service": entry["service"], "old": entry["old"], "new": entry["new"]}
    return {"service": entry["name"], "old": entry["from"], "new": entry["port"]}


def _device(host, fleet, result, lost=False):
    notes = list(((fleet.get("hosts") or {}).get(host) or {}).get("notes") or ())
    skipped = (fleet.get("skipped") or {}).get(host)
    if not result:
        if skipped:
            return {"outcome": "unreachable" if skipped.startswith("unreachable") else "failed",
                    "message": skipped, "ports": [], "restarted": [], "health": {},
                    "rollback": None, "notes": notes}
        if lost:  # dropped out of the run (a lost connection) before its result was recorded
            return {"outcome": "unreachable", "message": "%s became unreachable during the rollout; "
                    "no result was recorded" % host, "ports": [], "restarted": [], "health": {},
                    "rollback": None, "notes": notes}
        return {"outcome": "not_reached", "message": "", "ports": [], "restarted": [],
                "health": {}, "rollback": None, "notes": notes}
    device = {
        "outcome": result.get("outcome") or "failed",
        "message": result.get("message") or "",
        "ports": [_port_row(p) for p in result.get("ports") or ()],
        "restarted": list(result.get("restarted") or ()),
        "health": dict(result.get("health") or {}),
        "rollback": result.get("rollback"),
        "found": result.get("found"),
        "clients": list(result.get("clients") or ()),
        "firewall": result.get("firewall"),
        "notes": notes,
    }
    if device["outcome"] not in OUTCOMES:
        device["outcome"] = "failed"
    return device


def _client_changes(fleet_map, devices, check_mode):
    """The moves clients must follow: per moved service, the devices where it moved (outcome
    ``changed``), or would move in a check or plan-only run; a move no device made is left out."""
    changes = []
    for row in fleet_map:
        if not row["moved"]:
            continue
        moved_on = [host for host, device in devices.items() if device["outcome"] == "changed"
                    and any(p["service"] == row["service"] and p["old"] != p["new"] for p in device["ports"])]
        if moved_on:
            changes.append({"service": row["service"], "old_url": "http://<device>:%d" % row["old"],
                            "new_url": "http://<device>:%d" % row["new"], "devices": moved_on,
                            "status": "would move" if check_mode else "moved"})
    return changes


def fleet_report(fleet, results, hosts, meta=None, lost=()):
    """One document for the whole run.

    :param fleet: the FleetMap (``fleet_merge``'s output plus ``port_map``, the engine's map).
    :param results: hostname -> the device's result (``outcome``, ``message``, ``ports``
        [{service, old, new}], ``restarted``, ``health`` {service: {ok, latency_ms, port,
        detail}}, ``rollback``), or None for a device the rollout never reached.
    :param hosts: every device of the run, in inventory order.
    :param meta: free-form run facts (``check_mode``, ``scope``, ``stopped``, ``generated``...).
    :param lost: devices that dropped out of the run (unreachable mid-rollout); one of them
        without a result counts as unreachable, not as not reached.
    """
    meta = dict(meta or {})
    fleet = fleet or {}
    port_map = fleet.get("port_map") or {"ports": {}, "changes": []}
    services = fleet.get("services") or {}
    results = results or {}
    devices = {host: _device(host, fleet, results.get(host), host in lost) for host in hosts}
    counts = {o: 0 for o in OUTCOMES}
    for device in devices.values():
        counts[device["outcome"]] += 1
    moved = {c["service"]: c for c in port_map.get("changes") or ()}
    fleet_map = []
    for name, new in sorted(port_map.get("ports", {}).items(), key=lambda i: (i[1], i[0])):
        old = (services.get(name) or {}).get("port", new)
        runs_on = sorted(h for h, info in (fleet.get("hosts") or {}).items()
                         if name in info.get("services", ()))
        fleet_map.append({
            "service": name, "old": old, "new": new, "moved": old != new,
            "reason": moved[name]["reason"] if name in moved else "unchanged",
            "devices": runs_on,
        })
    check_mode = bool(meta.pop("check_mode", False))
    clients = _client_changes(fleet_map, devices, check_mode)
    failed = [h for h, d in devices.items() if d["outcome"] in ("rolled_back", "failed", "unreachable")]
    return {
        "generated": meta.pop("generated", None),
        "check_mode": check_mode,
        "scope": meta.pop("scope", "fleet"),
        "stopped": meta.pop("stopped", None) or None,
        "summary": {"devices": len(devices), "outcomes": counts, "services": len(fleet_map),
                    "moved": sum(1 for row in fleet_map if row["moved"]), "failed_devices": failed,
                    "reached": sum(counts[o] for o in ("changed", "ok", "rolled_back"))},
        "client_changes": clients,
        "fleet_map": fleet_map,
        "disagreements": list(fleet.get("disagreements") or ()),
        "in_use": list(fleet.get("in_use") or ()),
        "devices": devices,
        "meta": meta,
    }


def plural(count, word):
    """``count word``, with an ``s`` unless the count is exactly one."""
    return "%s %s%s" % (count, word, "" if count == 1 else "s")


def cell(value):
    """A value as Markdown table cell text: a bare pipe would end the cell."""
    return str(value).replace("|", "\\|")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for column in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def _health_cell(entry):
    if not entry:
        return "-"
    mark = "ok" if entry.get("ok") else "FAILED"
    latency = entry.get("latency_ms")
    return "%s (%.1f ms)" % (mark, latency) if latency is not None else mark


def next_step(doc):
    """The report's first line: what a person should do now."""
    summary = doc["summary"]
    failed = summary["failed_devices"]
    not_reached = summary["outcomes"].get("not_reached", 0)
    if summary["devices"] and not summary.get("reached", 1):
        return ("**Nothing was applied:** no device was reached (%s). Fix the cause and run "
                "the rollout again." % ", ".join(
                    "%d %s" % (n, _LABEL[o]) for o, n in summary["outcomes"].items() if n))
    if failed:
        return ("**Action needed:** %s failed (%s): read %s section below, fix the cause "
                "and run the rollout again%s." % (
                    plural(len(failed), "device"), ", ".join(failed),
                    "its" if len(failed) == 1 else "their",
                    "; %s not reached yet" % plural(not_reached, "device") if not_reached else ""))
    if not_reached:
        return "**Action needed:** the rollout stopped; %s not reached. Run it again." % plural(
            not_reached, "device")
    moved = summary["moved"]
    if doc.get("check_mode"):
        return ("**Nothing was changed.** %s would move: review the map below, then run "
                "without --check / --tags plan to apply." % plural(moved, "service")
                if moved else "**Nothing was changed, and nothing would change.**")
    if moved:
        return ("**Done:** every device is on the fleet map. Point the clients of the %s at "
                "their new ports (below)." % plural(moved, "moved service"))
    return "**Nothing to do:** every device was already on the fleet map."


def fleet_report_markdown(doc):
    """Render :func:`fleet_report`'s document as a Markdown migration guide."""
    out = []
    summary = doc["summary"]
    counts = summary["outcomes"]
    title = "# Hailo fleet port rollout"
    if doc.get("check_mode"):
        title += " (check mode: nothing was changed)"
    out += [title, "", next_step(doc), ""]
    if doc.get("generated"):
        out += ["Generated %s, scope `%s`." % (doc["generated"], doc.get("scope")), ""]
    meta = doc.get("meta") or {}
    if meta.get("batches"):
        out += ["Batches: %s (serial %s)." % (" | ".join(", ".join(batch) for batch in meta["batches"]),
                                              meta.get("serial")), ""]
    if meta.get("limit"):
        out += ["Limited to `%s` (--limit): only these devices were handled; the map is the "
                "whole group's." % meta["limit"], ""]
    out += ["## Fleet summary", ""]
    if summary["failed_devices"] or counts["not_reached"]:
        verdict = "the rollout did NOT complete"
    elif doc.get("check_mode"):
        verdict = "every device would reach the fleet map"
    else:
        verdict = "every device reached the fleet map"
    out += ["**%s, %d services, %d moved: %s.**" % (
        plural(summary["devices"], "device"), summary["services"], summary["moved"], verdict), ""]
    out += _table(["Outcome", "Devices"],
                  [(_LABEL[o], counts[o]) for o in OUTCOMES if counts[o]])
    out.append("")
    if doc.get("stopped"):
        out += ["Rollout stopped before the next batch: %s." % doc["stopped"], ""]
    if summary["failed_devices"]:
        out += ["Failed devices: %s." % ", ".join(summary["failed_devices"]), ""]

    out += ["## What clients must change", ""]
    if doc["client_changes"]:
        out += ["Point clients of these services at the new base URL, on the devices named%s:"
                % (" (nothing moved yet: these moves would happen)" if doc.get("check_mode") else ""), ""]
        out += _table(["Service", "Old base URL", "New base URL", "Devices", "Status"],
                      [(c["service"], "`%s`" % c["old_url"], "`%s`" % c["new_url"],
                        ", ".join(c["devices"]) or "-", c["status"]) for c in doc["client_changes"]])
    elif summary["moved"]:
        out.append("Nothing: no device %s a service to a new port." % (
            "would move" if doc.get("check_mode") else "moved"))
    else:
        out.append("Nothing: no service changes its port.")
    out.append("")

    out += ["## Fleet port map", ""]
    out += _table(["Service", "Old", "New", "Why"],
                  [(("**%s**" % r["service"]) if r["moved"] else r["service"], r["old"],
                    ("**%d**" % r["new"]) if r["moved"] else r["new"], r["reason"])
                   for r in doc["fleet_map"]])
    out.append("")
    if doc.get("in_use"):
        out += ["Ports held by other programs on some device (avoided everywhere): %s."
                % ", ".join(str(p) for p in doc["in_use"]), ""]
    for dis in doc.get("disagreements") or ():
        where = "; ".join("%s on %s" % (p, ", ".join(h)) for p, h in dis["ports"].items())
        out += ["Devices disagree on %s's current port (%s): the map starts from %d."
                % (dis["service"], where, dis["chosen"]), ""]

    out += ["## Devices", ""]
    for host, dev in doc["devices"].items():
        out += ["### %s: %s" % (host, _LABEL[dev["outcome"]]), ""]
        if dev["message"]:
            out += ["> %s" % " ".join(dev["message"].split()), ""]
        for note in dev["notes"]:
            out.append("- %s" % note)
        if dev["notes"]:
            out.append("")
        if dev["ports"]:
            rows = []
            for p in dev["ports"]:
                health = dev["health"].get(p["service"])
                rows.append((p["service"], p["old"],
                             ("**%s**" % p["new"]) if p["old"] != p["new"] else p["new"],
                             ("would" if doc.get("check_mode") else "yes") if p["service"] in dev["restarted"]
                             else "no",
                             _health_cell(health)))
            out += _table(["Service", "Old", "New", "Restarted", "Health"], rows)
            out.append("")
        if dev["restarted"]:
            verb = "Would restart" if doc.get("check_mode") else "Restarted"
            out += ["%s, in order: %s." % (verb, ", ".join(dev["restarted"])), ""]
        out += _clients_markdown(dev, doc.get("check_mode"))
        out += _firewall_markdown(dev, doc.get("check_mode"))
        if dev.get("found"):
            found = dev["found"]
            out += ["Found on the device: its change %s had been reverted by the device (%s); restored %s."
                    % (found.get("id") or "?", found.get("reason") or "no reason recorded",
                       ", ".join(found.get("restored") or []) or "nothing"), ""]
        if dev["rollback"]:
            rb = dev["rollback"]
            out += ["Rolled back: restored %s; restarted %s%s.%s"
                    % (", ".join(rb.get("restored") or []) or "no file",
                       ", ".join(rb.get("restarted") or []) or "nothing",
                       (", stopped " + ", ".join(rb["stopped"])) if rb.get("stopped") else "",
                       (" Could not restore: %s." % "; ".join(rb["errors"])) if rb.get("errors") else ""), ""]
    return "\n".join(out).rstrip() + "\n"


def _clients_markdown(dev, check_mode):
    """Each client file and literal the change rewrote on the device, and the ones to review."""
    out = []
    for client in dev.get("clients") or ():
        if not client.get("files") and not client.get("review") and not client.get("skipped"):
            continue
        restarted = (" (%s %s)" % ("would restart" if check_mode else "restarted", client.get("unit"))
                     if client.get("restart") else "")
        if dev.get("rollback") is not None:
            restarted = " (the rollback restored these files)"
        out += ["Client %s%s:" % (client.get("path"), restarted), ""]
        for entry in client.get("files") or ():
            for change in entry.get("changes") or ():
                verb = "would become" if check_mode else "->"
                out.append("- %s line %d: `%s` %s `%s`" % (entry["path"], change["line"], change["old"], verb,
                                                           change["new"]))
        for item in client.get("review") or ():
            out.append("- to review, unchanged: %s line %d (port %d): %s"
                       % (item["path"], item["line"], item["port"], item["why"]))
        for item in client.get("skipped") or ():
            out.append("- not read: %s (%s)" % (item["path"], item["why"]))
        out.append("")
    return out


def _firewall_markdown(dev, check_mode):
    """What the moves did (or would do) to the device's ufw rules; one line when nothing."""
    found = dev.get("firewall")
    if not found:
        return []
    if found.get("ufw") != "active":
        state = "not installed" if found.get("ufw") == "absent" else "installed but not active"
        return ["Firewall: ufw is %s; no rule changed." % state, ""]
    lines = []
    undone = dev.get("rollback") is not None
    if check_mode:
        added, deleted = "would add", "would delete"
    elif undone:
        added, deleted = "added, then undone by the rollback:", "deleted, then restored by the rollback:"
    else:
        added, deleted = "added:", "deleted:"
    lines += ["- %s `%s`" % (added, rule) for rule in found.get("added") or ()]
    lines += ["- %s `%s`" % (deleted, rule) for rule in found.get("deleted") or ()]
    for item in found.get("kept") or ():
        lines.append("- kept `%s`: %s" % (item["rule"], item["why"]))
    for item in found.get("review") or ():
        lines.append("- to review, unchanged: `%s`: %s" % (item["rule"], item["why"]))
    if not lines:
        return ["Firewall: ufw is active; no allow rule names a moving service's old port, so no rule changed.", ""]
    return ["Firewall (ufw):", ""] + lines + [""]


REPORT_MARKDOWN = "fleet-rollout.md"
REPORT_JSON = "fleet-rollout.json"
SOURCE_REFERENCES = "source-references.md"


def report_outputs(doc, report_dir, source_references=False):
    """What the run does with :func:`fleet_report`'s document.

    :param report_dir: where the report is written (absolute), for the messages.
    :param source_references: whether the source_tree role's ``source-references.md`` is in
        ``report_dir``: the guide then points at it.
    :returns: ``markdown`` (the guide, as written), ``lines`` (what the run prints: the guide
        and where it is), ``stats`` (published with set_stats: summary, client changes, stopped,
        check mode and each device's outcome) and ``message`` (why the run fails, or empty when
        no device failed).
    """
    markdown = fleet_report_markdown(doc)
    lines = markdown.splitlines() + ["Fleet report: %s/%s and %s" % (report_dir, REPORT_MARKDOWN, REPORT_JSON)]
    if source_references:
        markdown += ("\nSource references migrated in the services' source tree: see [%s](%s).\n"
                     % (SOURCE_REFERENCES, SOURCE_REFERENCES))
    failed = doc["summary"]["failed_devices"]
    message = ""
    if failed:
        message = "Fleet rollout incomplete: %s; %s. See %s/%s." % (
            ", ".join(failed), doc.get("stopped") or "not stopped", report_dir, REPORT_MARKDOWN)
    stats = {
        "summary": doc["summary"],
        "client_changes": doc["client_changes"],
        "stopped": doc.get("stopped"),
        "check_mode": doc["check_mode"],
        "devices": {host: device["outcome"] for host, device in doc["devices"].items()},
    }
    return {"markdown": markdown, "lines": lines, "stats": stats, "message": message}


def _write_text(path, text):
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def to_json_text(document):
    """A document as the report files hold it: indented, keys in their order, a final newline."""
    return json.dumps(document, indent=4, separators=(",", ": ")) + "\n"


def write_report(report_dir, doc, markdown):
    """Write the fleet report's Markdown and JSON into ``report_dir`` (made if missing).

    Returns the paths written. Each file is replaced whole: a reader never sees half a report.
    """
    os.makedirs(report_dir, mode=0o755, exist_ok=True)
    paths = [os.path.join(report_dir, REPORT_MARKDOWN), os.path.join(report_dir, REPORT_JSON)]
    _write_text(paths[0], markdown)
    _write_text(paths[1], to_json_text(doc))
    return paths


def write_saved_plan(path, document, markdown):
    """Write a saved plan as ``<path>.json`` (to apply) and ``<path>.md`` (to review)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    paths = [path + ".json", path + ".md"]
    _write_text(paths[0], to_json_text(document))
    _write_text(paths[1], markdown)
    return paths
