# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source_tree role's report: its data, its Markdown and its one-line summary (pure).

:func:`report_data` turns the result of the ``hailo.services.port_references`` module into the
report's data (paths relative to the tree, the moves that were applied, one line saying why
each review entry needs a human); :func:`report_markdown` renders it as the
``## Source references`` section; :func:`summary_line` is the message printed at the end of a
run. :func:`settings_problems` names the role's settings that cannot work, before the tree is
touched; :func:`is_local` and :func:`tree_root` say where the tree is.
"""

from __future__ import annotations

import os
import re

from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import cell, plural

_TICKS = re.compile("`+")


class SourceReportError(ValueError):
    """The module result does not fit the moves (names the culprit)."""


def _int(value):
    """A port as Jinja's ``int`` filter reads it (moves given as ``-e`` JSON may hold strings)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


# Inventory names of the controller itself.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_local(host, connection):
    """Whether the tree is on the controller: the host is the controller or is reached locally."""
    return host in LOCAL_HOSTS or connection == "local"


def tree_root(path, local):
    """The tree as the module gets it: on the controller, absolute with symlinks resolved (a
    relative path is taken from the directory ansible-playbook was started in); elsewhere as
    given."""
    return os.path.realpath(os.path.expanduser(path)) if local else path


def settings_problems(max_size, path, local, host, report, report_dir):
    """What is wrong with the role's settings, one sentence each (empty: nothing).

    :param max_size: ``source_tree_max_size`` as given (compared as an integer, shown as given).
    :param path: ``source_tree_path``.
    :param local: whether the tree is on the controller (then a relative path is fine).
    :param host: ``source_tree_host``.
    :param report: whether a report is written.
    :param report_dir: ``source_tree_report_dir``.
    """
    problems = []
    if _int(max_size) < 1:
        problems.append("source_tree_max_size must be at least 1, not %s" % max_size)
    if not local and not os.path.isabs(path):
        problems.append("source_tree_path must be absolute on %s, not %s" % (host, path))
    if report and not report_dir:
        problems.append("source_tree_report_dir must be set when source_tree_report is true")
    return problems


def _why(item, rel, by_service):
    """One line on why a review entry needs a human."""
    try:
        moved = by_service[item["moved_service"]]
    except KeyError:
        raise SourceReportError(
            "%s:%s: the module reports %s, which is not among the moves that change a port"
            % (item.get("file"), item.get("line"), item.get("moved_service"))) from None
    port, likely = item["port"], item["likely_service"]
    if likely is None:
        return ("Unclear which service this means (the line names none or several): if %s means "
                "%s, change it to %s." % (port, moved["service"], moved["to"]))
    if likely == moved["service"] and rel.startswith(moved["service"] + "/"):
        return ("The line also names another service, so it was left alone: if %s means %s, "
                "change it to %s." % (port, moved["service"], moved["to"]))
    if likely == moved["service"]:
        return ("Outside %s's directory but seems to mean it: change %s to %s if so."
                % (moved["service"], port, moved["to"]))
    if likely in by_service and by_service[likely]["from"] == port:
        return ("Seems to mean %s, which also left %s (now %s): change it to that if so."
                % (likely, port, by_service[likely]["to"]))
    return ("Seems to mean %s, which does not leave %s: most likely right as it is; confirm."
            % (likely, port))


def report_data(refs, root, moves, host, check_mode):
    """The report's data.

    :param refs: the result of ``hailo.services.port_references`` (``files``, ``replaced``,
        ``review``, ``skipped``), with paths under ``root``.
    :param root: the tree as the module got it.
    :param moves: the moves, each ``{service, from, to}`` with an optional ``reason``; those that
        keep their port are left out.
    :param host: the host that holds the tree.
    :param check_mode: whether nothing was written.
    :returns: ``check_mode``, ``host``, ``path``, ``moves``, ``replaced``, ``files_changed``,
        ``files`` (path relative to the tree -> count), ``review`` and ``skipped``, in that order.
    """
    applied, by_service = [], {}
    for move in moves or ():
        old, new = _int(move["from"]), _int(move["to"])
        if old == new:
            continue
        entry = {"service": move["service"], "from": old, "to": new,
                 "reason": move.get("reason", "")}
        applied.append(entry)
        by_service[move["service"]] = entry
    files = {os.path.relpath(name, root): count for name, count in refs["files"].items()}
    review = []
    for item in refs["review"]:
        rel = os.path.relpath(item["file"], root)
        review.append({"file": rel, "line": item["line"], "port": item["port"],
                       "moved_service": item["moved_service"],
                       "likely_service": item["likely_service"],
                       "why": _why(item, rel, by_service), "text": item["text"]})
    skipped = [{"file": os.path.relpath(item["file"], root), "reason": item["reason"]}
               for item in refs["skipped"]]
    return {
        "check_mode": bool(check_mode),
        "host": host,
        "path": root,
        "moves": applied,
        "replaced": refs["replaced"],
        "files_changed": len(refs["files"]),
        "files": files,
        "review": review,
        "skipped": skipped,
    }


