# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find listening TCP sockets and systemd unit states on a Linux host, without ss/netstat.

Listening sockets come from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (state ``0A``).  A
socket's inode leads to the processes holding it through the ``socket:[inode]`` links in
``/proc/<pid>/fd``; the program is ``/proc/<pid>/comm`` and the systemd unit comes from
``/proc/<pid>/cgroup``.  Every function takes file contents or a ``proc_root`` so tests can
feed fabricated trees.

Also parses the output of one ``systemctl show --property=...`` call for many units.

Runs on the managed host: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import re
import sys

TCP_LISTEN = "0A"

SYSTEMCTL_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState",
                        "NRestarts", "MainPID")

_SOCKET_LINK = re.compile(r"\Asocket:\[([0-9]+)\]\Z")


def decode_address(hex_addr, byteorder=None):
    """Turn the hex address of ``/proc/net/tcp*`` into text.

    The kernel prints the address as 32-bit words in host byte order: 8 hex digits for
    IPv4, 32 for IPv6.  IPv4-mapped IPv6 addresses come out as ``::ffff:a.b.c.d``.
    """
    byteorder = byteorder or sys.byteorder
    if len(hex_addr) not in (8, 32):
        raise ValueError("unexpected address length: %r" % hex_addr)
    packed = b"".join(int(hex_addr[i:i + 8], 16).to_bytes(4, byteorder)
                      for i in range(0, len(hex_addr), 8))
    if len(packed) == 4:
        return str(ipaddress.IPv4Address(packed))
    address = ipaddress.IPv6Address(packed)
    if address.ipv4_mapped is not None:
        return "::ffff:%s" % address.ipv4_mapped
    return address.compressed


def parse_proc_net_tcp(text, family, byteorder=None):
    """Listening sockets in the contents of ``/proc/net/tcp`` or ``/proc/net/tcp6``.

    ``family`` is ``tcp`` or ``tcp6`` and is copied into each entry.  Returns a list of
    ``{address, port, family, inode}``; malformed lines are skipped.
    """
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3].upper() != TCP_LISTEN:
            continue
        addr, sep, port = fields[1].partition(":")
        try:
            entry = {
                "address": decode_address(addr, byteorder),
                "port": int(port, 16),
                "family": family,
                "inode": int(fields[9]),
            }
        except ValueError:
            continue
        if sep:
            found.append(entry)
    return found


def parse_cgroup(text):
    """The systemd service unit in the contents of ``/proc/<pid>/cgroup``, or None.

    Uses the cgroup v2 line (``0::/system.slice/x.service``) or, failing that, the v1
    ``name=systemd`` line, and returns the last path component that ends in ``.service``.
    """
    paths = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            paths.setdefault("v2", path)
        elif "name=systemd" in controllers.split(","):
            paths.setdefault("v1", path)
    for key in ("v2", "v1"):
        units = [part for part in paths.get(key, "").split("/") if part.endswith(".service")]
        if units:
            return units[-1]
    return None


