#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: device_change
short_description: Internal step, not for direct use (hailo.services.reconcile role - works out one device's change)
version_added: 0.1.0
description:
  - The plan step of the C(hailo.services.reconcile) role (discover, plan, apply, verify), in
    one task that returns the device's DeviceChange. It runs on the controller and never
    connects to the device.
  - From the device's discovery (M(hailo.services.service_info)) and the catalog it works out
    the device's port map (the fleet map cut down to the device, or a map of its own), the
    units and template-mode configs to render (with the role's templates), the hand-tuned
    values and unit directives a render would change that the inventory does not set, the
    steps per service, and the arguments of the device's one M(hailo.services.port_transaction).
  - A device that must not be touched is data in the result, not a failed task. RV(failure)
    says why (its discovery failed or it was unreachable, or it drifted from a saved plan,
    naming the drift). M(hailo.services.apply_change) then fails the device with that message.
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - hailo.services.controller
  - hailo.services.controller.facts
options:
  discovery:
    description: The device's Discovery (M(hailo.services.discover)'s result).
    type: dict
    required: true
  catalog:
    description: The service catalog (name to its settings), as the role merges it.
    type: dict
    required: true
  fleet_map:
    description:
      - The fleet's map (the C(port_map) of the fact C(reconcile_fleet_map) that
        M(hailo.services.fleet_map) sets), only that part, so that each device's step stays as
        cheap however large the fleet. Without it, the device gets a map of its own.
    type: dict
  saved_plan:
    description:
      - Whether a saved plan is applied (C(reconcile_plan_file)); the device is then checked
        for drift against O(saved_device).
    type: bool
    default: false
  saved_device:
    description: The saved plan's entry for this device (null when the plan does not cover it).
    type: dict
  scope:
    description: C(fleet) uses the fleet map; C(host) computes a map per device.
    type: str
    choices: [fleet, host]
    default: fleet
  ranges:
    description: The port ranges of the engine (the C(hailo.services.reconcile_ports) filter); empty means its own.
    type: list
    elements: raw
  reserved:
    description: Ports the engine never assigns.
    type: list
    elements: int
    default: []
  json_readers:
    description: The services that read their JSON copy at run time.
    type: list
    elements: str
    default: []
  unit_settings:
    description: Unit directives set for every service (section to directive to value).
    type: dict
    default: {}
  unit_template:
    description: The role template a unit is rendered with.
    type: str
    default: hailo.service.j2
  unit_dir:
    description: Where the units live on the device.
    type: str
    default: /etc/systemd/system
  config_defaults:
    description: The built-in settings of each service kind, for template mode.
    type: dict
    default: {}
  config_settings:
    description: Per-service settings that override the catalog's.
    type: dict
    default: {}
  config_mode:
    description: C(edit) changes the port in place; C(template) renders the whole config.
    type: str
    choices: [edit, template]
    default: edit
  config_template_dir:
    description: The role templates directory of the configs (C(<kind>.yaml.j2), C(generic.yaml.j2)).
    type: str
    default: config
  config_force:
    description: Render template-mode configs even when that changes hand-tuned values.
    type: bool
    default: false
  unit_force:
    description: Render units even when that drops or changes directives the inventory does not set.
    type: bool
    default: false
  plan_file:
    description: The saved plan's file, named in the drift message.
    type: str
seealso:
  - module: hailo.services.fleet_map
  - module: hailo.services.port_transaction
"""

EXAMPLES = r"""
- name: Work out the device's change
  hailo.services.device_change:
    discovery: "{{ discovered }}"
    catalog: "{{ my_catalog }}"
  register: device

- name: Apply it
  hailo.services.port_transaction:
    files: "{{ device.actions.files }}"
    restart: "{{ device.actions.restart }}"
    health: "{{ device.actions.health }}"
"""

RETURN = r"""
noop:
  description:
    - Whether the device has nothing to do - nothing to write, stop, restart or rewrite, no
      change left by a dead run, and every service that should run answered its one probe in
      the discovery - so that it gets no transaction.
  returned: success
  type: bool
failure:
  description: Why the device must not be touched (C(msg), C(unreachable)), or null.
  returned: success
  type: dict
ansible_facts:
  description: The device's port map, as the fact C(reconcile_port_map) (the same as RV(port_map)).
  returned: success
  type: complex
  contains:
    reconcile_port_map:
      description: The engine's output for this device.
      type: dict
      returned: success
port_map:
  description: The engine's output for this device (C(ports), C(changes), C(restart_order)).
  returned: success
  type: dict
current:
  description: The engine's input for this device (the catalog's policy with the device's ports).
  returned: success
  type: dict
table:
  description: The port map as lines to show; empty when the fleet play showed the fleet's.
  returned: success
  type: list
  elements: str
steps:
  description: One entry per service on the device, with its old and new port and what it needs.
  returned: success
  type: list
  elements: dict
actions:
  description: The arguments of the device's M(hailo.services.port_transaction).
  returned: success
  type: dict
config_changes:
  description: The hand-tuned values a template-mode render would change.
  returned: success
  type: list
  elements: str
unit_refusals:
  description: The unit directives a render would drop or change that the inventory does not set.
  returned: success
  type: list
  elements: str
refusal:
  description: Why the change is refused (the first of the two above, unless forced), or an empty string.
  returned: success
  type: str
health:
  description: The health checks of the device as it is, as M(hailo.services.health_check) takes them.
  returned: success
  type: list
  elements: dict
"""
