# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find and rewrite the literal ports of moved Hailo services in a source tree.

The tree holds one directory per service (``system_services/<service>/``).  When a service
moves from one port to another, every standalone literal of its old port inside its OWN
directory is rewritten to the new port.  The same number anywhere else (another service's
directory, top-level files) most likely belongs to someone else, so it is only reported for a
human to review.

Pure standard library, no Ansible import: this file travels to the managed host with the
module and can be tested on its own.  Nothing here writes a file; :func:`scan` only computes
the new contents, the module does the (atomic) writing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import errno
import os
import re
import stat

DEFAULT_MAX_SIZE = 1024 * 1024

SERVICE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# Directories that are never entered: version control, caches and virtual environments hold
# third-party or generated content in which the number means something else.
SKIP_DIRS = frozenset([
    ".git", ".hg", ".svn", ".bzr",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox",
    "node_modules", ".venv", "venv",
])

# Directory names that count as service names (besides the moved services themselves).
SERVICE_DIR_PREFIX = "hailo-"

# Review lines longer than this are cut to a window around the port.
MAX_REVIEW_TEXT = 240

# Reasons a file is not read, as reported in ``skipped``.
SKIP_SYMLINK = "symlink"
SKIP_SPECIAL = "not a regular file"
SKIP_TOO_LARGE = "too large"
SKIP_BINARY = "binary"
SKIP_UNREADABLE = "unreadable"


class PortReferenceError(ValueError):
    """Bad input: the message names the culprit."""


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

def port_pattern(port):
    """Regex matching ``port`` as a standalone number.

    A match is not touching a digit, an ASCII letter or ``_`` on either side (so ``50020``,
    ``150021``, ``v5002``, ``0x5002``, ``port_5002`` and ``5002ms`` do not match), and is not
    one part of a dotted decimal or version (``1.5002``, ``5002.5`` and ``2.5002.1`` do not
    match).  A dot that is not between two digits is punctuation, so ``port 5002.`` at the end
    of a sentence and ``5002.txt`` do match.
    """
    return re.compile(
        r"(?<![0-9A-Za-z_])(?<![0-9]\.)%d(?![0-9A-Za-z_])(?!\.[0-9])" % int(port)
    )


def find_ports(text, port):
    """Return the ``(start, end)`` spans of every standalone ``port`` in ``text``."""
    return [match.span() for match in port_pattern(port).finditer(text)]


def replace_port(text, old, new):
    """Replace every standalone ``old`` in ``text`` by ``new``; return ``(text, count)``."""
    if old == new:
        return text, 0
    return port_pattern(old).subn(str(int(new)), text)


# ---------------------------------------------------------------------------------------------
# Service names
# ---------------------------------------------------------------------------------------------

def names_pattern(names):
    """Regex matching any of ``names`` as a whole word (case-insensitive).

    A name is not a match when it touches a letter, digit, ``_`` or ``-``: ``hailo-face`` is
    found in ``/etc/hailo/hailo-face.yaml`` but not in ``hailo-face-v2`` or ``face``.
    Returns ``None`` for an empty ``names``.
    """
    names = sorted(set(names), key=lambda name: (-len(name), name))
    if not names:
        return None
    return re.compile(
        r"(?<![A-Za-z0-9_-])(%s)(?![A-Za-z0-9_-])" % "|".join(re.escape(name) for name in names),
        re.IGNORECASE,
    )


def names_in(text, pattern):
    """The distinct names ``pattern`` finds in ``text``, lower-cased, in order of appearance."""
    found = []
    if pattern is None:
        return found
    for match in pattern.finditer(text):
        name = match.group(1).lower()
        if name not in found:
            found.append(name)
    return found


def check_service_name(name, where="service"):
    """Raise :class:`PortReferenceError` unless ``name`` is a safe directory name."""
    if not isinstance(name, str) or not SERVICE_NAME_RE.match(name) or ".." in name:
        raise PortReferenceError(
            "%s name %r is not a safe name (it must match ^[a-z0-9][a-z0-9._-]*$ and must not "
            "contain '..')" % (where, name)
        )


# ---------------------------------------------------------------------------------------------
# Moves
# ---------------------------------------------------------------------------------------------

def _port(value, what):
    if isinstance(value, bool):
        raise PortReferenceError("%s must be an integer port in 1-65535, got %r" % (what, value))
    if isinstance(value, str) and re.match(r"^\s*[0-9]+\s*$", value):
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise PortReferenceError("%s must be an integer port in 1-65535, got %r" % (what, value))
    return value


