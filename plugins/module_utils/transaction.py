# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal of a change to a device's service files, its revert, and the device's lease.

A change (module ``port_transaction``) first saves the original bytes, mode and owner of every
file it will write (by real path, so a symlinked config is restored behind its link), then
writes. Until the controller confirms, two things on the device can restore the journal:

* a transient systemd timer (``port-reconcile-revert-<id>.timer``) that runs
  ``python3 <journal_dir>/revert.py <journal_dir> --timer`` when the confirmation is late, so a
  device whose controller or Wi-Fi dies mid-change returns to its old files and services;
* a persistent unit (``port-reconcile-boot.service``, ordered before ``sysinit.target`` and so
  before every service) that runs ``revert.py <journal_dir> --boot`` early in boot: a transient
  timer does not survive a power cut, and an unconfirmed change must not either. At boot only
  files are restored; the services then start on their old files by themselves.

No unit the collection creates is named ``hailo-*``: today's installs let the web portal's user
start and stop any unit of that name with sudo.

The lease (``lease.json``) names the run that is changing the device and when that claim
expires, so that a second run neither plans from a change in flight nor reverts it.

Standard library only, no Ansible imports: ``revert.py`` imports this file from a copy of the
collection's module_utils that the module keeps inside the journal directory (with
``safe_files``, through which every read and write of a file goes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time

from ansible_collections.hailo.services.plugins.module_utils import firewall, port_order, safe_files

JOURNAL = "journal.json"
LAST_REVERT = "last-revert.json"
LEASE = "lease.json"
LOCK = "lock"
SAVED = "saved"
_SAVED_NAME = re.compile(r"\Asaved/[0-9]+\Z")
SCRIPT = "revert.py"
LIBRARY = "lib"
TIMER_PREFIX = "port-reconcile-revert"
# The timers of the first release; a journal it left is still disarmed by their names.
LEGACY_TIMER_PREFIXES = ("hailo-services-revert",)
BOOT_UNIT = "port-reconcile-boot.service"
UNIT_DIR = "/etc/systemd/system"
PACKAGE = "ansible_collections.hailo.services.plugins.module_utils"
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


def lock(journal_dir, wait=True):
    """Take the journal's lock; close the returned descriptor to release it.

    With ``wait=False`` return None at once when another process holds it.
    """
    fd = os.open(os.path.join(journal_dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (IOError, OSError) as err:
        os.close(fd)
        if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return fd


class LeaseHeld(Exception):
    """Another run holds the device's lease; ``lease`` says which and until when."""

    def __init__(self, lease):
        Exception.__init__(self, describe_lease(lease))
        self.lease = lease


def describe_lease(lease):
    """``run R (controller C), whose claim expires at 2026-12-05 18:40:00 UTC (in 120 s)``."""
    expires = float(lease.get("expires") or 0)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires))
    left = int(expires - time.time())
    when = ("in %d s" % left) if left >= 0 else ("%d s ago" % -left)
    controller = (" (%s)" % lease["controller"]) if lease.get("controller") else ""
    return "run %s%s, whose claim expires at %s (%s)" % (lease.get("holder") or "?", controller, stamp, when)


def read_lease(journal_dir):
    """The device's lease, or None (none taken, or released)."""
    return read_json(os.path.join(journal_dir, LEASE))


def lease_alive(lease, now=None):
    return bool(lease) and float(lease.get("expires") or 0) > (time.time() if now is None else now)


def held_by_other(lease, holder, now=None):
    """Whether ``lease`` is alive and belongs to a run other than ``holder``."""
    return lease_alive(lease, now) and lease.get("holder") != holder


def write_lease(journal_dir, holder, expires, controller=None):
    lease = {"holder": holder, "expires": float(expires), "taken": time.time()}
    if controller:
        lease["controller"] = controller
    write_json(os.path.join(journal_dir, LEASE), lease)
    return lease


