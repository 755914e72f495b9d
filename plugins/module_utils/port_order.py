# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who binds a port first: each port's keeper, then the services that want it too.

Restart order alone does not decide who binds a port first. ``systemctl restart`` of a
``Type=simple`` unit returns as soon as the process is forked, so on a loaded device the service
started second can bind before the first one gets there. Two uses, one rule: start a service
only once the port it wants is where it should be, and watch the listener (its cgroup, read
from ``/proc``) rather than trusting the order.

- The rollback (:func:`start_keepers_first`): on a port that several services want, the keeper
  (the service whose unit held the port when the change began, :func:`find_keepers`) starts
  first; the others start only once the keeper's own unit listens there. A keeper that does not
  bind within the deadline is reported, and the services waiting for its port stay stopped.
- The way forward (:func:`clear_port`): a service starts only once no other program holds its
  new port.

A listener source is a callable returning ``listeners.read_listeners()``-shaped entries; a
systemctl is a callable ``(*args) -> (rc, output)``. Both are passed in, so the logic can be
tested without a device.

Standard library only: the device's revert script (``transaction.py`` run by a timer) uses it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.hailo.services.plugins.module_utils.health import (
    describe_holders,
    foreign_holders,
    port_holders,
    service_unit,
)
from ansible_collections.hailo.services.plugins.module_utils.listeners import read_listeners

DEFAULT_INTERVAL = 0.25
# Seconds a rollback waits for keepers when its journal names no health deadline.
DEFAULT_TIMEOUT = 90.0


def find_keepers(ports, listeners):
    """``{"<port>": name}``: for each service of ``ports`` (``{name: port}``), its port when
    the service's own unit listens there now. Read before a change stops anything."""
    keepers = {}
    for name in sorted(ports):
        port = ports[name]
        on_port = port_holders(listeners, port)
        if on_port and not foreign_holders(on_port, port, service_unit(name)):
            keepers["%d" % port] = name
    return keepers


def _poll(test, deadline, listeners, interval, clock, sleep):
    """Read the listeners until ``test(listeners)`` is true or ``deadline`` passes; return the
    last reading."""
    while True:
        found = listeners()
        if test(found) or clock() >= deadline:
            return found
        sleep(max(min(interval, deadline - clock()), 0))


def bound_by(listeners, port, unit):
    """True when ``unit`` listens on ``port`` and nothing else does."""
    on_port = port_holders(listeners, port)
    return bool(on_port) and not foreign_holders(on_port, port, unit)


def clear_port(name, port, later, systemctl, deadline, listeners=read_listeners,
               interval=DEFAULT_INTERVAL, clock=time.monotonic, sleep=time.sleep):
    """Wait until no program but ``name``'s own unit holds ``port``; return the holders left
    (empty: the port is clear).

    A holder that is one of ``later`` (services this change restarts after ``name``, on their
    new files) is stopped first: it would give the port up only when its own turn comes.
    """
    unit = service_unit(name)
    held = foreign_holders(listeners(), port, unit)
    if not held:
        return []  # the common case: one reading of /proc
    stop = [other for other in later if any(item.get("unit") == service_unit(other) for item in held)]
    if stop:
        systemctl("stop", "--", *[service_unit(other) for other in stop])
    found = _poll(lambda current: not foreign_holders(current, port, unit), deadline,
                  listeners, interval, clock, sleep)
    return foreign_holders(found, port, unit)


def start_keepers_first(names, ports, keepers, systemctl, timeout, listeners=read_listeners,
                        interval=DEFAULT_INTERVAL, clock=time.monotonic, sleep=time.sleep):
    """(Re)start ``names`` so that each port goes back to its keeper; return what was done.

    ``names``: the services to start, in order. ``ports``: ``{name: port}`` the services will
    use. ``keepers``: :func:`find_keepers` of the device before the change. A service whose port
    has a keeper among ``names`` (not itself) waits until that keeper's unit listens there,
    within ``timeout`` seconds of the call; every other service starts in order at once.

    Returns ``{"restarted": [names], "keepers": {"<port>": name}, "unbound": [{name, port,
    holder}], "held_back": [{name, port, keeper}], "failed": [{name, error}]}``: the keepers
    waited for, the ones that did not bind (``holder``: who holds the port instead, or None)
    and the services left stopped because of that.
    """
    deadline = clock() + timeout
    wanted = set(names)
    report = {"restarted": [], "keepers": {}, "unbound": [], "held_back": [], "failed": []}
    waiting = {}  # port -> names waiting for its keeper, in order

    def start(name):
        rc, out = systemctl("restart", service_unit(name))
        if rc != 0:
            report["failed"].append({"name": name, "error": out})
        report["restarted"].append(name)

    for name in names:
        port = ports.get(name)
        keeper = keepers.get("%d" % port) if port is not None else None
        if keeper is not None and keeper != name and keeper in wanted:
            waiting.setdefault(port, []).append(name)
        else:
            start(name)
    for port in waiting:
        report["keepers"]["%d" % port] = keepers["%d" % port]

    # One deadline for every keeper; each port's waiters start as soon as its keeper binds.
    pending = dict(waiting)
    while pending:
        found = listeners()
        for port in sorted(pending):
            if bound_by(found, port, service_unit(keepers["%d" % port])):
                for name in pending.pop(port):
                    start(name)
        if not pending or clock() >= deadline:
            break
        sleep(max(min(interval, deadline - clock()), 0))
    found = listeners() if pending else []
    for port in sorted(pending):
        keeper = keepers["%d" % port]
        holders = foreign_holders(found, port, service_unit(keeper))
        report["unbound"].append({"name": keeper, "port": port,
                                  "holder": describe_holders(holders) if holders else None})
        report["held_back"].extend({"name": name, "port": port, "keeper": keeper} for name in pending[port])
    return report


def describe_unbound(report):
    """What :func:`start_keepers_first` could not do, as one clause, or None."""
    if not report.get("unbound"):
        return None
    parts = []
    for item in report["unbound"]:
        held = [entry["name"] for entry in report.get("held_back") or () if entry["port"] == item["port"]]
        parts.append("%s did not bind %d in time%s%s" % (
            item["name"], item["port"],
            " (held by %s)" % item["holder"] if item.get("holder") else "",
            "; %s left stopped" % ", ".join(held) if held else ""))
    return "; ".join(parts)