def validate_moves(moves):
    """Check and normalise the moves.

    ``moves`` is a list of dicts with ``service``, ``from`` and ``to``, the shape of the
    ``changes`` list that the ``hailo.services.reconcile_ports`` filter returns.  Other keys
    (its ``reason``) are ignored.  Returns a new list of ``{service, from, to}`` dicts in input
    order, with exact duplicates dropped.  Raises :class:`PortReferenceError` naming the culprit.
    """
    if moves is None:
        moves = []
    if not isinstance(moves, (list, tuple)):
        raise PortReferenceError("moves must be a list of {service, from, to} dicts, got %r" % (moves,))
    result = []
    seen = {}
    for index, move in enumerate(moves):
        label = "moves[%d]" % index
        if not isinstance(move, dict):
            raise PortReferenceError("%s must be a dict with service, from and to, got %r" % (label, move))
        missing = [key for key in ("service", "from", "to") if move.get(key) is None]
        if missing:
            raise PortReferenceError("%s lacks %s" % (label, ", ".join(missing)))
        service = move["service"]
        check_service_name(service, "%s: service" % label)
        label = "%s (%s)" % (label, service)
        old = _port(move["from"], "%s: from" % label)
        new = _port(move["to"], "%s: to" % label)
        if service in seen:
            if seen[service] != (old, new):
                raise PortReferenceError(
                    "service %s is moved twice: %d -> %d and %d -> %d"
                    % (service, seen[service][0], seen[service][1], old, new)
                )
            continue
        seen[service] = (old, new)
        result.append({"service": service, "from": old, "to": new})
    return result


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def check_tree(root, moves):
    """Raise :class:`PortReferenceError` unless ``root`` is a directory holding a real
    (not symlinked) directory for every moved service."""
    if not os.path.exists(root):
        raise PortReferenceError("path %s does not exist" % root)
    if not os.path.isdir(root):
        raise PortReferenceError("path %s is not a directory" % root)
    missing = []
    linked = []
    for move in moves:
        service_dir = os.path.join(root, move["service"])
        if os.path.islink(service_dir):
            linked.append(move["service"])
        elif not os.path.isdir(service_dir):
            missing.append(move["service"])
    if missing:
        raise PortReferenceError(
            "no directory under %s for moved service%s %s"
            % (root, "s" if len(missing) > 1 else "", ", ".join(missing))
        )
    if linked:
        raise PortReferenceError(
            "the directory under %s of moved service%s %s is a symlink; symlinks are not followed"
            % (root, "s" if len(linked) > 1 else "", ", ".join(linked))
        )


def walk(root):
    """Yield ``(relative_path, kind)`` for every entry under ``root``, sorted, depth first.

    ``kind`` is ``"file"`` for a regular file, ``SKIP_SYMLINK`` for a symlink (to a file or a
    directory; never followed) and ``SKIP_SPECIAL`` for anything else (fifo, socket, device).
    Directories named in :data:`SKIP_DIRS` are not entered.
    """
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as iterator:
            entries = sorted(iterator, key=lambda entry: entry.name)
        subdirs = []
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            if entry.is_symlink():
                yield rel, SKIP_SYMLINK
            elif entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS:
                    subdirs.append(rel)
            elif entry.is_file(follow_symlinks=False):
                yield rel, "file"
            else:
                yield rel, SKIP_SPECIAL
        # Reversed so that the first subdirectory is popped first.
        stack.extend(reversed(subdirs))