def take_lease(journal_dir, holder, seconds, wait=0.0, controller=None, interval=1.0):
    """Claim the device for run ``holder`` for ``seconds``; wait up to ``wait`` s for a live lease.

    Takes the journal lock only briefly and never blocks on it longer than ``wait``: a change
    in flight holds that lock for its whole length. Returns ``(lease, waited_seconds)``;
    raises LeaseHeld when another run still holds the device at the end of the wait.
    """
    start = time.time()
    while True:
        fd = lock(journal_dir, wait=False)
        lease = None
        if fd is not None:
            try:
                lease = read_lease(journal_dir)
                if not held_by_other(lease, holder):
                    taken = write_lease(journal_dir, holder, time.time() + seconds, controller)
                    return taken, round(time.time() - start, 1)
            finally:
                os.close(fd)
        waited = time.time() - start
        if waited >= wait:
            if lease is None:  # the lock was busy all along: a change is in flight under it
                lease = read_lease(journal_dir) or {"holder": "unknown (the journal lock is held)",
                                                    "expires": time.time()}
            raise LeaseHeld(lease)
        time.sleep(min(interval, max(0.05, wait - waited)))


def release_lease(journal_dir, holder):
    """Drop the lease if ``holder`` holds it (call with the journal lock held); True if dropped."""
    lease = read_lease(journal_dir)
    if lease is None or lease.get("holder") != holder:
        return False
    os.unlink(os.path.join(journal_dir, LEASE))
    fsync_dir(journal_dir)
    return True


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


def begin(journal_dir, change_id, paths, meta, trees=None):
    """Save the original of every path (a real path) and write the journal; return it.

    Each original is fsynced before the journal names it, and the journal before any file of
    the change is written: whatever dies after this returns, the journal can restore. The
    journal directory must be root's all the way up, each path absolute and normalised, and
    each original a regular file (read without following a link or blocking); otherwise
    JournalError, before anything is written. ``trees`` maps the paths that lie in a client's
    folder (another user's) to ``(folder, path inside it)``: those are read and restored
    through the folder's descriptor.
    """
    trees = trees or {}
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
                if path in trees:
                    entry.update(tree=trees[path][0], rel=trees[path][1])
                    data, st = safe_files.read_in_tree(trees[path][0], trees[path][1])
                else:
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


class NotConfirmed(Exception):
    """The change to confirm is not the device's pending change; ``rollback`` is what the
    device's own revert of it did, when that is why."""

    def __init__(self, message, rollback=None):
        super(NotConfirmed, self).__init__(message)
        self.rollback = rollback


def confirm(journal_dir, change_id, lease_holder=None, check_mode=False):
    """Confirm change ``change_id``: disarm its revert timer, forget its journal and drop the
    lease of ``lease_holder``. Returns ``{changed, msg, lease_released}``; raises NotConfirmed
    when another change, or none, is pending (nothing is confirmed then).

    One implementation for both ways in: the module (``state=confirmed``) and ``revert.py
    JOURNAL_DIR --confirm ID [HOLDER]``, which the controller runs as one command after the
    change, without a second module on the device.
    """
    if not os.path.isdir(journal_dir):
        raise NotConfirmed("change %s is not pending: the device holds no change" % change_id)
    fd = lock(journal_dir)
    try:
        journal = load(journal_dir)
        if journal is None or journal.get("id") != change_id:
            gone = last_revert(journal_dir) or {}
            if gone.get("id") == change_id:
                raise NotConfirmed("change %s was reverted by the device before it was confirmed (%s)"
                                   % (change_id, gone.get("reason")), rollback=gone)
            pending = ("the pending change is %s" % journal.get("id")) if journal else "no change is pending"
            raise NotConfirmed("change %s is not this device's pending change (%s); nothing was confirmed"
                               % (change_id, pending))
        if check_mode:
            return {"changed": True, "lease_released": False}
        disarm(journal)
        finish(journal_dir)
        released = bool(lease_holder) and release_lease(journal_dir, lease_holder)
        return {"changed": True, "msg": "change %s confirmed" % change_id, "lease_released": released}
    finally:
        os.close(fd)


def finish(journal_dir):
    """Forget the change: remove the journal and the saved originals."""
    path = os.path.join(journal_dir, JOURNAL)
    if os.path.lexists(path):
        os.unlink(path)
    shutil.rmtree(os.path.join(journal_dir, SAVED), ignore_errors=True)
    fsync_dir(journal_dir)


