#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: device_result
short_description: Internal step, not for direct use (hailo.services.reconcile role - records a device's outcome)
version_added: 0.1.0
description:
  - Runs on the controller; never connects to the device.
  - Reads the results the C(hailo.services.reconcile) role registered on the device (any of
    them may be missing or skipped) and returns the device's outcome as the fact
    C(reconcile_result), which the fleet report reads.
  - Also returns RV(message), the failure message of a change that failed. It says what failed,
    whether and how it was rolled back, and what runs where now.
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - hailo.services.controller
  - hailo.services.controller.facts
options:
  steps:
    description: The device's steps (M(hailo.services.device_plan)'s C(steps)).
    type: list
    elements: dict
    default: []
  actions:
    description: The device's transaction arguments (M(hailo.services.device_plan)'s C(actions)).
    type: dict
    default: {}
  discovery:
    description: The device's M(hailo.services.service_info) result.
    type: raw
  failure:
    description: The failed result that ended the role on the device, or null.
    type: raw
  transaction:
    description: The M(hailo.services.port_transaction) result of the change.
    type: raw
  revert:
    description: The result of reverting the change from the controller.
    type: raw
  after:
    description: A M(hailo.services.service_info) result taken after the revert.
    type: raw
  health:
    description: A M(hailo.services.health_check) result (C(--tags verify)).
    type: raw
  cause:
    description: Why the change was rolled back, or null when it was not.
    type: str
  applying:
    description: Whether the run applies changes; one that does not reports what it would restart.
    type: bool
    default: true
  confirm_timeout:
    description: The seconds after which the device reverts an unconfirmed change, for the message.
    type: int
  transaction_timeout:
    description: The longest a change may take; with O(confirm_timeout), when the device reverts a change that never answered.
    type: int
seealso:
  - module: hailo.services.device_plan
  - module: hailo.services.port_transaction
"""

EXAMPLES = r"""
- name: Record what happened on the device
  hailo.services.device_result:
    steps: "{{ device.steps }}"
    actions: "{{ device.actions }}"
    discovery: "{{ discovered }}"
    transaction: "{{ change }}"
    failure: "{{ failure | default(none) }}"
"""

RETURN = r"""
message:
  description: The failure message of a failed change (meaningful when O(cause) is set).
  returned: success
  type: str
ansible_facts:
  description: The device's record.
  returned: success
  type: complex
  contains:
    reconcile_result:
      description:
        - C(outcome) (C(ok), C(changed), C(failed), C(rolled_back) or C(unreachable)),
          C(message), C(check_mode), C(ports) (the steps), C(restarted), C(health),
          C(found) (a revert the device made by itself) and C(rollback).
      type: dict
      returned: success
"""
