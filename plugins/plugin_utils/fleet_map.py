# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FleetMap, worked out on the controller in one call (pure; no Ansible import).

The first play of a rollout discovers every device; this turns what they run into ONE port
map (the engine over the union of their services), the canary batches, the saved plan when
one is applied, and the moves for the services' source tree.
"""

from __future__ import annotations

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import fleet_merge, fleet_serial, source_moves
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile
from ansible_collections.hailo.services.plugins.plugin_utils.port_report import port_table
from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import check_plan


def fleet_map(discovered, catalog, hosts_all, outside=None, ranges=None, reserved=(), scope="fleet",
              serial=None, saved=None):
    """The FleetMap every device's rollout reads.

    :param discovered: host -> its ``service_info`` result (or a failed/unreachable one, or None).
    :param outside: the same for the group's devices outside ``--limit``: they lend their
        services to the map and are never changed.
    :param saved: a saved plan's document (``playbooks/plan.yml``): its map replaces the one
        computed here, so that exactly the reviewed plan is applied.
    :returns: ``fleet_merge``'s result with ``scope``, ``hosts_all``, ``outside_limit``,
        ``serial`` (the checked batches), ``port_map`` (the engine's output), ``saved`` (when
        given), ``source_moves`` and ``table`` (the map shown to the user, as lines).
    """
    outside = outside or {}
    batches = fleet_serial(serial)
    merged = fleet_merge(dict(discovered, **outside), catalog)
    fleet = dict(merged, scope=scope, hosts_all=list(hosts_all), outside_limit=sorted(outside), serial=batches)
    fleet["port_map"] = reconcile(merged["services"], ranges=ranges or None, reserved=reserved,
                                  in_use=merged["in_use"])
    if saved is not None:
        saved = check_plan(saved)
        fleet["port_map"] = {"ports": saved["fleet_map"], "changes": saved["changes"],
                             "restart_order": saved["restart_order"]}
        fleet["saved"] = saved
    fleet["source_moves"] = source_moves(catalog, fleet["port_map"])
    skipped = ", skipped: %s" % ", ".join(sorted(merged["skipped"])) if merged["skipped"] else ""
    fleet["table"] = (["Fleet map (%d device(s) discovered%s):" % (len(merged["hosts"]), skipped)]
                      + port_table(fleet["port_map"], merged["services"]).splitlines())
    return fleet
