# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device's ufw allow rules follow the services that move.

The services' own docs tell users to open a service's port with ``ufw allow PORT/tcp``. When
a service moves from P to Q on a device where ufw is active, every allow (or limit) rule whose
destination is exactly P, for TCP or any protocol, is added again with Q in P's place. The
rule for P is deleted only when no service names P after the move and no other program holds
it. A rule for P written as a range or a list (``11436:11440/tcp``) is listed for review,
unchanged.

ufw itself makes the changes (``ufw allow ...``, ``ufw delete allow ...``), so the live firewall
and its rule files stay in step. Its rule files (:data:`RULE_FILES`) are journaled with the
change's other files: a revert restores them byte for byte and reloads ufw; at boot, restoring
them before ufw starts is enough.

Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex
import stat

RULE_FILES = ("/etc/ufw/user.rules", "/etc/ufw/user6.rules")
# ENABLED=yes here is what `ufw enable` sets and what ufw reads at boot.
CONF = "/etc/ufw/ufw.conf"
# Where Debian and Raspberry Pi OS install ufw; root runs it only from a root-owned file there.
UFW_PATHS = ("/usr/sbin/ufw", "/sbin/ufw")
ACTIONS = ("allow", "limit")
_PORT = re.compile(r"\A([0-9]{1,5})(?:/(tcp|udp))?\Z")
_SEVERAL = re.compile(r"\A[0-9]{1,5}(?:[:,][0-9]{1,5})+(?:/(tcp|udp))?\Z")


class FirewallError(Exception):
    """ufw did not answer as expected, or refused a rule."""


def parse_rule(line):
    """One line of ``ufw show added`` as ``{text, args, index, port, ports}``, or None.

    ``args`` are the rule's words after ``ufw``; ``index`` is the word that holds the
    destination port (``11439/tcp``, or the value after ``to ADDR port``), ``port`` that port
    (None for a range or a list, whose ports are in ``ports``). Rules for UDP only, outgoing
    rules and rules of other actions (deny, reject) are None: they do not let a client in.
    """
    text = line.strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if len(words) < 3 or words[0] != "ufw" or words[1] not in ACTIONS:
        return None
    args = words[1:]
    rest = args[1:]
    if rest and rest[0] in ("in", "out"):
        if rest[0] == "out":
            return None
        rest = rest[1:]
    offset = len(args) - len(rest)
    index = None
    if rest and rest[0] not in ("from", "to", "on", "proto"):
        index = offset  # the simple form: ufw allow PORT[/PROTO]
    else:
        # The full form: ... to ADDR port PORT [proto P]; the port after ``from`` is the client's.
        clause = None
        for position, word in enumerate(rest):
            if word in ("from", "to"):
                clause = word
            elif word == "port" and clause == "to" and position + 1 < len(rest):
                index = offset + position + 1
        if index is not None and "proto" in rest:
            proto = rest[rest.index("proto") + 1] if rest.index("proto") + 1 < len(rest) else ""
            if proto == "udp":
                return None
    if index is None:
        return None
    spec = args[index]
    simple = _PORT.match(spec)
    if simple:
        if simple.group(2) == "udp":
            return None
        return {"text": text, "args": args, "index": index, "port": int(simple.group(1)), "ports": None}
    if _SEVERAL.match(spec):
        if spec.endswith("/udp"):
            return None
        bounds = [int(part) for part in re.split(r"[:,]", spec.split("/")[0])]
        ports = set(bounds)
        if ":" in spec:
            ports = set(range(min(bounds), max(bounds) + 1))
        return {"text": text, "args": args, "index": index, "port": None, "ports": ports}
    return None


def parse_added(text):
    """The allow rules of ``ufw show added``'s output, in its order."""
    rules = []
    for line in (text or "").splitlines():
        rule = parse_rule(line)
        if rule is not None:
            rules.append(rule)
    return rules


def _with_port(rule, port):
    args = list(rule["args"])
    spec = args[rule["index"]]
    args[rule["index"]] = str(port) + spec[len(spec.split("/")[0]):]
    return args


def command_text(args):
    """A rule as the user would type it (``ufw allow 11440/tcp``)."""
    return " ".join(["ufw"] + [shlex.quote(word) for word in args])


