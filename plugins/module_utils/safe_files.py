# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root's reads and writes of the files a port change touches, never through another user's paths.

The modules run as root; the service users own their state directories and, on a device
changed by hand, sometimes a config or its directory. Root must not follow what they control:

* :func:`check_target` refuses, before anything is written, a config, JSON copy or unit that
  is a symlink (unless allowed, see below), is not a regular file, or sits in a directory a
  non-root user can write. Discovery calls it too, so both say the same words.
* :func:`write_file` writes through descriptors: a temporary file created with
  ``O_EXCL|O_NOFOLLOW`` relative to the open directory, ``fchown`` then ``fchmod`` (``fchown``
  clears the set-id bits), fsync, rename relative to the directory, fsync of the directory.
* :func:`read_regular` never blocks (``O_NONBLOCK``), never follows a symlink, reads only a
  regular file and at most one byte more than its limit.
* :func:`check_journal_dir` and :func:`prune_backups` for the journal and the backup copies.

Standard library only, no Ansible imports: the revert script on the device imports this file
from the journal directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import stat
import time

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - not POSIX
    grp = pwd = None

# Real configs and units are a few KiB.
MAX_READ_BYTES = 256 * 1024

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | _CLOEXEC
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC

# Backup copies: "<name>.<pid>.<YYYY-mm-dd@HH:MM:SS>~". Temporary files start with a dot and end
# in ".tmp", so they never look like a backup.
BACKUP_STAMP = "%Y-%m-%d@%H:%M:%S"
_BACKUP_TAIL = re.compile(r"\A\.[0-9]+\.[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2}~\Z")

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISREG, "a regular file"),
)


class UnsafePath(OSError):
    """A path root must not read or write; the message names the path and its owner.

    An OSError, so a caller that handles I/O errors handles it too.
    """

    def __init__(self, message):
        super(UnsafePath, self).__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class FileTooLarge(UnsafePath):
    """A file over the read limit; ``why`` says so without the path."""

    def __init__(self, path, why):
        super(FileTooLarge, self).__init__(problem(path, why))
        self.why = "refused: " + why


def problem(path, why):
    """The one wording of a problem with a file, shared by discovery and the transaction."""
    return "%s: refused: %s" % (path, why)


def user_name(uid):
    """``root``, ``hailo (uid 1000)``, or ``uid 1000`` when the user is unknown."""
    if uid == 0:
        return "root"
    try:
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (KeyError, AttributeError):
        return "uid %d" % uid


def group_name(gid):
    try:
        return "%s (gid %d)" % (grp.getgrgid(gid).gr_name, gid)
    except (KeyError, AttributeError):
        return "gid %d" % gid