def _read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def socket_owners(proc_root="/proc", inodes=None):
    """Map socket inode -> sorted list of pids holding it, from ``<proc_root>/<pid>/fd``.

    With ``inodes``, only those inodes are collected.  Processes that vanish or cannot be
    read are skipped.
    """
    owners = {}
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return owners
    for name in entries:
        if not name.isdigit():
            continue
        fd_dir = os.path.join(proc_root, name, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            match = _SOCKET_LINK.match(target)
            if not match:
                continue
            inode = int(match.group(1))
            if inodes is None or inode in inodes:
                owners.setdefault(inode, set()).add(int(name))
    return dict((inode, sorted(pids)) for inode, pids in owners.items())


def process_info(pid, proc_root="/proc"):
    """``(program, unit)`` of a process: its ``comm`` and its systemd service unit or None."""
    comm = _read_text(os.path.join(proc_root, str(pid), "comm"))
    cgroup = _read_text(os.path.join(proc_root, str(pid), "cgroup"))
    program = comm.strip() if comm and comm.strip() else None
    return program, (parse_cgroup(cgroup) if cgroup else None)


def read_listeners(proc_root="/proc", byteorder=None):
    """All listening TCP sockets with their owning process.

    Returns a list sorted by port, family and address of
    ``{port, address, family, pid, pids, program, unit}``.  When several processes hold the
    socket (forked workers, socket activation) ``pid`` is the lowest one that runs in a
    service unit, else the lowest; ``pids`` lists them all.  Unknown owners give None.
    """
    sockets = []
    for family, name in (("tcp", "tcp"), ("tcp6", "tcp6")):
        text = _read_text(os.path.join(proc_root, "net", name))
        if text is not None:
            sockets.extend(parse_proc_net_tcp(text, family, byteorder))
    owners = socket_owners(proc_root, set(s["inode"] for s in sockets)) if sockets else {}

    info = {}
    listeners = []
    for sock in sockets:
        pids = owners.get(sock["inode"], [])
        for pid in pids:
            if pid not in info:
                info[pid] = process_info(pid, proc_root)
        with_unit = [pid for pid in pids if info[pid][1]]
        pid = (with_unit or pids or [None])[0]
        program, unit = info[pid] if pid is not None else (None, None)
        listeners.append({
            "port": sock["port"],
            "address": sock["address"],
            "family": sock["family"],
            "pid": pid,
            "pids": pids,
            "program": program,
            "unit": unit,
        })
    listeners.sort(key=lambda item: (item["port"], item["family"], item["address"]))
    return listeners


def summarize_listeners(listeners, managed_units):
    """``(in_use, port_owners)`` for a list from read_listeners.

    ``in_use`` is the sorted list of listening ports held by anything that is not one of
    ``managed_units`` (unit names such as ``hailo-ocr.service``), including sockets whose
    owner is unknown.  ``port_owners`` maps the port (as a string) to the unit, else the
    program, else ``unknown``; several different owners are joined with ``, ``.
    """
    managed = set(managed_units)
    in_use = set()
    owners = {}
    for item in listeners:
        if item.get("unit") not in managed:
            in_use.add(item["port"])
        owner = item.get("unit") or item.get("program") or "unknown"
        names = owners.setdefault(str(item["port"]), [])
        if owner not in names:
            names.append(owner)
    return sorted(in_use), dict((port, ", ".join(names)) for port, names in owners.items())


def systemctl_show_args(units):
    """The arguments after ``systemctl`` for one ``show`` call covering all ``units``."""
    return ["show", "--property=" + ",".join(SYSTEMCTL_PROPERTIES), "--"] + list(units)


def parse_systemctl_show(text):
    """Split ``systemctl show`` output into a list of ``{property: value}`` blocks.

    Blocks are separated by blank lines, one per unit, in the order the units were given.
    """
    blocks = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value
    if current:
        blocks.append(current)
    return blocks


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def unknown_unit_state():
    """Unit state when systemd could not be asked."""
    return {
        "known": False,
        "exists": None,
        "load_state": None,
        "active": None,
        "sub_state": None,
        "enabled": None,
        "n_restarts": None,
        "main_pid": None,
    }


def unit_states(text, units):
    """Map each unit name in ``units`` to its state from one ``systemctl show`` output.

    Blocks are matched by their ``Id`` and, when a unit is an alias reported under another
    Id, by position.  Units without a block get the unknown state.  Empty strings become
    None; ``exists`` is False only for ``LoadState=not-found``; ``main_pid`` 0 is None.
    """
    blocks = parse_systemctl_show(text)
    by_id = dict((block.get("Id"), block) for block in blocks)
    states = {}
    for index, unit in enumerate(units):
        block = by_id.get(unit)
        if block is None and len(blocks) == len(units):
            block = blocks[index]
        if block is None:
            states[unit] = unknown_unit_state()
            continue
        load_state = block.get("LoadState") or None
        states[unit] = {
            "known": True,
            "exists": None if load_state is None else load_state != "not-found",
            "load_state": load_state,
            "active": block.get("ActiveState") or None,
            "sub_state": block.get("SubState") or None,
            "enabled": block.get("UnitFileState") or None,
            "n_restarts": _int_or_none(block.get("NRestarts")),
            "main_pid": _int_or_none(block.get("MainPID")) or None,
        }
    return states
