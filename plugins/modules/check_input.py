#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: check_input
short_description: Internal step, not for direct use (hailo.services.reconcile playbook - checks its variables)
version_added: 0.1.0
description:
  - An internal step of C(playbooks/reconcile.yml) (its first play), not for direct use.
  - Runs on the controller; never connects to a device.
  - Checks the variables of every device of the fleet group that start with a role's prefix
    (C(reconcile_), C(source_tree_)), as the inventory and C(-e) set them, against the roles'
    C(meta/argument_specs.yml) with Ansible's own argument spec validator. A value of the wrong
    type or choice is refused naming the variable and what it allows; a C(reconcile_serial)
    that is no batch size too; a variable that no spec knows (and the collection does not set
    itself) is refused naming the closest known one.
  - Fails when the fleet group is missing or empty, or when C(reconcile_fleet_group) is set in
    the inventory but not with C(-e) (a play's C(hosts) sees extra vars only).
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - hailo.services.controller
options:
  group:
    description: The fleet group (C(reconcile_fleet_group)).
    type: str
    required: true
  roles:
    description: The collection's roles whose variables are checked; each role's prefix is its name and C(_).
    type: list
    elements: str
    default: [reconcile, source_tree]
seealso:
  - module: ansible.builtin.validate_argument_spec
"""

EXAMPLES = r"""
- name: Check every variable before any device is contacted
  hailo.services.check_input:
    group: "{{ reconcile_fleet_group | default('hailo_devices') }}"
  run_once: true
"""

RETURN = r"""
msg:
  description: How many devices' variables were checked.
  returned: success
  type: str
  sample: "3 device(s) of hailo_devices: every variable checked"
"""
