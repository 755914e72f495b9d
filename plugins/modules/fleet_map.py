#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_map
short_description: Internal step, not for direct use (hailo.services.reconcile role - computes the fleet map)
version_added: 0.1.0
description:
  - The first play of a fleet rollout, in one task on the controller. It never connects to a
    device.
  - Reads each listed host's Discovery (the M(hailo.services.discover) result the role
    registers as C(__reconcile_discovery)) and merges what the devices run into one engine
    input; a device that could not be discovered is recorded as skipped, with the reason.
  - Computes the fleet's port map with the engine (the C(hailo.services.reconcile_ports)
    filter), checks the canary batches O(serial), and works out the moves for the services'
    source tree.
  - With O(plan_file), the saved plan's map replaces the computed one, so that exactly the
    reviewed plan is applied.
  - Returns the FleetMap as the fact C(reconcile_fleet_map); run it with C(run_once),
    C(delegate_to=localhost) and C(delegate_facts) to keep it on the controller.
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - hailo.services.controller
  - hailo.services.controller.facts
options:
  hosts:
    description: The devices of the rollout.
    type: list
    elements: str
    required: true
  outside:
    description:
      - The loop results of the read-only discovery of the group's devices outside C(--limit)
        (each with its C(item)). They lend their services to the map and are never changed.
    type: list
    elements: dict
    default: []
  catalog:
    description: The service catalog (name to its settings).
    type: dict
    required: true
  ranges:
    description: The port ranges of the engine; empty means its own.
    type: list
    elements: raw
  reserved:
    description: Ports the engine never assigns.
    type: list
    elements: int
    default: []
  scope:
    description: C(fleet) (one map for every device) or C(host) (a map per device).
    type: str
    choices: [fleet, host]
    default: fleet
  serial:
    description:
      - The canary batches, as a user types them (C(1), C('25%'), a list, or the text of a
        list). Returned checked as C(serial).
    type: raw
    required: true
  plan_file:
    description:
      - A saved plan (JSON, from C(playbooks/plan.yml)) to apply instead of the computed map.
      - A relative path is taken from the directory ansible-playbook was started in, as
        C(reconcile_plan_out) is when the plan is written.
    type: str
    default: ""
seealso:
  - module: hailo.services.device_change
"""

EXAMPLES = r"""
- name: Compute the fleet map from every device's services
  hailo.services.fleet_map:
    hosts: "{{ ansible_play_hosts_all }}"
    catalog: "{{ my_catalog }}"
    serial: [1, "25%", "100%"]
  run_once: true  # the fact is then set on every device of the play
"""

RETURN = r"""
ansible_facts:
  description: The FleetMap, set on every device of the play (the task runs once).
  returned: success
  type: complex
  contains:
    reconcile_fleet_map:
      description:
        - C(services) (the engine's input), C(in_use), C(hosts), C(skipped), C(disagreements),
          C(preview), C(scope), C(hosts_all), C(outside_limit), C(serial), C(port_map) (the
          engine's output), C(saved) (with O(plan_file)), C(source_moves) and C(table) (the
          map as lines to show).
      type: dict
      returned: success
"""
