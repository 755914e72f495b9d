# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deadline for one step of a multi-step action (pure; no Ansible import).

A task's ``timeout`` ends the whole task; an action that runs several modules on a device (the
change, its confirmation, its revert) needs one deadline per module, so that a change that
never answers still gets reverted and reported by the same task.
"""

from __future__ import annotations

import contextlib
import signal
import time


class Deadline(Exception):
    """The step did not finish in time."""


@contextlib.contextmanager
def within(seconds, what="the step"):
    """Raise :class:`Deadline` in the block when it runs longer than ``seconds`` (no limit: None
    or 0). Restores the timer and handler it found, so an enclosing deadline keeps working."""
    if not seconds:
        yield
        return

    def expired(_signum, _frame):
        raise Deadline("%s did not finish within %s seconds" % (what, seconds))

    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    outer = signal.setitimer(signal.ITIMER_REAL, float(seconds))[0]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))