def read_text(path, max_size=DEFAULT_MAX_SIZE):
    """Read a text file without following a symlink.

    Returns ``(text, None)``, or ``(None, reason)`` when the file is not read: a symlink, not a
    regular file, larger than ``max_size`` bytes, binary (holds a NUL byte or is not valid
    UTF-8) or unreadable.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            return None, SKIP_SYMLINK
        return None, "%s: %s" % (SKIP_UNREADABLE, exc.strerror)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, SKIP_SPECIAL
        if info.st_size > max_size:
            return None, SKIP_TOO_LARGE
        chunks = []
        size = 0
        while size <= max_size:
            chunk = os.read(fd, max_size + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, "%s: %s" % (SKIP_UNREADABLE, exc.strerror)
    finally:
        os.close(fd)
    if size > max_size:
        return None, SKIP_TOO_LARGE
    data = b"".join(chunks)
    if b"\x00" in data:
        return None, SKIP_BINARY
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, SKIP_BINARY


# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------

def _review_text(line, span):
    text = line.strip()
    if len(text) <= MAX_REVIEW_TEXT:
        return text
    offset = len(line) - len(line.lstrip())
    start = max(0, span[0] - offset - MAX_REVIEW_TEXT // 2)
    window = text[start:start + MAX_REVIEW_TEXT - 6]
    return "%s%s%s" % ("..." if start else "", window, "..." if start + len(window) < len(text) else "")


def _likely_service(line_names, top, rel, known, pattern):
    if len(line_names) == 1:
        return line_names[0]
    if top in known:
        return top
    path_names = names_in(rel, pattern)
    if len(path_names) == 1:
        return path_names[0]
    return None


def scan(root, moves, max_size=DEFAULT_MAX_SIZE):
    """Compute the edits and the review list for ``moves`` (as from :func:`validate_moves`).

    Returns a dict:

    ``edits``
        ``{file: {"before": text, "after": text, "count": replacements}}`` for every file that
        changes.  Files are ``os.path.join(root, relative_path)``.
    ``review``
        One ``{file, line, text, port, moved_service, likely_service}`` per line and move, for
        old ports that were left alone (see the module documentation), sorted.
    ``skipped``
        ``{file, reason}`` for every entry that was not read (symlinks, special and binary
        files, files over ``max_size`` bytes, unreadable files), sorted.

    Inside the directory of a moved service, a line that names another known service (by its
    full name) is not changed but reviewed, even when it names the moved service too: such a
    line is (at least partly) about the other service, for example "hailo-face keeps 5002" or
    "hailo-pose and hailo-depth both want 11436".
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise PortReferenceError("max_size must be a positive number of bytes, got %r" % (max_size,))
    moves = validate_moves(moves)
    check_tree(root, moves)
    result = {"edits": {}, "review": [], "skipped": []}
    active = [move for move in moves if move["from"] != move["to"]]
    if not active:
        return result

    owners = dict((move["service"], move) for move in active)
    by_old = {}
    for move in sorted(active, key=lambda move: move["service"]):
        by_old.setdefault(move["from"], []).append(move)
    patterns = dict((port, port_pattern(port)) for port in by_old)
    needles = dict((port, str(port)) for port in by_old)

    known = set(move["service"] for move in moves)
    for entry in os.listdir(root):
        if (entry.startswith(SERVICE_DIR_PREFIX) and SERVICE_NAME_RE.match(entry)
                and ".." not in entry and os.path.isdir(os.path.join(root, entry))
                and not os.path.islink(os.path.join(root, entry))):
            known.add(entry)
    name_re = names_pattern(known)

    for rel, kind in walk(root):
        full = os.path.join(root, rel)
        if kind != "file":
            result["skipped"].append({"file": full, "reason": kind})
            continue
        text, reason = read_text(full, max_size)
        if reason is not None:
            result["skipped"].append({"file": full, "reason": reason})
            continue
        if not any(needle in text for needle in needles.values()):
            continue
        parts = rel.split(os.sep)
        top = parts[0] if len(parts) > 1 else None
        owner = owners.get(top)
        lines = text.split("\n")
        count = 0
        for index, line in enumerate(lines):
            hits = []
            for port, needle in needles.items():
                if needle in line:
                    match = patterns[port].search(line)
                    if match:
                        hits.append((port, match.span()))
            if not hits:
                continue
            line_names = names_in(line, name_re)
            for port, span in sorted(hits):
                if owner is not None and port == owner["from"]:
                    if all(name == owner["service"] for name in line_names):
                        lines[index], replaced = patterns[port].subn(str(owner["to"]), line)
                        count += replaced
                        continue
                elif owner is not None and port == owner["to"]:
                    # The owner's own new port (another move's old one): it means the owner.
                    continue
                likely = _likely_service(line_names, top, rel, known, name_re)
                for move in by_old[port]:
                    result["review"].append({
                        "file": full,
                        "line": index + 1,
                        "text": _review_text(line, span),
                        "port": port,
                        "moved_service": move["service"],
                        "likely_service": likely,
                    })
        if count:
            result["edits"][full] = {"before": text, "after": "\n".join(lines), "count": count}

    result["review"].sort(key=lambda item: (item["file"], item["line"], item["port"], item["moved_service"]))
    result["skipped"].sort(key=lambda item: item["file"])
    return result


# ---------------------------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------------------------

def _lines(text):
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    elif lines:
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified_diff(before, after, name, context=3):
    """A unified diff of one file, as a ``prepared`` entry of Ansible's ``diff`` result."""
    prepared = "".join(difflib.unified_diff(
        _lines(before), _lines(after),
        fromfile="before: %s" % name, tofile="after: %s" % name, n=context,
    ))
    return {"before_header": name, "after_header": name, "prepared": prepared}