def _run(argv):
    """``(rc, stdout, stderr)`` of a command, as AnsibleModule.run_command gives them."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def _systemctl(*args):
    proc = subprocess.run(["systemctl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()


def timer_unit(journal, prefix=TIMER_PREFIX):
    return "%s-%s" % (prefix, journal["id"])


def _timer_argv(journal_dir, python=None):
    return [python or sys.executable, os.path.join(journal_dir, SCRIPT), journal_dir, "--timer"]


def arm(journal_dir, journal, seconds, python=None):
    """Start a transient timer that runs the revert script after ``seconds`` unless disarmed."""
    rc, out = _systemd_run(timer_unit(journal), seconds, _timer_argv(journal_dir, python))
    if rc != 0:
        raise JournalError("cannot arm the revert timer: %s" % out)


def rearm(journal_dir, journal, seconds):
    """Replace the change's revert timer by one that fires ``seconds`` from now.

    Once the change is applied the confirmation window starts: the device reverts
    ``confirm_timeout`` seconds after that, not after the longest the change could have taken.
    """
    previous = _timer_units(journal)
    journal["rearmed"] = journal.get("rearmed", 0) + 1
    rc, out = _systemd_run("%s-%d" % (timer_unit(journal), journal["rearmed"]), seconds,
                           _timer_argv(journal_dir))
    if rc != 0:
        raise JournalError("cannot arm the revert timer: %s" % out)
    _systemctl("stop", "--", *[unit + ".timer" for unit in previous])


def _systemd_run(unit, seconds, argv):
    proc = subprocess.run(
        ["systemd-run", "--unit=" + unit, "--on-active=%ds" % max(1, int(seconds + 0.999)),
         "--timer-property=AccuracySec=1s", "--description=hailo.services: revert an unconfirmed port change",
         "--"] + argv,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()


def _timer_units(journal):
    units = []
    for prefix in (TIMER_PREFIX,) + LEGACY_TIMER_PREFIXES:
        base = timer_unit(journal, prefix)
        units += [base] + ["%s-%d" % (base, n) for n in range(1, journal.get("rearmed", 0) + 1)]
    return units


def disarm(journal):
    """Stop the change's revert timers, today's and the first release's names (gone already is fine)."""
    _systemctl("stop", "--", *[unit + ".timer" for unit in _timer_units(journal)])


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
    if entry.get("tree") is not None:
        return _restore_in_tree(entry, journal_dir, path)
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


def _restore_in_tree(entry, journal_dir, path):
    """Put back a file of a client's folder, which its own user owns, through the folder's
    descriptor (see :func:`safe_files.write_in_tree`)."""
    tree, rel = entry.get("tree"), entry.get("rel")
    if not _plain_path(tree) or not isinstance(rel, str) or os.path.join(tree, rel) != path:
        raise safe_files.UnsafePath("refused: %s is not inside its client folder %r" % (path, tree))
    data = _saved_data(entry, journal_dir)
    try:
        current, st = safe_files.read_in_tree(tree, rel, limit=len(data))
        if current == data and (st.st_mode & 0o7777) == entry["mode"]:
            return False
    except (IOError, OSError):
        pass
    safe_files.write_in_tree(tree, rel, data, mode=entry["mode"], uid=entry["uid"], gid=entry["gid"])
    return True


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
    if journal.get("firewall_changed"):
        # ufw changed its rule files and the live firewall: have it load the restored files.
        error = firewall.reload(_run, firewall.find_ufw())
        if error:
            report["errors"].append(error)
        else:
            report["firewall_reloaded"] = True
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
    _record_revert(journal_dir, journal, report)
    return report


def _record_revert(journal_dir, journal, report):
    """Keep what a revert did for the next run; forget the change unless a file did not come back."""
    report["reverted"] = time.time()
    write_json(os.path.join(journal_dir, LAST_REVERT), report)
    if report["errors"]:
        journal["stage"] = "revert_failed"
        journal["revert_errors"] = report["errors"]
        save(journal_dir, journal)
    else:
        finish(journal_dir)


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
                                   _timer_argv(journal_dir))
            save(journal_dir, journal)
            return 0 if rc == 0 else 1
        revert(journal_dir, journal, "not confirmed within %d s" % int(journal.get("confirm_timeout") or 0))
        _end_claim_of(journal_dir, journal)
        return 0
    finally:
        os.close(fd)


def _end_claim_of(journal_dir, journal):
    """The device reverted a change by itself: the run that made it no longer holds the device.

    Its claim protected a change in flight; there is none now (its late confirmation fails,
    naming the revert), and the next run must not wait for a dead run's claim to expire.
    """
    if journal.get("holder"):
        try:
            release_lease(journal_dir, journal["holder"])
        except (IOError, OSError, JournalError):
            pass  # the claim then ends at its expiry


