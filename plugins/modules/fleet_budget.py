# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_budget
short_description: Internal step, not for direct use (hailo.services.reconcile role - the failure budget between batches)
version_added: 0.1.0
description:
  - Runs on the controller and never connects to a device. Reads each listed device's
    Outcome (what the role registered on it - its discovery, its change, what applying it did); a device the rollout
    never reached has none.
  - Says whether the devices handled so far failed more than O(max_failed_hosts) or
    O(max_fail_percentage) allow, so that a rollout can stop before its next batch.
    C(playbooks/reconcile.yml) checks it before each batch.
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - hailo.services.controller
options:
  hosts:
    description: The devices of the rollout, in order.
    type: list
    elements: str
    required: true
  batch:
    description:
      - The devices of the batch about to start (C(ansible_play_batch)). The result, registered
        as C(__rollout_budget) on each of them, is the rollout's record of its batches for the
        report.
    type: list
    elements: str
    default: []
  max_failed_hosts:
    description:
      - Failed devices (rolled back, failed or unreachable) tolerated; V(0) spends the budget
        with the first failed device.
      - An integer, 0 or more.
    type: raw
    required: true
  max_fail_percentage:
    description:
      - The budget is also spent when more than this percentage of the devices handled so far
        failed.
      - A number from 0 to 100.
    type: raw
    required: true
seealso:
  - module: hailo.services.fleet_report
"""

EXAMPLES = r"""
- name: Check the failure budget before this batch
  hailo.services.fleet_budget:
    hosts: "{{ ansible_play_hosts_all }}"
    batch: "{{ ansible_play_batch }}"
    max_failed_hosts: 0
    max_fail_percentage: 25
  register: budget
  run_once: true

- name: Stop before this batch when the failure budget is spent
  ansible.builtin.meta: end_play
  when: budget.budget.spent
"""

RETURN = r"""
budget:
  description: The failure budget.
  returned: success
  type: dict
  contains:
    spent:
      description: Whether the rollout must stop before its next batch.
      type: bool
    failed:
      description: The devices handled so far that did not end V(ok) or V(changed).
      type: list
      elements: str
    handled:
      description: How many devices have a result.
      type: int
    reason:
      description: Why the budget is spent; empty unless it is.
      type: str
  sample: {spent: true, failed: [pi2], handled: 2, reason: "1 device failed (pi2), more than the 0 tolerated"}
progress:
  description: What the rollout has done so far, for the batch's announcement.
  returned: success
  type: str
  sample: "Done so far: 2 device(s), 1 failed (pi2)."
batch:
  description: The devices of the batch (O(batch)).
  returned: success
  type: list
  elements: str
number:
  description: The batch's number, from 1.
  returned: success
  type: int
"""