def plan(rules, moves, ports_after, held=None):
    """What the rules need: ``{add, delete, kept, review}``.

    :param rules: from :func:`parse_added`.
    :param moves: ``{service: (old port, new port)}`` of the services that move on the device.
    :param ports_after: the ports every service on the device names after the move.
    :param held: ``{port: holder}`` for ports another program holds now (not a moving service).

    ``add``: ``{args, rule, service, was}``, the rule again for the new port (none when that
    rule exists already). ``delete``: ``{args, rule, port}``. ``kept``: ``{rule, why}``, an old
    port's rule that stays. ``review``: ``{rule, why}``, a range or list that holds a moving
    old port, unchanged.
    """
    held = held or {}
    after = set(int(port) for port in ports_after)
    existing = set(tuple(rule["args"]) for rule in rules)
    result = {"add": [], "delete": [], "kept": [], "review": []}
    old_ports = {}
    for service in sorted(moves):
        old, new = (int(port) for port in moves[service])
        if old != new:
            old_ports.setdefault(old, []).append(service)
    for rule in rules:
        if rule["port"] is None:
            moving = sorted(port for port in rule["ports"] if port in old_ports)
            if moving:
                result["review"].append({"rule": rule["text"], "why": "a rule for several ports, among them %s, "
                                         "the old port of %s; not changed" % (
                                             ", ".join(str(port) for port in moving),
                                             ", ".join(service for port in moving for service in old_ports[port]))})
            continue
        if rule["port"] not in old_ports:
            continue
        for service in old_ports[rule["port"]]:
            args = _with_port(rule, int(moves[service][1]))
            if tuple(args) in existing:
                continue
            existing.add(tuple(args))
            result["add"].append({"args": args, "rule": command_text(args), "service": service,
                                  "was": rule["text"]})
        if rule["port"] in after:
            users = sorted(name for name, port in moves.items() if int(port[1]) == rule["port"])
            result["kept"].append({"rule": rule["text"], "why": "port %d is still a service's port%s" % (
                rule["port"], " (%s)" % ", ".join(users) if users else "")})
        elif rule["port"] in held:
            result["kept"].append({"rule": rule["text"], "why": "port %d is held by %s" % (
                rule["port"], held[rule["port"]])})
        else:
            result["delete"].append({"args": ["delete"] + rule["args"], "rule": rule["text"], "port": rule["port"]})
    return result


def rules_after(rules, planned):
    """The rule lines once ``planned`` is done (for a diff)."""
    deleted = set(item["rule"] for item in planned["delete"])
    lines = [rule["text"] for rule in rules if rule["text"] not in deleted]
    return lines + [item["rule"] for item in planned["add"]]


def enabled(conf_text):
    """Whether ufw.conf says ENABLED=yes (quotes and spaces allowed, as ufw reads it)."""
    for line in conf_text.splitlines():
        key, equals, value = line.strip().partition("=")
        if equals and key.strip() == "ENABLED":
            return value.strip().strip("'\"").lower() == "yes"
    return False


def status(run, ufw, conf_text=None):
    """``(active, rules)`` from ``ufw status`` and ``ufw show added``; ``run(argv) -> (rc, out, err)``.

    A ufw that its ``ufw.conf`` (``conf_text``) says is disabled is not asked: ``ufw status``
    needs the firewall's tables even then, which a device may not let it read.
    """
    if conf_text is not None and not enabled(conf_text):
        return False, []
    rc, out, err = run([ufw, "status"])
    if rc != 0:
        raise FirewallError("ufw status failed: %s" % (err or out).strip())
    first = out.strip().splitlines()[0] if out.strip() else ""
    active = first.strip().lower() == "status: active"
    rc, out, err = run([ufw, "show", "added"])
    if rc != 0:
        raise FirewallError("ufw show added failed: %s" % (err or out).strip())
    return active, parse_added(out)


def apply(run, ufw, planned):
    """Add, then delete, as planned; raise FirewallError on the first refusal (the journal has
    the rule files: the change's rollback puts them back)."""
    done = []
    for item in planned["add"] + planned["delete"]:
        rc, out, err = run([ufw] + list(item["args"]))
        if rc != 0:
            raise FirewallError("%s failed: %s" % (command_text(item["args"]), (err or out).strip()))
        done.append(command_text(item["args"]))
    return done


def find_ufw():
    """The ufw program, or None when it is not installed (or not root's to run)."""
    for path in UFW_PATHS:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return path
    return None


def reload(run, ufw):
    """Have ufw load its restored rule files (a no-op when ufw is not enabled)."""
    if ufw is None:
        return "ufw reload: ufw is no longer installed; its restored rule files load when it is"
    rc, out, err = run([ufw, "reload"])
    return None if rc == 0 else "ufw reload: %s" % (err or out).strip()
