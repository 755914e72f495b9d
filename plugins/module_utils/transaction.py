# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of a change to a device's service files, and its revert.

A change (module ``port_transaction``) first saves the original bytes, mode and owner of every
file it will write (by real path, so a symlinked config is restored behind its link), then
writes. Until the controller confirms, a transient systemd timer on the device runs this very
file as a script (``python3 revert.py <journal_dir> --timer``): it restores the journal when the
confirmation is late, so a device whose controller or Wi-Fi dies mid-change returns to its old
files and services by itself.

Standard library only, no Ansible imports: the module writes this file next to the journal,
with ``safe_files.py`` (every read and write of a file goes through it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time

try:
    from ansible_collections.hailo.services.plugins.module_utils import safe_files
except ImportError:  # the revert script on the device: safe_files.py sits next to it
    import safe_files

JOURNAL = "journal.json"
LAST_REVERT = "last-revert.json"
LOCK = "lock"
SAVED = "saved"
SAFE_FILES = "safe_files.py"  # the revert script's copy of module_utils/safe_files.py
_SAVED_NAME = re.compile(r"\Asaved/[0-9]+\Z")
SCRIPT = "revert.py"
TIMER_PREFIX = "hailo-services-revert"
VERSION = 1


class JournalError(Exception):
    """The journal cannot be written or read; nothing of the change was written yet."""


def fsync_dir(path):
    safe_files.fsync_dir(path)


def write_atomic(path, data, mode=None, uid=None, gid=None):
    """Replace ``path`` (a real path) with ``data`` in one rename, keeping or setting mode and owner.

    Written through descriptors (``safe_files.write_file``): a symlink or other non-regular
    file at ``path`` is refused, never followed. Raises OSError (for example EPERM when the
    target is immutable); the old file is then intact.
    """
    safe_files.write_file(path, data, mode=mode, uid=uid, gid=gid)


def lock(journal_dir):
    """Take the journal's lock (blocking); close the returned descriptor to release it."""
    fd = os.open(os.path.join(journal_dir, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def read_json(path):
    try:
        data = safe_files.read_or_none(path)
    except (IOError, OSError) as err:
        raise JournalError("cannot read %s: %s" % (path, err.strerror or err))
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as err:
        raise JournalError("%s is not valid JSON: %s" % (path, err))


def write_json(path, data):
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"), mode=0o600, uid=0, gid=0)


def load(journal_dir):
    """The unfinished change in ``journal_dir``, or None."""
    return read_json(os.path.join(journal_dir, JOURNAL))


def save(journal_dir, journal):
    write_json(os.path.join(journal_dir, JOURNAL), journal)


def last_revert(journal_dir):
    """What the last revert did (kept until a later change reads it), or None."""
    return read_json(os.path.join(journal_dir, LAST_REVERT))


def forget_last_revert(journal_dir):
    path = os.path.join(journal_dir, LAST_REVERT)
    if os.path.lexists(path):
        os.unlink(path)


def begin(journal_dir, change_id, paths, meta):
    """Save the original of every path (a real path) and write the journal; return it.

    Each original is fsynced before the journal names it, and the journal before any file of
    the change is written: whatever dies after this returns, the journal can restore. The
    journal directory must be root's all the way up, each path absolute and normalised, and
    each original a regular file (read without following a link or blocking); otherwise
    JournalError, before anything is written.
    """
    try:
        safe_files.check_journal_dir(journal_dir)
    except OSError as err:
        raise JournalError(str(err))
    for path in paths:
        if not _plain_path(path):
            raise JournalError("refused to journal %r: not an absolute, normalised path" % (path,))
    saved_dir = os.path.join(journal_dir, SAVED)
    if os.path.isdir(saved_dir) and not os.path.islink(saved_dir):
        shutil.rmtree(saved_dir)
    elif os.path.lexists(saved_dir):
        os.unlink(saved_dir)
    os.makedirs(saved_dir, 0o700)
    files = []
    for index, path in enumerate(paths):
        entry = {"path": path, "existed": os.path.lexists(path)}
        if entry["existed"]:
            try:
                data, st = safe_files.read_regular(path)
            except OSError as err:
                raise JournalError("cannot journal %s: %s" % (path, err.strerror or err))
            saved = "%s/%d" % (SAVED, index)  # a plain generated name, inside the journal
            write_atomic(os.path.join(journal_dir, saved), data, mode=0o600, uid=0, gid=0)
            entry.update(saved=saved, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid, size=len(data))
        files.append(entry)
    journal = dict(meta, version=VERSION, id=change_id, files=files, declared=list(paths), stage="saved",
                   started=time.time())
    save(journal_dir, journal)
    return journal


def finish(journal_dir):
    """Forget the change: remove the journal and the saved originals."""
    path = os.path.join(journal_dir, JOURNAL)
    if os.path.lexists(path):
        os.unlink(path)
    shutil.rmtree(os.path.join(journal_dir, SAVED), ignore_errors=True)
    fsync_dir(journal_dir)


def _systemctl(*args):
    proc = subprocess.run(["systemctl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()


def timer_unit(journal):
    return "%s-%s" % (TIMER_PREFIX, journal["id"])


def arm(journal_dir, journal, seconds, python=None):
    """Start a transient timer that runs the revert script after ``seconds`` unless disarmed."""
    script = os.path.join(journal_dir, SCRIPT)
    rc, out = _systemd_run(timer_unit(journal), seconds, [python or sys.executable, script, journal_dir, "--timer"])
    if rc != 0:
        raise JournalError("cannot arm the revert timer: %s" % out)


def _systemd_run(unit, seconds, argv):
    proc = subprocess.run(
        ["systemd-run", "--unit=" + unit, "--on-active=%ds" % max(1, int(seconds + 0.999)),
         "--timer-property=AccuracySec=1s", "--description=hailo.services: revert an unconfirmed port change",
         "--"] + argv,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()


def disarm(journal):
    """Stop the change's revert timers (gone already is fine)."""
    units = [timer_unit(journal)] + ["%s-%d" % (timer_unit(journal), n) for n in range(1, journal.get("rearmed", 0) + 1)]
    _systemctl("stop", "--", *[unit + ".timer" for unit in units])


def _plain_path(path):
    return isinstance(path, str) and os.path.isabs(path) and os.path.normpath(path) == path


def _saved_data(entry, journal_dir):
    """The saved original of ``entry``: a plain generated name whose file is inside the journal."""
    saved = entry.get("saved")
    if not isinstance(saved, str) or not _SAVED_NAME.match(saved):
        raise safe_files.UnsafePath("refused: the saved original %r is not a name the journal gives" % (saved,))
    full = os.path.join(journal_dir, saved)
    inside = os.path.join(os.path.realpath(journal_dir), SAVED)
    if os.path.realpath(os.path.dirname(full)) != inside:
        raise safe_files.UnsafePath("refused: the saved original %s is not inside the journal %s"
                                    % (full, journal_dir))
    data, st = safe_files.read_regular(full, limit=max(int(entry.get("size") or 0), safe_files.MAX_READ_BYTES))
    if st.st_uid != 0 and os.geteuid() == 0:
        raise safe_files.UnsafePath("refused: the saved original %s is owned by %s"
                                    % (full, safe_files.user_name(st.st_uid)))
    return data


def _restore(entry, journal_dir, declared=None):
    """Put one file back; True when something was written or removed.

    An entry is trusted only for an absolute, normalised path that the change declared
    (``declared``; None for a journal written before it was recorded) and a saved original
    inside the journal; otherwise OSError (UnsafePath) and nothing is touched.
    """
    path = entry.get("path")
    if not _plain_path(path):
        raise safe_files.UnsafePath("refused: %r is not an absolute, normalised path" % (path,))
    if declared is not None and path not in declared:
        raise safe_files.UnsafePath("refused: %s was not declared by the change" % path)
    if entry["existed"]:
        data = _saved_data(entry, journal_dir)
        try:
            current, st = safe_files.read_regular(path, limit=len(data))
            if current == data and (st.st_mode & 0o7777) == entry["mode"]:
                return False
        except (IOError, OSError):
            pass
        safe_files.check_dir(os.path.dirname(path))  # a directory another user can write is refused
        write_atomic(path, data, mode=entry["mode"], uid=entry["uid"], gid=entry["gid"])
        return True
    if os.path.lexists(path):
        os.unlink(path)
        return True
    return False


def revert(journal_dir, journal, reason):
    """Put the device back as the journal found it; return what was done.

    The services the change restarted are stopped first (a moved one must give its new port
    back), then every file is restored byte for byte, systemd reloads its units, the services
    that ran before start again in ``rollback_restart`` order and the rest stay stopped. The
    journal is removed only when every file came back; otherwise it stays, marked, for the
    next run to report.
    """
    report = {"id": journal.get("id"), "reason": reason, "stage": journal.get("stage"),
              "started": journal.get("started"), "restored": [], "errors": [], "restarted": [],
              "stopped": []}
    touched = list(journal.get("restart") or []) + [s for s in journal.get("stop_first") or []
                                                    if s not in (journal.get("restart") or [])]
    if touched:
        _systemctl("stop", "--", *[name + ".service" for name in touched])
    for entry in journal.get("files") or []:
        try:
            if _restore(entry, journal_dir, journal.get("declared")):
                report["restored"].append(entry["path"])
        except (IOError, OSError) as err:
            report["errors"].append("%s: %s" % (entry.get("path"), err.strerror or err))
    if journal.get("units_changed"):
        rc, out = _systemctl("daemon-reload")
        if rc != 0:
            report["errors"].append("systemctl daemon-reload: %s" % out)
    again = list(journal.get("rollback_restart") or [])
    if again:
        _systemctl("reset-failed", "--", *[name + ".service" for name in again])
    for name in again:
        rc, out = _systemctl("restart", name + ".service")
        report["restarted"].append(name)
    stop = list(journal.get("rollback_stop") or [])
    if stop:
        _systemctl("stop", "--", *[name + ".service" for name in stop])
        report["stopped"] = stop
    report["reverted"] = time.time()
    write_json(os.path.join(journal_dir, LAST_REVERT), report)
    if report["errors"]:
        journal["stage"] = "revert_failed"
        journal["revert_errors"] = report["errors"]
        save(journal_dir, journal)
    else:
        finish(journal_dir)
    return report


def timer_fired(journal_dir):
    """Entry point of the revert timer: revert unless confirmed, or re-arm when it fired early."""
    fd = lock(journal_dir)
    try:
        journal = load(journal_dir)
        if journal is None or journal.get("stage") == "revert_failed":
            return 0
        left = float(journal.get("confirm_by") or 0) - time.time()
        if left > 0:
            # Still within the change's own time: the module extends confirm_by as it goes.
            journal["rearmed"] = journal.get("rearmed", 0) + 1
            rc, out = _systemd_run("%s-%d" % (timer_unit(journal), journal["rearmed"]), left,
                                   [sys.executable, os.path.join(journal_dir, SCRIPT), journal_dir, "--timer"])
            save(journal_dir, journal)
            return 0 if rc == 0 else 1
        revert(journal_dir, journal, "not confirmed within %d s" % int(journal.get("confirm_timeout") or 0))
        return 0
    finally:
        os.close(fd)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[1] != "--timer":
        sys.stderr.write("usage: %s JOURNAL_DIR --timer\n" % os.path.basename(sys.argv[0]))
        return 2
    return timer_fired(argv[0])


if __name__ == "__main__":
    raise SystemExit(main())
