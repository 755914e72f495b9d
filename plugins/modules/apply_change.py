#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apply_change
short_description: Internal step, not for direct use (hailo.services.reconcile role - applies one device's change)
version_added: 0.1.0
description:
  - The apply step of the C(hailo.services.reconcile) role (discover, plan, apply), in one task;
    it turns the device's change (M(hailo.services.device_change)'s result) into its Outcome.
  - Runs the change on the device as one M(hailo.services.port_transaction), then confirms it so
    that the device keeps it. The confirmation is one command, not a second module; it is the
    script the change installed in its journal directory (root's only),
    C(revert.py JOURNAL_DIR --confirm ID), which runs the same code as the module's
    C(state=confirmed).
  - A device with nothing to do (the change's C(noop), decided from the discovery's probes)
    gets no transaction and no connection; its Outcome is C(ok), with the probes as its health.
  - When the change never answered (timed out, connection lost) or its confirmation failed, it
    reverts the change (C(state=reverted)) and discovers what runs where after the revert
    (M(hailo.services.service_info)). A change that failed on the device was rolled back there.
  - Fails the device, with a message that says what failed, whether and how it was rolled back
    and what runs where, when the change failed, and also when the plan says the device must
    not be touched (its discovery failed, it drifted from a saved plan) or the change is
    refused (hand-tuned values or unit directives the inventory does not set). Nothing is
    sent to the device then.
  - In check mode the transaction shows its diffs and changes nothing. A refused change fails
    the device there too, after the transaction has worked out what it would write; as Ansible
    shows no diffs for a failed task, the message carries them as a unified diff.
  - Returns the Outcome as RV(record) (also when the device failed), and as the fact
    C(reconcile_result) when it did not.
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - ansible.builtin.action_common_attributes.facts
  - hailo.services.controller
  - hailo.services.controller.facts
attributes:
  check_mode:
    support: full
    details: The transaction works out what it would write and changes nothing.
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  change:
    description: The device's change, as M(hailo.services.device_change) returns it.
    type: dict
    required: true
  discovery:
    description: The device's Discovery (M(hailo.services.discover)), for the Outcome.
    type: raw
  transaction:
    description:
      - The options of M(hailo.services.port_transaction) that do not come from the change
        (C(journal_dir), C(clients), C(firewall), C(health_host), C(health_timeout),
        C(confirm_timeout), C(transaction_timeout), C(backup), C(backup_keep), C(unit_dir),
        C(lease_holder), C(allow_root_symlinks)).
      - C(transaction_timeout) is also the deadline of the change and of a revert.
    type: dict
    required: true
  rediscovery:
    description: The options of M(hailo.services.service_info) for the discovery after a revert.
    type: dict
    default: {}
  applying:
    description: Whether the run applies changes; one that does not (C(--tags plan), a saved plan being written) only records what the change would do.
    type: bool
    default: true
seealso:
  - module: hailo.services.device_change
  - module: hailo.services.port_transaction
"""

EXAMPLES = r"""
- name: Apply the device's change
  hailo.services.apply_change:
    change: "{{ device_change }}"
    discovery: "{{ discovered }}"
    transaction:
      journal_dir: /var/lib/hailo-services/transaction
      transaction_timeout: 600
      confirm_timeout: 300
  register: outcome
"""

RETURN = r"""
record:
  description:
    - The device's Outcome, C(outcome) (C(ok), C(changed), C(failed), C(rolled_back) or
      C(unreachable)), C(message), C(check_mode), C(ports) (the steps), C(restarted),
      C(health), C(found) (a revert the device made by itself), C(clients), C(firewall) and
      C(rollback).
  returned: always
  type: dict
transaction:
  description: The result of M(hailo.services.port_transaction) for the change.
  returned: when the change was sent to the device
  type: dict
confirm:
  description: The result of its confirmation.
  returned: when the change was confirmed
  type: dict
revert:
  description: The result of the revert from the controller.
  returned: when the change was reverted from the controller
  type: dict
after:
  description: What runs where after that revert (a M(hailo.services.service_info) result).
  returned: when the change was reverted from the controller
  type: dict
lease_released:
  description: Whether this run's claim on the device ended here.
  returned: when the change was sent to the device
  type: bool
ansible_facts:
  description: The Outcome of a device that did not fail.
  returned: success
  type: complex
  contains:
    reconcile_result:
      description: The same as RV(record).
      type: dict
      returned: success
"""
