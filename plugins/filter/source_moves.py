# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: source_moves
short_description: The port moves to migrate in the services' source tree, from the fleet map
version_added: 0.1.0
author: hailo.services maintainers
description:
  - For each service of the fleet map whose catalog C(port) (the port its source tree names,
    as before reconciliation) differs from its port in the map, a move for
    M(hailo.services.port_references).
  - Worked out from the fleet map, not from one device, so a service the first device does not
    run, or a fleet already on the map, still gets its references migrated.
positional: _input, plan
options:
  _input:
    description: The service catalog (name to settings with C(port)).
    type: dict
    required: true
  plan:
    description: The fleet map (P(hailo.services.reconcile_ports#filter) output, C(ports) used).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Migrate the source tree to the fleet map
  ansible.builtin.include_role:
    name: hailo.services.source_tree
  vars:
    source_tree_moves: "{{ catalog | hailo.services.source_moves(fleet_plan.plan) }}"
"""

RETURN = r"""
_value:
  description: The moves, sorted by service.
  type: list
  elements: dict
  sample: [{"service": "hailo-depth", "from": 11436, "to": 11439, "reason": "fleet map: hailo-depth moves from 11436 to 11439"}]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import source_moves as _source_moves


def source_moves(catalog, plan):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _source_moves(catalog, plan)
    except (AttributeError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("source_moves: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"source_moves": source_moves}
