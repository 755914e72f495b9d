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
module and can be tested on its own.  :func:`scan` only reads and computes the new contents;
:func:`apply_edits` writes them.

The module runs as root on a tree that other users may be able to change, so no path is ever
followed through a symlink: every directory is opened from the root down with ``O_NOFOLLOW``
relative to its parent's descriptor, every file relative to its directory's descriptor, and a
write re-opens that chain and checks the file still holds exactly the scanned bytes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import errno
import os
import re
import stat

from ansible_collections.hailo.services.plugins.module_utils import rules, safe_files

DEFAULT_MAX_SIZE = 1024 * 1024

SERVICE_NAME_RULE = rules.SERVICE_NAME_RULE

# A tree root that resolves to one of these is refused: the module would rewrite system files.
SYSTEM_ROOTS = frozenset([
    "/", "/bin", "/boot", "/dev", "/dev/shm", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
    "/proc", "/root", "/run", "/sbin", "/sys", "/tmp",
    "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec",
    "/usr/local", "/usr/sbin", "/usr/share",
    "/var", "/var/cache", "/var/lib", "/var/log", "/var/spool", "/var/tmp",
])

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# The tree root itself may be reached through symlinks (the caller chose it); nothing below it.
ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC
DIR_FLAGS = ROOT_FLAGS | _O_NOFOLLOW
FILE_FLAGS = (os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
              | getattr(os, "O_NOCTTY", 0))

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

# Reason prefix, in :func:`apply_edits`' ``failed``, of a file that is no longer what was scanned.
CHANGED_SINCE_SCAN = "changed since scan"


class PortReferenceError(ValueError):
    """Bad input: the message names the culprit."""


class WriteRefused(Exception):
    """One file was not written; the message says why."""


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
    if not is_service_name(name):
        raise PortReferenceError("%s name %r is not a safe name (%s)" % (where, name, SERVICE_NAME_RULE))


def is_service_name(name):
    """Whether ``name`` (the whole string, no trailing newline) is a safe directory name."""
    return rules.is_service_name(name)


# ---------------------------------------------------------------------------------------------
# Moves
# ---------------------------------------------------------------------------------------------

def _port(value, what):
    if isinstance(value, bool):
        raise PortReferenceError("%s must be an integer port in 1-65535, got %r" % (what, value))
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
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

def system_root(real_path):
    """The system directory that ``real_path`` (already resolved) names, or ``None``.

    Pure: only the string is looked at.  Repeated and trailing slashes do not matter
    (``//``, ``/usr/`` and ``/etc/.`` count as ``/``, ``/usr`` and ``/etc``).
    """
    if not isinstance(real_path, str) or not real_path.startswith("/"):
        return None
    normal = "/" + os.path.normpath(real_path).lstrip("/")
    return normal if normal in SYSTEM_ROOTS else None


def check_root(root):
    """Raise :class:`PortReferenceError` when ``root`` resolves to a system directory.

    Done before anything is read: with ``path: /`` the module would rewrite system files.
    """
    if not isinstance(root, str) or not root:
        raise PortReferenceError("path must be a non-empty string, got %r" % (root,))
    real = os.path.realpath(root)
    refused = system_root(real)
    if refused is not None:
        raise PortReferenceError(
            "path %s %sis the system directory %s; refusing to rewrite files there (the system "
            "directories %s are never accepted): point path at the source tree itself, for "
            "example /srv/hailo/system_services"
            % (root, "" if os.path.normpath(root) == refused else "resolves to %s, which " % real,
               refused, ", ".join(sorted(SYSTEM_ROOTS)))
        )


def _strerror(exc):
    return exc.strerror or str(exc)


def _unreadable(exc, dir_fd=None, name=None):
    """The ``skipped`` reason for an entry that could not be opened, listed or stat'ed."""
    if exc.errno == errno.ELOOP or (name is not None and _is_symlink_at(dir_fd, name)):
        return SKIP_SYMLINK
    return "%s: %s" % (SKIP_UNREADABLE, _strerror(exc))


def _is_symlink_at(dir_fd, name):
    """Whether ``name`` is (now) a symlink.  Linux fails ``O_DIRECTORY | O_NOFOLLOW`` on a
    symlink with ``ENOTDIR``, not ``ELOOP``: this tells the two apart."""
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def opened_system_root(fd):
    """The system directory that the open directory ``fd`` is, or ``None``.

    Compares device and inode, so it holds even when the path was changed (a symlink swapped
    to ``/``) after :func:`check_root` resolved it.
    """
    info = os.fstat(fd)
    for path in sorted(SYSTEM_ROOTS):
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return path
    return None