def kind_of(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover - every type is listed


def _dir_writer(info, ancestor):
    """Who other than root can change entries in a directory with this ``lstat``, or None.

    An ancestor that is sticky and root's (``/tmp``) is fine: there only an entry's owner may
    rename or remove it, so root's entries below stay root's.
    """
    if info.st_uid != 0:
        return "owned by %s" % user_name(info.st_uid)
    if ancestor and info.st_mode & stat.S_ISVTX:
        return None
    if info.st_mode & stat.S_IWOTH:
        return "owned by root and writable by others (mode %04o)" % stat.S_IMODE(info.st_mode)
    if info.st_mode & stat.S_IWGRP and info.st_gid != 0:
        return "owned by root and writable by group %s" % group_name(info.st_gid)
    return None


def check_dir(path, ancestor=False):
    """Raise UnsafePath unless ``path`` is a real directory that only root can change."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePath("%s is %s (owned by %s), not a directory"
                         % (path, kind_of(info.st_mode), user_name(info.st_uid)))
    writer = _dir_writer(info, ancestor)
    if writer is not None:
        raise UnsafePath("its directory %s is %s" % (path, writer))


def check_dir_chain(path):
    """Raise UnsafePath unless every existing component of absolute ``path`` is a directory only
    root can change (sticky root directories are fine above the last one); components that do
    not exist yet are root's to create."""
    if not os.path.isabs(path):
        raise UnsafePath("%s is not an absolute path" % path)
    path = os.path.normpath(path)
    parts = [part for part in path.split(os.sep) if part]
    current = os.sep
    for index in range(len(parts) + 1):
        if index:
            current = os.path.join(current, parts[index - 1])
        try:
            check_dir(current, ancestor=index < len(parts))
        except OSError as err:
            if err.errno in (errno.ENOENT,):
                return
            raise


def check_journal_dir(path):
    """Raise UnsafePath unless the journal directory ``path`` is absolute and every component of
    it is root's and writable by nobody else."""
    try:
        check_dir_chain(path)
    except UnsafePath as err:
        raise UnsafePath("journal directory %s: refused: %s" % (path, err))


def check_target(path, allow_root_symlinks=False):
    """Check a config, JSON copy or unit before anything is written; return the path to write.

    Refused (UnsafePath, the message from :func:`problem`) when ``path`` is a symlink, is not a
    regular file, or its directory is missing or writable by a non-root user. With
    ``allow_root_symlinks`` a symlink is followed when the link's directory and every directory
    of its target are root's and writable by nobody else; the target is returned. A missing
    file passes when its directory does (it is created).
    """
    if not os.path.isabs(path):
        raise UnsafePath(problem(path, "not an absolute path"))
    path = os.path.normpath(path)
    directory = os.path.dirname(path)
    try:
        info = os.lstat(path)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise UnsafePath(problem(path, "cannot be examined: %s" % (err.strerror or err)))
        info = None
    try:
        check_dir(directory)
    except UnsafePath as err:
        raise UnsafePath(problem(path, str(err)))
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise UnsafePath(problem(path, "its directory %s does not exist" % directory))
        raise UnsafePath(problem(path, "its directory %s cannot be examined: %s" % (directory, err.strerror or err)))
    if info is None:
        return path
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        if not allow_root_symlinks:
            raise UnsafePath(problem(path, "it is a symlink (to %s, the link owned by %s); root does not write "
                                           "through links (allow_root_symlinks follows links inside root's "
                                           "directories)" % (target, user_name(info.st_uid))))
        try:
            check_dir_chain(os.path.dirname(target))
            info = os.lstat(target)
        except OSError as err:
            raise UnsafePath(problem(path, "it is a symlink to %s, outside root's directories: %s"
                                           % (target, err.strerror or err)))
        path = target
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePath(problem(path, "it is %s (owned by %s), not a regular file"
                                       % (kind_of(info.st_mode), user_name(info.st_uid))))
    return path


def read_upto(fd, limit):
    """At most ``limit`` bytes from ``fd`` (ask for one more than a file may hold to tell that
    it is too large)."""
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_regular(path, limit=MAX_READ_BYTES, allow_root_symlinks=False):
    """``(data, fstat)`` of the regular file ``path``, read without blocking or following a link.

    Raises UnsafePath for a symlink (unless allowed and safe, see :func:`check_target`), a
    FIFO, a directory, a device or a socket, and for a file over ``limit`` bytes (at most
    ``limit`` + 1 bytes are read); other OSErrors (ENOENT: missing) pass through.
    """
    if allow_root_symlinks and os.path.islink(path):
        path = check_target(path, allow_root_symlinks=True)
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as err:
        if err.errno == errno.ELOOP:
            info = os.lstat(path)
            raise UnsafePath(problem(path, "it is a symlink (to %s, the link owned by %s); not followed"
                                           % (os.path.realpath(path), user_name(info.st_uid))))
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(problem(path, "it is %s (owned by %s), not a regular file; not read"
                                           % (kind_of(info.st_mode), user_name(info.st_uid))))
        data = read_upto(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(path, "the file is %d bytes, more than the %d-byte limit"
                           % (max(info.st_size, len(data)), limit))
    return data, info


def read_or_none(path, limit=MAX_READ_BYTES, allow_root_symlinks=False):
    """:func:`read_regular`'s bytes, or None when nothing is at ``path``."""
    try:
        return read_regular(path, limit, allow_root_symlinks)[0]
    except OSError as err:
        if err.errno == errno.ENOENT and not isinstance(err, UnsafePath):
            return None
        raise


def create_temp(dir_fd, name):
    """A new temporary file next to ``name`` (``O_EXCL``: a planted name is never reused)."""
    for _attempt in range(100):
        temp = ".%s.%s.tmp" % (name[:200], os.urandom(6).hex())
        try:
            return os.open(temp, TEMP_FLAGS, 0o600, dir_fd=dir_fd), temp
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise
    raise OSError(errno.EEXIST, "no free temporary file name")


def open_dir(path):
    """A descriptor of directory ``path`` (its last component not followed)."""
    return os.open(path, DIR_FLAGS)


def replace_in(dir_fd, name, data, mode=None, uid=None, gid=None):
    """Replace ``name`` in the open directory ``dir_fd`` with ``data``, atomically.

    Mode and owner default to the existing file's (a new file: 0600, root's). Raises OSError
    (UnsafePath when ``name`` is now a symlink or not a regular file); the old file is then
    intact and no temporary file is left.
    """
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UnsafePath("%s is %s (owned by %s), not a regular file; not replaced"
                         % (name, kind_of(info.st_mode), user_name(info.st_uid)))
    if mode is None:
        mode = stat.S_IMODE(info.st_mode) if info is not None else 0o600
    if uid is None:
        uid = info.st_uid if info is not None else os.geteuid()
    if gid is None:
        gid = info.st_gid if info is not None else os.getegid()
    fd, temp = create_temp(dir_fd, name)
    renamed = False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            current = os.fstat(fd)
            if (current.st_uid, current.st_gid) != (uid, gid):
                try:
                    os.fchown(fd, uid, gid)
                except OSError as err:
                    # As Ansible's atomic_move: a user that is not root may not give a file away
                    # (port_references on a user's own tree); root always can.
                    if err.errno != errno.EPERM or os.geteuid() == 0:
                        raise
            os.fchmod(fd, mode)  # after fchown, which clears the set-id bits
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        renamed = True
    finally:
        if not renamed:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
    os.fsync(dir_fd)


def write_file(path, data, mode=None, uid=None, gid=None):
    """Replace ``path`` with ``data`` through descriptors (see :func:`replace_in`).

    ``path`` is the checked real path (:func:`check_target`); its directory is opened without
    following a final symlink, and the file is replaced relative to it.
    """
    directory, name = os.path.split(path)
    dir_fd = open_dir(directory or ".")
    try:
        replace_in(dir_fd, name, data, mode=mode, uid=uid, gid=gid)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------------- client folders
# A client of the services (the web portal) lives in a folder its own user owns: root may not
# trust a path there, so every step walks from the folder's descriptor, one component at a time,
# without following a link, and writes as replace_in does, with the file's owner and mode kept.

def _tree_parts(rel):
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise UnsafePath(problem(rel, "not a plain path inside its folder"))
    return parts


def open_tree(root):
    """A descriptor of the client folder ``root`` (absolute); the directories above it must be
    root's (its owner cannot swap it), the folder itself may be another user's."""
    if not os.path.isabs(root) or os.path.normpath(root) != root:
        raise UnsafePath(problem(root, "not an absolute, normalised path"))
    try:
        check_dir_chain(os.path.dirname(root))
    except UnsafePath as err:
        raise UnsafePath(problem(root, str(err)))
    try:
        return open_dir(root)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(problem(root, "it is not a directory (a symlink is not followed)"))
        raise


def _parent_in_tree(root, rel):
    """``(fd, name)``: the directory of ``rel`` in the client folder ``root`` (see :func:`open_tree`)."""
    root_fd = open_tree(root)
    try:
        return _open_parent(root_fd, rel)
    finally:
        os.close(root_fd)


def _open_parent(root_fd, rel):
    """``(fd, name)``: the directory of ``rel`` below ``root_fd``, reached without following links."""
    parts = _tree_parts(rel)
    fd = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(problem(rel, "a directory on its path is a symlink or not a directory"))
        raise
    return fd, parts[-1]


def read_in_tree(root, rel, limit=MAX_READ_BYTES):
    """``(data, fstat)`` of the regular file ``rel`` in the client folder ``root``.

    Refused (UnsafePath): a symlink anywhere on the way, a file that is not regular, one with
    several links (a hard link to a file elsewhere), or one over ``limit`` bytes.
    """
    path = os.path.join(root, rel)
    dir_fd, name = _parent_in_tree(root, rel)
    try:
        try:
            fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise UnsafePath(problem(path, "it is a symlink; not followed"))
            raise
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(problem(path, "it is %s (owned by %s), not a regular file; not read"
                                           % (kind_of(info.st_mode), user_name(info.st_uid))))
        if info.st_nlink > 1:
            raise UnsafePath(problem(path, "it has %d hard links; not read" % info.st_nlink))
        data = read_upto(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(path, "the file is %d bytes, more than the %d-byte limit" % (len(data), limit))
    return data, info


def write_in_tree(root, rel, data, mode=None, uid=None, gid=None):
    """Replace ``rel`` in the client folder ``root`` (see :func:`replace_in`), owner and mode kept."""
    dir_fd, name = _parent_in_tree(root, rel)
    try:
        replace_in(dir_fd, name, data, mode=mode, uid=uid, gid=gid)
    finally:
        os.close(dir_fd)


def walk_tree(root, skip_dirs=(), limit=2000):
    """The regular files below the client folder ``root``, as relative paths, walked through
    descriptors (links are not followed and not listed); at most ``limit`` files.

    Not :func:`os.fwalk`: it opens each subdirectory with plain ``O_RDONLY`` (CPython 3.11),
    following a link. In a folder another user owns, a directory swapped for a link to a FIFO
    between the listing and that open would block root (a device node: open it). Here every
    directory is opened with ``O_DIRECTORY | O_NOFOLLOW``.
    """
    found = []
    stack = [("", open_tree(root))]
    try:
        while stack:
            prefix, fd = stack.pop()
            try:
                for entry in sorted(os.listdir(fd)):
                    info = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                    rel = prefix + entry
                    if stat.S_ISDIR(info.st_mode):
                        if entry not in skip_dirs:
                            stack.append((rel + "/", os.open(entry, DIR_FLAGS, dir_fd=fd)))
                    elif stat.S_ISREG(info.st_mode):
                        found.append(rel)
                        if len(found) > limit:
                            raise UnsafePath(problem(root, "more than %d files; not a client folder" % limit))
            finally:
                os.close(fd)
    finally:
        for _prefix, fd in stack:
            os.close(fd)
    return sorted(found)


def fsync_dir(path):
    fd = open_dir(path)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_name(name, when=None):
    """The name of a backup copy of ``name`` (``<name>.<pid>.<stamp>~``)."""
    return "%s.%d.%s~" % (name, os.getpid(), time.strftime(BACKUP_STAMP, time.localtime(when)))


def is_backup_name(entry, name):
    """Whether ``entry`` is a backup copy of ``name`` by the collection's backup name."""
    return entry.startswith(name) and _BACKUP_TAIL.match(entry[len(name):]) is not None


def prune_backups(directory, name, keep):
    """Remove all but the newest ``keep`` backup copies of ``name`` in ``directory``.

    Only root's regular files named like a backup copy are touched. Never raises: returns the
    errors met, for the caller to report (a prune must not fail a change).
    """
    errors = []
    try:
        dir_fd = open_dir(directory)
    except OSError as err:
        return ["%s: %s" % (directory, err.strerror or err)]
    try:
        copies = []
        for entry in os.listdir(dir_fd):
            if not is_backup_name(entry, name):
                continue
            try:
                info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            except OSError as err:
                errors.append("%s: %s" % (os.path.join(directory, entry), err.strerror or err))
                continue
            if stat.S_ISREG(info.st_mode) and info.st_uid == 0:
                copies.append((info.st_mtime, entry))
        copies.sort()
        for _mtime, entry in copies[:max(0, len(copies) - keep)]:
            try:
                os.unlink(entry, dir_fd=dir_fd)
            except OSError as err:
                errors.append("%s: %s" % (os.path.join(directory, entry), err.strerror or err))
    except OSError as err:
        errors.append("%s: %s" % (directory, err.strerror or err))
    finally:
        os.close(dir_fd)
    return errors
