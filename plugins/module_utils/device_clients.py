# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clients of the services on a device (the web portal): their port literals follow a move.

A client holds literal base URLs such as ``http://127.0.0.1:11439``. When the services move on
the device, each literal ``http://127.0.0.1:<port>`` (or ``localhost``, ``0.0.0.0``; ``https``
too) follows the service that owned that port on this device before the move: the controller
sends that as ``moves`` (``{old port: new port}``). Every literal is rewritten in one pass, from
the text as it was, so a chain move (hailo-depth takes hailo-pose's old port) never shifts a
literal twice. A moved port that appears in any other form (``ss -lntp | grep :11439``), or a
port whose owner the controller could not tell (``unplaced``), is listed for review, unchanged.

Standard library only; reads and writes go through :mod:`safe_files`' client-folder helpers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os
import re

from ansible_collections.hailo.services.plugins.module_utils import safe_files

# Folders of a client that are not its own source: a virtualenv, caches, version control.
SKIP_DIRS = ("venv", ".venv", "__pycache__", ".git", "node_modules", ".mypy_cache", ".pytest_cache")

_LOCAL_URL = re.compile(br"(https?://(?:127\.0\.0\.1|localhost|0\.0\.0\.0):)([0-9]{1,5})(?![0-9])")
_NUMBER = re.compile(br"(?<![0-9.])([0-9]{2,5})(?![0-9]|\.[0-9])")


def _ports(mapping):
    return dict((int(key), value) for key, value in (mapping or {}).items())


def _follow(match, line, moves, unplaced, spans, changes, review):
    """The replacement of one local URL literal (``re.sub``'s callback, bound per line)."""
    spans.append(match.span())
    port = int(match.group(2))
    if port in moves and moves[port] != port:
        new = match.group(1) + str(moves[port]).encode("ascii")
        changes.append({"line": line, "old": match.group(0).decode("ascii"), "new": new.decode("ascii")})
        return new
    if port in unplaced:
        review.append({"line": line, "port": port, "why": unplaced[port]})
    return match.group(0)


def rewrite(data, moves, unplaced=None):
    """``(new_data, changes, review)`` for the bytes of one client file.

    ``changes``: ``{line, old, new}`` per literal rewritten (the literals only, never the rest
    of the line, which may hold a token). ``review``: ``{line, port, why}`` per literal left as
    it is because the rollout cannot place it.
    """
    moves = dict((port, int(new)) for port, new in _ports(moves).items())
    unplaced = _ports(unplaced)
    changes, review = [], []
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        spans = []
        lines[index] = _LOCAL_URL.sub(
            functools.partial(_follow, line=index + 1, moves=moves, unplaced=unplaced, spans=spans,
                              changes=changes, review=review), line)
        for match in _NUMBER.finditer(line):
            port = int(match.group(1))
            if (port in moves or port in unplaced) and not any(start <= match.start() < end for start, end in spans):
                why = unplaced.get(port) or "port %d moved to %d, but not as a local URL" % (port, moves[port])
                review.append({"line": index + 1, "port": port, "why": why})
    return b"\n".join(lines), changes, review


def plan_client(client, moves, unplaced, limit=safe_files.MAX_READ_BYTES):
    """The writes and the report of one client (``path``: a file or a folder).

    Returns ``(writes, report)``; ``writes`` as ``port_transaction`` takes them (kind
    ``client``, with the folder ``tree`` and the path ``rel`` inside it, the file's mode and
    owner), ``report`` ``{path, unit, files: [{path, changes}], review: [{path, line, port,
    why}], skipped: [{path, why}], missing}``. Raises OSError (UnsafePath) for a folder root
    must not enter.
    """
    path = os.path.normpath(client["path"])
    report = {"path": path, "unit": client.get("unit"), "files": [], "review": [], "skipped": [], "missing": False}
    if not os.path.lexists(path):
        report["missing"] = True
        return [], report
    if os.path.isdir(path) and not os.path.islink(path):
        root, names = path, safe_files.walk_tree(path, SKIP_DIRS)
    else:
        root, names = os.path.dirname(path), [os.path.basename(path)]
    writes = []
    for rel in names:
        full = os.path.join(root, rel)
        try:
            old, info = safe_files.read_in_tree(root, rel, limit)
        except safe_files.FileTooLarge:
            report["skipped"].append({"path": full, "why": "larger than %d bytes" % limit})
            continue
        if b"\0" in old:
            continue  # not text: no literal to follow
        new, changes, review = rewrite(old, moves, unplaced)
        report["review"].extend(dict(item, path=full) for item in review)
        if changes:
            report["files"].append({"path": full, "changes": changes})
            writes.append({"path": full, "tree": root, "rel": rel, "old": old, "new": new, "kind": "client",
                           "mode": info.st_mode & 0o7777, "uid": info.st_uid, "gid": info.st_gid,
                           "unit": client.get("unit")})
    return writes, report