def boot_revert(journal_dir):
    """Entry point of the boot unit: restore an unconfirmed change's files before any service starts.

    Files only: no service is started or stopped this early; they start on their restored
    files by themselves. A file that cannot be restored leaves the journal (stage
    ``revert_failed``) for the next run to report, and the remaining files are still restored.
    """
    fd = lock(journal_dir)
    try:
        journal = load(journal_dir)
        if journal is None or journal.get("stage") == "revert_failed":
            return 0
        report = {"id": journal.get("id"), "stage": journal.get("stage"), "started": journal.get("started"),
                  "reason": "the device restarted (power loss or reboot) before the change was confirmed; "
                            "reverted at boot, before the services started",
                  "restored": [], "errors": [], "restarted": [], "stopped": [], "at_boot": True}
        for entry in journal.get("files") or []:
            try:
                if _restore(entry, journal_dir, journal.get("declared")):
                    report["restored"].append(entry["path"])
            except (IOError, OSError, ValueError, KeyError) as err:
                report["errors"].append("%s: %s" % (entry.get("path"), getattr(err, "strerror", None) or err))
        if journal.get("units_changed") and report["restored"]:
            # systemd read the units before this ran: have it read the restored ones.
            rc, out = _systemctl("daemon-reload")
            if rc != 0:
                report["errors"].append("systemctl daemon-reload: %s" % out)
        _record_revert(journal_dir, journal, report)
        _end_claim_of(journal_dir, journal)
        return 1 if report["errors"] else 0
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- on the device
# What the module installs: a copy of the collection's module_utils inside the journal
# directory (root's, mode 0700), a launcher script for the timers and the boot unit, and the
# boot unit itself.

LAUNCHER = """#!%(python)s
# Installed by hailo.services (module port_transaction). Reverts an unconfirmed port change:
#   revert.py JOURNAL_DIR --timer   the change's revert timer fired
#   revert.py JOURNAL_DIR --boot    early in boot, before any service starts (files only)
# or confirms it, which ends its revert:
#   revert.py JOURNAL_DIR --confirm ID [LEASE_HOLDER]   the controller saw the change through
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), %(library)r))
from ansible_collections.hailo.services.plugins.module_utils import transaction

sys.exit(transaction.main())
"""


def boot_unit_text(journal_dir, python):
    """The persistent unit that reverts a leftover journal at boot, before ``sysinit.target``."""
    script = os.path.join(journal_dir, SCRIPT)
    return (
        "# Installed by hailo.services (module port_transaction); remove with playbooks/remove.yml.\n"
        "# At boot, before any service starts, restore the files of a port change that was never\n"
        "# confirmed (the power was cut or the device rebooted mid-change).\n"
        "[Unit]\n"
        "Description=hailo.services: revert an unconfirmed port change at boot\n"
        "DefaultDependencies=no\n"
        "After=local-fs.target\n"
        # ufw loads its rule files early too (DefaultDependencies=no): after their restore.
        "Before=sysinit.target ufw.service shutdown.target\n"
        "Conflicts=shutdown.target\n"
        "RequiresMountsFor=%(dir)s /etc\n"
        "ConditionPathExists=%(journal)s\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=%(python)s %(script)s %(dir)s --boot\n"
        "\n"
        "[Install]\n"
        "WantedBy=sysinit.target\n"
    ) % {"dir": journal_dir, "journal": os.path.join(journal_dir, JOURNAL), "python": python,
         "script": script}