def open_root(root):
    """Open the tree root as a directory; raise :class:`PortReferenceError` when it cannot be,
    or when it is (now) a system directory."""
    try:
        fd = os.open(root, ROOT_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise PortReferenceError("path %s does not exist" % root)
        if exc.errno == errno.ENOTDIR:
            raise PortReferenceError("path %s is not a directory" % root)
        raise PortReferenceError("cannot open path %s: %s" % (root, _strerror(exc)))
    refused = opened_system_root(fd)
    if refused is not None:
        os.close(fd)
        raise PortReferenceError("path %s is now the system directory %s; refusing to rewrite files there"
                                 % (root, refused))
    return fd


def _lstat_at(dir_fd, name):
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def check_tree_at(root, root_fd, moves):
    """:func:`check_tree` on an open root directory."""
    missing = []
    linked = []
    for move in moves:
        try:
            info = _lstat_at(root_fd, move["service"])
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                missing.append(move["service"])
                continue
            raise PortReferenceError("cannot read %s: %s" % (os.path.join(root, move["service"]), _strerror(exc)))
        if stat.S_ISLNK(info.st_mode):
            linked.append(move["service"])
        elif not stat.S_ISDIR(info.st_mode):
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


def check_tree(root, moves):
    """Raise :class:`PortReferenceError` unless ``root`` is a directory holding a real
    (not symlinked) directory for every moved service."""
    root_fd = open_root(root)
    try:
        check_tree_at(root, root_fd, moves)
    finally:
        os.close(root_fd)


def walk_at(root_fd):
    """Yield ``(relative_path, dir_fd, name, kind)`` for every entry under the open ``root_fd``.

    Sorted, depth first: a directory's other entries, then each subdirectory in turn.  Every
    subdirectory is opened with ``O_NOFOLLOW`` relative to its parent's descriptor, and
    ``dir_fd`` (open only until the next item is asked for) is the directory holding ``name``.
    ``kind`` is ``"file"`` for a regular file, ``SKIP_SYMLINK`` for a symlink (never followed),
    ``SKIP_SPECIAL`` for anything else (fifo, socket, device) and ``"unreadable: <error>"``
    for an entry that cannot be stat'ed, or a directory that cannot be opened or listed (then
    ``dir_fd`` is its parent's).  Directories named in :data:`SKIP_DIRS` are not entered.
    Iterative, so the depth of the tree is bounded by the open-file limit, not the stack.
    Not :func:`os.fwalk`, which opens each subdirectory following links (see
    :func:`safe_files.walk_tree`).
    """
    # Each frame: [relative path, fd, whether to close fd, subdirectory names left (reversed)].
    stack = []
    rel_dir, dir_fd, owned = "", root_fd, False
    try:
        while True:
            if dir_fd is not None:
                subdirs = []
                try:
                    names = sorted(os.listdir(dir_fd))
                except OSError as exc:
                    if not rel_dir:
                        raise
                    names = []
                    yield rel_dir, stack[-1][1], os.path.basename(rel_dir), _unreadable(exc)
                for name in names:
                    rel = os.path.join(rel_dir, name) if rel_dir else name
                    try:
                        info = _lstat_at(dir_fd, name)
                    except OSError as exc:
                        yield rel, dir_fd, name, _unreadable(exc)
                        continue
                    if stat.S_ISLNK(info.st_mode):
                        yield rel, dir_fd, name, SKIP_SYMLINK
                    elif stat.S_ISDIR(info.st_mode):
                        if name not in SKIP_DIRS:
                            subdirs.append(name)
                    elif stat.S_ISREG(info.st_mode):
                        yield rel, dir_fd, name, "file"
                    else:
                        yield rel, dir_fd, name, SKIP_SPECIAL
                subdirs.reverse()
                stack.append([rel_dir, dir_fd, owned, subdirs])
                dir_fd = None
            while stack and not stack[-1][3]:
                frame = stack.pop()
                if frame[2]:
                    os.close(frame[1])
            if not stack:
                return
            parent = stack[-1]
            name = parent[3].pop()
            rel_dir = os.path.join(parent[0], name) if parent[0] else name
            try:
                dir_fd, owned = os.open(name, DIR_FLAGS, dir_fd=parent[1]), True
            except OSError as exc:
                yield rel_dir, parent[1], name, _unreadable(exc, parent[1], name)
    finally:
        for frame in stack:
            if frame[2]:
                os.close(frame[1])
        if dir_fd is not None and owned:
            os.close(dir_fd)


def walk(root):
    """Yield ``(relative_path, kind)`` for every entry under ``root``, as :func:`walk_at` does."""
    root_fd = open_root(root)
    try:
        for rel, _dir_fd, _name, kind in walk_at(root_fd):
            yield rel, kind
    finally:
        os.close(root_fd)


def read_bytes(name, max_size=DEFAULT_MAX_SIZE, dir_fd=None):
    """Read a regular file without following a symlink, relative to ``dir_fd`` if given.

    Returns ``(data, info, None)`` with the bytes and the ``fstat`` of what was read, or
    ``(None, None, reason)`` when the file is not read: a symlink, not a regular file, larger
    than ``max_size`` bytes or unreadable.
    """
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return None, None, _unreadable(exc, dir_fd, name)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, None, SKIP_SPECIAL
        if info.st_size > max_size:
            return None, None, SKIP_TOO_LARGE
        data = safe_files.read_upto(fd, max_size + 1)
    except OSError as exc:
        return None, None, _unreadable(exc)
    finally:
        os.close(fd)
    if len(data) > max_size:
        return None, None, SKIP_TOO_LARGE
    return data, info, None


def decode_text(data):
    """``(text, None)`` for UTF-8 text without a NUL byte, else ``(None, SKIP_BINARY)``."""
    if b"\x00" in data:
        return None, SKIP_BINARY
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, SKIP_BINARY


def read_text(path, max_size=DEFAULT_MAX_SIZE, dir_fd=None):
    """Read a text file without following a symlink.

    Returns ``(text, None)``, or ``(None, reason)`` when the file is not read: a symlink, not a
    regular file, larger than ``max_size`` bytes, binary (holds a NUL byte or is not valid
    UTF-8) or unreadable.
    """
    data, _info, reason = read_bytes(path, max_size, dir_fd)
    if reason is not None:
        return None, reason
    return decode_text(data)


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
        ``{file: {"before": text, "after": text, "count": replacements, "rel": relative_path,
        "dev": st_dev, "ino": st_ino}}`` for every file that changes.  Files are
        ``os.path.join(root, relative_path)``; ``dev`` and ``ino`` identify the file that was
        read, so that :func:`apply_edits` can tell whether it is still the same one.
    ``review``
        One ``{file, line, text, port, moved_service, likely_service}`` per line and move, for
        old ports that were left alone (see the module documentation), sorted.
    ``skipped``
        ``{file, reason}`` for every entry that was not read (symlinks, special and binary
        files, files over ``max_size`` bytes, unreadable files and directories), sorted.

    ``root`` is refused when it resolves to a system directory (:func:`check_root`), before
    anything is read.  Every read goes through directory descriptors opened without following
    a symlink (:func:`walk_at`).

    Inside the directory of a moved service, a line that names another known service (by its
    full name) is not changed but reviewed, even when it names the moved service too: such a
    line is (at least partly) about the other service, for example "hailo-face keeps 5002" or
    "hailo-pose and hailo-depth both want 11436".
    """
    check_root(root)
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise PortReferenceError("max_size must be a positive number of bytes, got %r" % (max_size,))
    moves = validate_moves(moves)
    root_fd = open_root(root)
    try:
        check_tree_at(root, root_fd, moves)
        return _scan_at(root, root_fd, moves, max_size)
    except OSError as exc:
        raise PortReferenceError("cannot read path %s: %s" % (root, _strerror(exc)))
    finally:
        os.close(root_fd)


def _scan_at(root, root_fd, moves, max_size):
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
    for entry in os.listdir(root_fd):
        if entry.startswith(SERVICE_DIR_PREFIX) and is_service_name(entry):
            try:
                if stat.S_ISDIR(_lstat_at(root_fd, entry).st_mode):
                    known.add(entry)
            except OSError:
                pass
    name_re = names_pattern(known)

    for rel, dir_fd, name, kind in walk_at(root_fd):
        full = os.path.join(root, rel)
        if kind != "file":
            result["skipped"].append({"file": full, "reason": kind})
            continue
        data, info, reason = read_bytes(name, max_size, dir_fd)
        if reason is None:
            text, reason = decode_text(data)
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
            result["edits"][full] = {"before": text, "after": "\n".join(lines), "count": count,
                                     "rel": rel, "dev": info.st_dev, "ino": info.st_ino}

    result["review"].sort(key=lambda item: (item["file"], item["line"], item["port"], item["moved_service"]))
    result["skipped"].sort(key=lambda item: item["file"])
    return result


# ---------------------------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------------------------

def _open_dir_chain(root, parts):
    """Open ``root`` then each of ``parts`` below it with ``O_NOFOLLOW``; return the last fd.

    A part that is now a symlink fails with ``ELOOP`` and one that is no longer a directory
    with ``ENOTDIR``: either raises :class:`WriteRefused`, nothing is followed.
    """
    try:
        fd = open_root(root)
    except PortReferenceError as exc:
        raise WriteRefused(str(exc))
    for index, part in enumerate(parts):
        try:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            linked = exc.errno == errno.ELOOP or _is_symlink_at(fd, part)
            os.close(fd)
            where = os.path.join(root, *parts[:index + 1])
            if linked:
                raise WriteRefused("%s: directory %s is now a symlink (not followed)" % (CHANGED_SINCE_SCAN, where))
            if exc.errno == errno.ENOTDIR:
                raise WriteRefused("%s: %s is no longer a directory" % (CHANGED_SINCE_SCAN, where))
            raise WriteRefused("cannot open directory %s: %s" % (where, _strerror(exc)))
        os.close(fd)
        fd = child
    return fd


def _check_unchanged(dir_fd, name, expected, identity):
    """Return the ``fstat`` of ``name`` if it still holds exactly ``expected`` bytes (and is
    the file ``identity`` names, when given); else raise :class:`WriteRefused`."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteRefused("%s: it is now a symlink (not followed)" % CHANGED_SINCE_SCAN)
        if exc.errno == errno.ENOENT:
            raise WriteRefused("%s: it was removed" % CHANGED_SINCE_SCAN)
        raise WriteRefused("cannot open it: %s" % _strerror(exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WriteRefused("%s: it is no longer a regular file" % CHANGED_SINCE_SCAN)
        if identity is not None and (info.st_dev, info.st_ino) != tuple(identity):
            raise WriteRefused("%s: it was replaced by another file" % CHANGED_SINCE_SCAN)
        current = safe_files.read_upto(fd, len(expected) + 1)
    except OSError as exc:
        raise WriteRefused("cannot read it: %s" % _strerror(exc))
    finally:
        os.close(fd)
    if current != expected:
        raise WriteRefused("%s: its content is not what was scanned" % CHANGED_SINCE_SCAN)
    return info


def replace_at(dir_fd, name, expected, data, identity=None):
    """Atomically replace ``name`` in the open directory ``dir_fd`` by ``data`` (bytes).

    Refused (:class:`WriteRefused`) unless ``name`` is still a regular file holding exactly
    ``expected`` (and, when ``identity`` is a ``(st_dev, st_ino)``, still that file).  The
    bytes go to a new temporary file in the same directory, opened with ``O_EXCL`` and
    ``O_NOFOLLOW``, are fsync'ed, get the original's owner and mode, and the temporary file is
    renamed over ``name`` (both relative to ``dir_fd``).  The temporary file never survives.
    """
    info = _check_unchanged(dir_fd, name, expected, identity)
    try:
        # The one descriptor-based write of the collection: O_EXCL temp, fchown, fchmod, rename.
        safe_files.replace_in(dir_fd, name, data, mode=stat.S_IMODE(info.st_mode), uid=info.st_uid,
                              gid=info.st_gid)
    except OSError as exc:
        raise WriteRefused("cannot write it: %s" % _strerror(exc))


def write_edit(root, edit):
    """Write one entry of :func:`scan`'s ``edits`` (it needs ``rel``, ``before``, ``after``,
    and uses ``dev`` and ``ino`` when there).

    The directory chain from ``root`` to the file is opened again, one ``O_NOFOLLOW`` step at
    a time, so a directory swapped for a symlink since the scan is refused, never followed;
    then :func:`replace_at`.  Raises :class:`WriteRefused` with the reason.
    """
    parts = edit["rel"].split(os.sep)
    if any(part in ("", ".", "..") for part in parts):
        raise WriteRefused("not a plain relative path: %r" % edit["rel"])
    identity = (edit["dev"], edit["ino"]) if "dev" in edit and "ino" in edit else None
    dir_fd = _open_dir_chain(root, parts[:-1])
    try:
        replace_at(dir_fd, parts[-1], edit["before"].encode("utf-8"), edit["after"].encode("utf-8"), identity)
    finally:
        os.close(dir_fd)


def apply_edits(root, edits):
    """Write every entry of :func:`scan`'s ``edits`` (each atomically), in file order.

    A file that fails does not stop the others.  Returns ``{"written": [{file, count}],
    "failed": [{file, reason}]}``, both in file order.
    """
    written = []
    failed = []
    for name in sorted(edits):
        try:
            write_edit(root, edits[name])
        except WriteRefused as exc:
            failed.append({"file": name, "reason": str(exc)})
        except (IOError, OSError) as exc:
            failed.append({"file": name, "reason": "cannot write it: %s" % _strerror(exc)})
        else:
            written.append({"file": name, "count": edits[name]["count"]})
    return {"written": written, "failed": failed}


def failure_message(written, failed):
    """The one-line message of a run in which some writes failed: exactly which files were
    written (with their replacement counts) and which were not, with the reason."""
    return (
        "port_references: %d of %d file(s) could not be written; written (each completely, "
        "atomically): %s; failed (not written): %s"
        % (len(failed), len(written) + len(failed),
           ", ".join("%s (%d replacement%s)" % (item["file"], item["count"], "" if item["count"] == 1 else "s")
                     for item in written) or "none",
           ", ".join("%s (%s)" % (item["file"], item["reason"]) for item in failed) or "none")
    )


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
