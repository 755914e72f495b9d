# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conflict-free port maps for the Hailo services: the pure policy engine.

No Ansible import here, so the policy can be tested (and reasoned about) on its own; the
filter ``hailo.services.reconcile_ports`` only wraps :func:`reconcile` and converts
:class:`PortPolicyError` into ``AnsibleFilterError``. The keys it reads (``port``, ``frozen``,
``priority``) are checked as the catalog's description (``catalog.KEYS``) says.

Policy, in order:

1. A service alone on a free port keeps it.
2. On a shared port one service wins: the frozen one, else the highest ``priority``, else the
   alphabetically first name. The others lose.
3. A service on a reserved or in-use port loses too (a frozen one there is an error).
4. Losers are placed one at a time in alphabetical order of name, each on the first free port
   above its current port within its range, wrapping to the range start. Ports that are kept,
   already placed, reserved or in use are skipped.
"""

from __future__ import annotations

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import (
    CHECKS,
    KEYS,
    MAX_PORT,
    MIN_PORT,
    name_problem,
)

BLOCK_SIZE = 100

# The catalog's description of the keys the engine uses: their checks and defaults.
_port_problem = CHECKS["port"]
_frozen_problem = CHECKS["frozen"]
_priority_problem = CHECKS["priority"]
_FROZEN_DEFAULT = KEYS["frozen"]["default"]
_PRIORITY_DEFAULT = KEYS["priority"]["default"]


class PortPolicyError(ValueError):
    """Input the policy cannot honour; the message names the culprit."""


# --------------------------------------------------------------------------- input


def _check_port(value, what):
    problem = _port_problem(value)
    if problem:
        raise PortPolicyError("%s: %s" % (what, problem))
    return value


def _normalise_services(services):
    """Return ``{name: {port, frozen, priority}}`` from dict or list input."""
    if isinstance(services, dict):
        items = list(services.items())
    elif isinstance(services, (list, tuple)):
        items = []
        seen = set()
        for index, entry in enumerate(services):
            if not isinstance(entry, dict) or "name" not in entry:
                raise PortPolicyError(
                    "service #%d in the list has no 'name' (got %r)" % (index, entry)
                )
            name = entry["name"]
            if name in seen:
                raise PortPolicyError("duplicate service name %r in the list" % (name,))
            seen.add(name)
            items.append((name, entry))
    else:
        raise PortPolicyError(
            "services must be a dict keyed by service name or a list of dicts with 'name', "
            "got %s" % type(services).__name__
        )

    result = {}
    for name, spec in items:
        problem = name_problem(name)
        if problem:
            raise PortPolicyError(problem)
        if not isinstance(spec, dict):
            raise PortPolicyError(
                "service %s: settings must be a dict with at least 'port', got %r" % (name, spec)
            )
        if "port" not in spec:
            raise PortPolicyError("service %s: no 'port' given" % name)
        port = spec["port"]
        frozen = spec.get("frozen", _FROZEN_DEFAULT)
        priority = spec.get("priority", _PRIORITY_DEFAULT)
        problem = _port_problem(port) or _frozen_problem(frozen) or _priority_problem(priority)
        if problem:
            raise PortPolicyError("service %s: %s" % (name, problem))
        result[name] = {"port": port, "frozen": frozen, "priority": priority}
    return result


def _normalise_ranges(ranges, services):
    """Return sorted ``[(start, end)]``; by default the block of 100 around each port."""
    if ranges is None:
        blocks = {(s["port"] // BLOCK_SIZE) * BLOCK_SIZE for s in services.values()}
        return sorted((max(MIN_PORT, b), min(MAX_PORT, b + BLOCK_SIZE - 1)) for b in blocks)
    if not isinstance(ranges, (list, tuple)):
        raise PortPolicyError("ranges must be a list of {start, end}, got %r" % (ranges,))
    result = []
    for index, item in enumerate(ranges):
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise PortPolicyError("range #%d must be a dict with start and end, got %r" % (index, item))
        start = _check_port(item["start"], "range #%d start" % index)
        end = _check_port(item["end"], "range #%d end" % index)
        if start > end:
            raise PortPolicyError("range #%d: start %d is above end %d" % (index, start, end))
        result.append((start, end))
    result.sort()
    for (s1, e1), (s2, e2) in zip(result, result[1:]):
        if s2 <= e1:
            raise PortPolicyError("ranges %d-%d and %d-%d overlap" % (s1, e1, s2, e2))
    return result


def _normalise_ports(ports, what):
    if ports is None:
        return frozenset()
    if not isinstance(ports, (list, tuple, set, frozenset)):
        raise PortPolicyError("%s must be a list of ports, got %r" % (what, ports))
    return frozenset(_check_port(p, what) for p in ports)


def _range_of(port, ranges, starts):
    """The range holding ``port`` (binary search over sorted, disjoint ranges)."""
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= port:
            lo = mid + 1
        else:
            hi = mid
    if lo and ranges[lo - 1][1] >= port:
        return ranges[lo - 1]
    return None


# --------------------------------------------------------------------------- placement


class _FreePorts:
    """Finds the first free port at or above a port inside one range.

    A union-find over port numbers: each taken port points past itself, so every lookup is
    close to constant time however crowded the range gets (the engine stays O(n log n)).
    """

    def __init__(self, start, end, taken):
        self.start = start
        self.end = end
        self._taken = taken
        self._next = {}

    def _find(self, port):
        path = []
        while port <= self.end and (port in self._taken or port in self._next):
            path.append(port)
            port = self._next.get(port, port + 1)
        for visited in path:
            self._next[visited] = port
        return port

    def first_free_after(self, port):
        """First free port above ``port``, wrapping to the range start; None if full."""
        found = self._find(port + 1)
        if found > self.end:
            found = self._find(self.start)
            if found > self.end or found >= port:
                return None
        return found

    def take(self, port):
        self._next[port] = port + 1


# --------------------------------------------------------------------------- ordering


def move_order(changes):
    """Changed services ordered so nobody starts on a port another one still holds.

    A service moving to port P waits for the changed service currently on P to move away.
    Ties are broken alphabetically; a cycle (only possible with hand-made input) falls back
    to alphabetical order for the services caught in it.
    """
    holder = {}
    for change in changes:
        holder.setdefault(change["from"], []).append(change["service"])
    waits_for = {c["service"]: set() for c in changes}
    for change in changes:
        for other in holder.get(change["to"], ()):
            if other != change["service"]:
                waits_for[change["service"]].add(other)
    order = []
    done = set()
    remaining = sorted(waits_for)
    while remaining:
        ready = [s for s in remaining if waits_for[s] <= done]
        if not ready:
            ready = remaining[:1]
        for name in ready:
            order.append(name)
            done.add(name)
        remaining = [s for s in remaining if s not in done]
    return order


# --------------------------------------------------------------------------- the three phases


def _ranges(specs, range_list):
    """Phase 1, ranges: the range each service may use, the one holding its current port."""
    starts = [r[0] for r in range_list]
    service_range = {}
    for name in sorted(specs):
        port = specs[name]["port"]
        found = _range_of(port, range_list, starts)
        if found is None:
            raise PortPolicyError(
                "service %s: port %d is outside every given range (%s)"
                % (name, port, ", ".join("%d-%d" % r for r in range_list))
            )
        service_range[name] = found
    return service_range


def _winners(specs, reserved_ports, in_use_ports):
    """Phase 2, winners: who keeps a contested port (frozen, else priority, else the
    alphabetically first), and why each other service must move.

    :returns: ``(kept, losers)``: name -> the port it keeps, and name -> the reason it moves.
    """
    by_port = {}
    for name in sorted(specs):
        by_port.setdefault(specs[name]["port"], []).append(name)

    kept = {}
    losers = {}
    for port in sorted(by_port):
        names = by_port[port]
        frozen = [n for n in names if specs[n]["frozen"]]
        blocked_by = (
            "reserved" if port in reserved_ports
            else "in use by another program" if port in in_use_ports
            else None
        )
        if blocked_by:
            if frozen:
                raise PortPolicyError(
                    "frozen service %s is on port %d, which is %s: unfreeze it or free the port"
                    % (frozen[0], port, blocked_by)
                )
            for name in names:
                losers[name] = "port %d is %s" % (port, blocked_by)
            continue
        if len(frozen) > 1:
            raise PortPolicyError(
                "frozen services %s both hold port %d: at most one frozen service per port"
                % (" and ".join(frozen), port)
            )
        if len(names) == 1:
            kept[names[0]] = port
            continue
        if frozen:
            winner = frozen[0]
            why = "frozen %s" % winner
        else:
            top = max(specs[n]["priority"] for n in names)
            contenders = [n for n in names if specs[n]["priority"] == top]
            winner = contenders[0]  # names are sorted, so this is the alphabetically first
            if len(contenders) > 1:
                why = "%s (alphabetically first)" % winner
            else:
                why = "%s (priority %d)" % (winner, top)
        kept[winner] = port
        for name in names:
            if name != winner:
                losers[name] = "shared %d with %s" % (port, why)
    return kept, losers


def _placement(specs, service_range, kept, losers, blocked):
    """Phase 3, placement: each loser, alphabetically, on the first free port after its own in
    its range (wrapping), skipping ``blocked`` ports; then the order to restart them in.

    :returns: the engine's result (``ports``, ``changes``, ``restart_order``).
    """
    ports = dict(kept)
    taken = set(ports.values()) | blocked
    free = {}
    changes = []
    for name in sorted(losers):
        old = specs[name]["port"]
        block = service_range[name]
        if block not in free:
            free[block] = _FreePorts(block[0], block[1], taken)
        new = free[block].first_free_after(old)
        if new is None:
            raise PortPolicyError(
                "service %s must leave port %d but range %d-%d has no free port left"
                % (name, old, block[0], block[1])
            )
        taken.add(new)
        free[block].take(new)
        ports[name] = new
        changes.append({
            "service": name,
            "from": old,
            "to": new,
            "reason": "%s; %d is the first free port after it in %d-%d"
                      % (losers[name], new, block[0], block[1]),
        })
    return {
        "ports": dict(sorted(ports.items())),
        "changes": changes,
        "restart_order": move_order(changes),
    }


# --------------------------------------------------------------------------- engine


def reconcile(services, ranges=None, reserved=None, in_use=None):
    """Compute a conflict-free port map.

    :param services: ``{name: {port, frozen=False, priority=0, ...}}`` or a list of dicts
        with ``name``. Keys the engine does not use are ignored.
    :param ranges: list of ``{start, end}`` (inclusive); default: for each port, its block of 100.
    :param reserved: ports no service may take.
    :param in_use: ports held by other programs.
    :returns: ``{"ports": {name: port}, "changes": [{service, from, to, reason}],
        "restart_order": [name, ...]}``
    :raises PortPolicyError: on bad input or an impossible placement, naming the culprit.

    After the input is checked, three phases: ranges (where each service may go), winners (who
    keeps a contested port) and placement (where each loser goes, and the restart order).
    """
    specs = _normalise_services(services)
    range_list = _normalise_ranges(ranges, specs)
    reserved_ports = _normalise_ports(reserved, "reserved")
    in_use_ports = _normalise_ports(in_use, "in_use")

    service_range = _ranges(specs, range_list)
    kept, losers = _winners(specs, reserved_ports, in_use_ports)
    return _placement(specs, service_range, kept, losers, reserved_ports | in_use_ports)
