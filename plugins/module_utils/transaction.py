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

Standard library only, no Ansible imports: the module writes this file next to the journal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    from ansible_collections.hailo.services.plugins.module_utils import port_order
except ImportError:  # run as the device's revert script: the module installs port_order.py next to it
    import port_order

JOURNAL = "journal.json"
LAST_REVERT = "last-revert.json"
LOCK = "lock"
SAVED = "saved"
SCRIPT = "revert.py"
TIMER_PREFIX = "hailo-services-revert"
VERSION = 1


class JournalError(Exception):
    """The journal cannot be written or read; nothing of the change was written yet."""


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data, mode=None, uid=None, gid=None):
    """Replace ``path`` (a real path) with ``data`` in one rename, keeping or setting mode and owner.

    Raises OSError (for example EPERM when the target is immutable); the old file is then intact.
    """
    directory = os.path.dirname(path) or "."
    try:
        st = os.stat(path)
    except OSError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        mode = (st.st_mode & 0o7777) if mode is None and st is not None else mode
        uid = st.st_uid if uid is None and st is not None else uid
        gid = st.st_gid if gid is None and st is not None else gid
        if mode is not None:
            os.chmod(tmp, mode)
        if uid is not None and gid is not None:
            os.chown(tmp, uid, gid)
        os.rename(tmp, path)
        fsync_dir(directory)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def lock(journal_dir):
    """Take the journal's lock (blocking); close the returned descriptor to release it."""
    fd = os.open(os.path.join(journal_dir, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def read_json(path):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            return None
        raise JournalError("cannot read %s: %s" % (path, err.strerror or err))
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
    the change is written: whatever dies after this returns, the journal can restore.
    """
    saved_dir = os.path.join(journal_dir, SAVED)
    if os.path.isdir(saved_dir):
        shutil.rmtree(saved_dir)
    os.makedirs(saved_dir, 0o700)
    files = []
    for index, path in enumerate(paths):
        entry = {"path": path, "existed": os.path.lexists(path)}
        if entry["existed"]:
            st = os.stat(path)
            with open(path, "rb") as handle:
                data = handle.read()
            saved = os.path.join(SAVED, "%d" % index)
            write_atomic(os.path.join(journal_dir, saved), data, mode=0o600, uid=0, gid=0)
            entry.update(saved=saved, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid, size=len(data))
        files.append(entry)
    journal = dict(meta, version=VERSION, id=change_id, files=files, stage="saved",
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


def _restore(entry, journal_dir):
    path = entry["path"]
    if entry["existed"]:
        with open(os.path.join(journal_dir, entry["saved"]), "rb") as handle:
            data = handle.read()
        try:
            with open(path, "rb") as handle:
                if handle.read() == data and (os.stat(path).st_mode & 0o7777) == entry["mode"]:
                    return False
        except (IOError, OSError):
            pass
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
            if _restore(entry, journal_dir):
                report["restored"].append(entry["path"])
        except (IOError, OSError) as err:
            report["errors"].append("%s: %s" % (entry["path"], err.strerror or err))
    if journal.get("units_changed"):
        rc, out = _systemctl("daemon-reload")
        if rc != 0:
            report["errors"].append("systemctl daemon-reload: %s" % out)
    again = list(journal.get("rollback_restart") or [])
    if again:
        _systemctl("reset-failed", "--", *[name + ".service" for name in again])
    if journal.get("ports_before") is None:
        # A journal of a release before port_order: restart in order, as that release did.
        for name in again:
            _systemctl("restart", name + ".service")
            report["restarted"].append(name)
    else:
        # Start order alone does not decide who binds a shared port first: each port's keeper
        # must be listening before a service that wants the same port starts.
        started = port_order.start_keepers_first(
            again, journal["ports_before"], journal.get("keepers") or {}, _systemctl,
            float(journal.get("health_timeout") or port_order.DEFAULT_TIMEOUT))
        report.update(restarted=started["restarted"], keepers=started["keepers"],
                      unbound=started["unbound"], held_back=started["held_back"])
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