def code(text, in_table=True):
    """Inline code that survives any backtick in the text; in a table cell, pipes escaped.

    The fence is one backtick longer than the longest run inside, padded with a space when the
    text starts or ends with a backtick (CommonMark strips one such space on each side).
    """
    text = str(text)
    ticks = max((len(run) for run in _TICKS.findall(text)), default=0)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    fence = "`" * (ticks + 1)
    return fence + pad + (text.replace("|", "\\|") if in_table else text) + pad + fence


def report_markdown(data, managed_line):
    """Render :func:`report_data`'s data as the ``## Source references`` Markdown section.

    :param managed_line: the ``ansible_managed`` text, in an HTML comment on the first line.
    """
    check = data["check_mode"]
    review = data["review"]
    out = ["<!-- %s: written by the hailo.services.source_tree role on every run. -->" % managed_line,
           "## Source references", ""]
    if check:
        out += ["> **Check mode: nothing was written.** The counts below are what a real run "
                "would change.", ""]
    out += [
        "Source tree %s on %s." % (code(data["path"], False), code(data["host"], False)),
        "%s in %s %s;" % (plural(data["replaced"], "reference"), plural(data["files_changed"], "file"),
                          "would be updated" if check else "updated"),
        "%s outside the moved services listed for review." % plural(len(review), "occurrence"),
        "", "### Moves", "",
    ]
    if data["moves"]:
        out += ["| Service | From | To | Why it moved |", "|---|--:|--:|---|"]
        out += ["| %s | %s | %s | %s |" % (move["service"], move["from"], move["to"],
                                           cell(move["reason"]) if move["reason"] else "-")
                for move in data["moves"]]
    else:
        out.append("No service moved, so no reference needed updating.")
    out += ["", "### Files %s" % ("to update" if check else "updated"), ""]
    if data["files"]:
        out += ["Every standalone old port inside each moved service's own directory.", "",
                "| File | References |", "|---|--:|"]
        out += ["| %s | %s |" % (code(name), count) for name, count in data["files"].items()]
        out.append("| **Total: %s** | **%s** |" % (plural(data["files_changed"], "file"), data["replaced"]))
    else:
        out.append("None: no moved service's directory holds its old port%s."
                   % (" any more" if data["moves"] else ""))
    out += ["", "### To review", ""]
    if review:
        out += [
            "These lines hold a moved service's old port but were left alone: they lie outside that",
            "service's directory or name another service, so the port may mean a service that did not move.",
            "Read each one and edit by hand if it means the moved service.",
            "",
            "| Where | Port | Moved service | Likely means | Why it needs a human | Line |",
            "|---|--:|---|---|---|---|",
        ]
        out += ["| %s | %s | %s | %s | %s | %s |" % (
            code("%s:%s" % (item["file"], item["line"])), item["port"], item["moved_service"],
            item["likely_service"] if item["likely_service"] is not None else "?",
            cell(item["why"]), code(item["text"])) for item in review]
    else:
        out.append("Nothing: no old port was found outside the moved services' directories.")
    if data["skipped"]:
        out += ["", "### Skipped", "", "Not read, so not checked:", ""]
        out += ["- %s: %s" % (code(item["file"], False), item["reason"]) for item in data["skipped"]]
    return "\n".join(out) + "\n"


def summary_line(data):
    """The run's one-line summary."""
    skipped = data["skipped"]
    return "source_tree: %s in %s %s; %s outside moved services listed for review%s." % (
        plural(data["replaced"], "reference"), plural(data["files_changed"], "file"),
        "would be updated (check mode)" if data["check_mode"] else "updated",
        plural(len(data["review"]), "occurrence"),
        "; %d file(s) skipped" % len(skipped) if skipped else "")