def _read_if_exists(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def install(journal_dir, sources, python=None, unit_dir=UNIT_DIR):
    """Put the revert script and the boot unit on the device; return True if the unit changed.

    ``sources``: ``{module_name: source_text}`` of the module_utils the revert needs (the
    module passes the ones it imported). Files that are already as wanted are left alone.
    """
    python = python or sys.executable
    package_dir = os.path.join(journal_dir, LIBRARY, *PACKAGE.split("."))
    parts = [journal_dir, LIBRARY] + PACKAGE.split(".")
    for depth in range(2, len(parts) + 1):
        directory = os.path.join(*parts[:depth])
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o700)
        if depth > 2:
            init = os.path.join(directory, "__init__.py")
            if not os.path.exists(init):
                write_atomic(init, b"", mode=0o600, uid=0, gid=0)
    for name, text in sorted(sources.items()):
        path = os.path.join(package_dir, name + ".py")
        data = text.encode("utf-8")
        if _read_if_exists(path) != data:
            write_atomic(path, data, mode=0o600, uid=0, gid=0)
    launcher = (LAUNCHER % {"python": python, "library": LIBRARY}).encode("utf-8")
    script = os.path.join(journal_dir, SCRIPT)
    if _read_if_exists(script) != launcher:
        write_atomic(script, launcher, mode=0o700, uid=0, gid=0)
    unit_path = os.path.join(unit_dir, BOOT_UNIT)
    unit = boot_unit_text(journal_dir, python).encode("utf-8")
    changed = _read_if_exists(unit_path) != unit
    if changed:
        if not os.path.isdir(unit_dir):
            os.makedirs(unit_dir, 0o755)
        write_atomic(unit_path, unit, mode=0o644, uid=0, gid=0)
    # Enabled as `systemctl enable` does it, by its WantedBy= link: what the next boot reads.
    wants = os.path.join(unit_dir, "sysinit.target.wants")
    link = os.path.join(wants, BOOT_UNIT)
    if not os.path.isdir(wants):
        os.mkdir(wants, 0o755)
    if os.path.islink(link) and os.readlink(link) != unit_path:
        os.unlink(link)
    if not os.path.lexists(link):
        os.symlink(unit_path, link)
        changed = True
    if changed:
        fsync_dir(wants)
        fsync_dir(unit_dir)
        _systemctl("daemon-reload")  # for `systemctl status`; the boot reads the files anyway
    return changed


def uninstall(journal_dir, unit_dir=UNIT_DIR):
    """Remove what :func:`install` and the changes left: the boot unit and the journal directory.

    Refuses (JournalError) while a change is unconfirmed or a lease is alive. Returns the paths
    removed.
    """
    removed = []
    if os.path.isdir(journal_dir):
        fd = lock(journal_dir)
        try:
            journal = load(journal_dir)
            if journal is not None:
                raise JournalError("change %s (stage %s) is not confirmed yet: revert it first (state=reverted)"
                                   % (journal.get("id"), journal.get("stage")))
            lease = read_lease(journal_dir)
            if lease_alive(lease):
                raise JournalError("the device is held by %s" % describe_lease(lease))
        finally:
            os.close(fd)
    unit_path = os.path.join(unit_dir, BOOT_UNIT)
    for path in (os.path.join(unit_dir, "sysinit.target.wants", BOOT_UNIT), unit_path):
        if os.path.lexists(path):
            os.unlink(path)
            removed.append(path)
    if removed:
        _systemctl("daemon-reload")
    if os.path.isdir(journal_dir):
        shutil.rmtree(journal_dir)
        removed.append(journal_dir)
    return removed


def confirm_command(journal_dir, change_id, lease_holder=None):
    """The confirmation as one command (for ``revert.py``), printing its result as JSON: the
    controller confirms a change without sending a second module to the device. Exit status 1
    when nothing was confirmed."""
    try:
        safe_files.check_journal_dir(journal_dir)  # as the module checks it before any lock
        result = confirm(journal_dir, change_id, lease_holder)
    except NotConfirmed as err:
        result = {"failed": True, "msg": str(err), "lease_released": False}
        if err.rollback:
            result["rollback"] = err.rollback
    except (IOError, OSError, JournalError) as err:
        result = {"failed": True, "msg": "change %s: %s; nothing was confirmed"
                  % (change_id, getattr(err, "strerror", None) or err), "lease_released": False}
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 1 if result.get("failed") else 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    confirming = len(argv) in (3, 4) and argv[1] == "--confirm"
    if not confirming and (len(argv) != 2 or argv[1] not in ("--timer", "--boot")):
        sys.stderr.write("usage: %s JOURNAL_DIR --timer|--boot|--confirm ID [LEASE_HOLDER]\n"
                         % os.path.basename(sys.argv[0]))
        return 2
    if not os.path.isabs(argv[0]):
        sys.stderr.write("JOURNAL_DIR must be absolute: %s\n" % argv[0])
        return 2
    if confirming:
        return confirm_command(argv[0], argv[2], argv[3] if len(argv) == 4 else None)
    if argv[1] == "--boot":
        return boot_revert(argv[0])
    return timer_fired(argv[0])


if __name__ == "__main__":
    raise SystemExit(main())
