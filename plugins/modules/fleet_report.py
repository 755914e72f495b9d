# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Internal step, not for direct use (hailo.services.reconcile role - the fleet report)
version_added: 0.1.0
description:
  - Runs on the controller and never connects to a device. Reads each listed device's
    Outcome (what the role registered on it - its discovery, its change, what applying it did); a device the rollout
    never reached has none.
  - Builds the fleet report - a summary, what clients must change,
    the fleet map and, per device, the old and new port of each service, what was restarted,
    health results, rollbacks and unreachable devices - with its Markdown migration guide,
    the data to publish with M(ansible.builtin.set_stats) and the message to fail the run with.
  - Given O(fleet_map), writes the report into O(report_dir) on the controller, as
    C(fleet-rollout.md) and C(fleet-rollout.json), each replaced whole (a temporary file, then a
    rename), in check mode too - the report of what would change is what a check run is for.
  - With O(saved_plan), also builds the document C(playbooks/plan.yml) saves, and writes it as
    O(plan_out)C(.json) (to apply) and O(plan_out)C(.md) (to review).
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - hailo.services.controller
options:
  hosts:
    description: The devices of the rollout, in order. Default is the C(hosts_all) of O(fleet_map).
    type: list
    elements: str
  max_failed_hosts:
    description: The failure budget's limit on failed devices (M(hailo.services.fleet_budget)), kept in the report as given.
    type: raw
    required: true
  max_fail_percentage:
    description: The failure budget's limit in percent (M(hailo.services.fleet_budget)), kept in the report as given.
    type: raw
    required: true
  fleet_map:
    description:
      - The fleet map of the rollout (the fact C(reconcile_fleet_map) of
        M(hailo.services.fleet_map)); its C(serial) is the report's.
    type: dict
    required: true
  report_dir:
    description:
      - Where the report is written (made if missing). When it holds the C(source_tree) role's
        C(source-references.md), the migration guide points at it.
    type: path
    required: true
  applying:
    description:
      - Whether the run applies changes. V(false) (a run with C(--tags plan) or C(--tags verify),
        or one that writes a saved plan), like check mode, makes it a report of what would change.
    type: bool
    default: true
  scope:
    description: The scope of the rollout, for the report. Default is the C(scope) of O(fleet_map).
    type: str
    choices: [fleet, host]
  stopped:
    description: Why the rollout stopped before a batch (the budget's C(reason)), or V(null).
    type: str
  batches:
    description: The batches the rollout ran, each a list of devices.
    type: list
    elements: list
    default: []
  saved_plan:
    description: Also build and write the saved plan. Needs O(fleet_map) and O(plan_out).
    type: bool
    default: false
  plan_out:
    description: The saved plan's path on the controller, without the C(.json) and C(.md) extensions.
    type: path
  fail_on_device_error:
    description: Whether the run fails when a device failed; then no saved plan is written.
    type: bool
    default: true
  active_hosts:
    description:
      - The hosts still in the run (C(ansible_play_hosts) of the report's play). A device of the
        fleet map that is not among them and recorded no result dropped out of the run, and is
        reported as unreachable rather than as not reached.
    type: list
    elements: str
seealso:
  - module: hailo.services.fleet_map
  - module: hailo.services.fleet_budget
  - module: ansible.builtin.set_stats
"""

EXAMPLES = r"""
- name: Gather the fleet report
  hailo.services.fleet_report:
    fleet_map: "{{ hostvars['localhost'].reconcile_fleet_map }}"
    report_dir: /srv/reports
    max_failed_hosts: 0
    max_fail_percentage: 25
    batches: [[pi1], [pi2, pi3]]
  register: fleet  # /srv/reports/fleet-rollout.md and .json are written
  run_once: true
  delegate_to: localhost

- name: Show it
  ansible.builtin.debug:
    msg: "{{ fleet.lines }}"
  run_once: true
"""

RETURN = r"""
report:
  description:
    - "The report: C(generated), C(check_mode), C(scope), C(stopped), C(summary), C(client_changes),
      C(fleet_map), C(disagreements), C(in_use), C(devices) (per device its C(outcome): V(changed),
      V(ok), V(rolled_back), V(failed), V(unreachable) or V(not_reached)) and C(meta) (C(tags),
      C(limit), C(serial), C(batches), the budget's limits and C(source_references))."
  returned: success
  type: dict
files:
  description: The files written on the controller.
  returned: success
  type: list
  elements: path
  sample: [/srv/reports/fleet-rollout.md, /srv/reports/fleet-rollout.json]
markdown:
  description: The report as a Markdown migration guide, as written to C(fleet-rollout.md).
  returned: success
  type: str
lines:
  description: The migration guide as lines, and where the report is, to print.
  returned: success
  type: list
  elements: str
stats:
  description:
    - "What to publish with M(ansible.builtin.set_stats) (AWX keeps it as the job's artifacts):
      C(summary), C(client_changes), C(stopped), C(check_mode) and C(devices) (device to its outcome)."
  returned: success
  type: dict
message:
  description: Why the run fails, naming the failed devices; empty when no device failed.
  returned: success
  type: str
  sample: "Fleet rollout incomplete: pi2; 1 device failed (pi2), more than the 0 tolerated. See /srv/reports/fleet-rollout.md."
saved_plan:
  description: The saved plan.
  returned: when O(saved_plan) is true
  type: dict
  contains:
    document:
      description:
        - The plan document (C(format) V(hailo.services/fleet-plan/v1)), to write as JSON - the fleet
          map, the moves and their reasons, the restart order, and per device what would change and
          the state it was worked out from.
      type: dict
    markdown:
      description: The plan as Markdown, to review.
      type: str
"""
