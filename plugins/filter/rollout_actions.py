# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_actions
short_description: Which services a port rollout stops, restarts, and restores, in what order
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Worked out before any file changes, from the steps of P(hailo.services.rollout_steps#filter).
  - A service is restarted when its config, JSON copy or unit is to be written, or when it
    should run but does not (a service that crash-looped on a shared port, or a kept service
    that could not bind while another held its port). A standby service that was stopped stays
    stopped. Moved services come first, in the map's C(restart_order), so that each new port is
    free when its service starts; the others follow alphabetically.
  - The services among them that crash-loop now are stopped before any file is written, so
    systemd cannot restart one of them on a half-written change.
  - For a rollback, the services that ran before (serving or crash-looping) are restarted on
    their restored files, those that served first so that they take their ports back; the
    ones that were stopped or failed are left stopped.
  - With O(discovered), the result is the whole argument set of M(hailo.services.port_transaction),
    so it also holds the files to write (each with the checksum discovery reported), the health
    checks after the change and after a rollback, and each service's port before the change.
positional: _input, plan
options:
  _input:
    description: The output of P(hailo.services.rollout_steps#filter).
    type: list
    elements: dict
    required: true
  plan:
    description: The output of P(hailo.services.reconcile_ports#filter) for this device.
    type: dict
    required: true
  discovered:
    description: The C(services) of M(hailo.services.service_info) for this device.
    type: dict
  units:
    description: The rendered text of each unit to write, by service.
    type: dict
  configs:
    description: The rendered C(yaml) and C(json) text of each owned config (config_mode template), by service.
    type: dict
  unit_dir:
    description: Where the units are.
    type: str
    default: /etc/systemd/system
"""

EXAMPLES = r"""
- name: Restart in order
  ansible.builtin.systemd_service:
    name: "{{ item }}"
    state: restarted
  loop: "{{ (steps | hailo.services.rollout_actions(port_plan)).restart }}"
"""

RETURN = r"""
_value:
  description: The services for each action, in order.
  type: dict
  contains:
    restart:
      description: Services to (re)start after the files are written, in this order.
      type: list
      elements: str
      sample: ["hailo-depth", "hailo-piper", "hailo-pose"]
    stop_first:
      description: Crash-looping services to stop before any file is written.
      type: list
      elements: str
      sample: ["hailo-depth", "hailo-piper"]
    rollback_restart:
      description: After a rollback, the services to restart on their restored files, in this order.
      type: list
      elements: str
      sample: ["hailo-depth", "hailo-piper"]
    rollback_stop:
      description: After a rollback, the services to leave stopped (they were stopped or failed before).
      type: list
      elements: str
      sample: ["hailo-pose"]
    files:
      description: With O(discovered), the files to write, as M(hailo.services.port_transaction) takes them.
      type: list
      elements: dict
    health:
      description: With O(discovered), the services to health-check after the change, on their new ports.
      type: list
      elements: dict
    rollback_health:
      description: With O(discovered), the services that must answer again on their old ports after a rollback.
      type: list
      elements: dict
    previous_ports:
      description: With O(discovered), each service's port before the change.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    RolloutError,
    rollout_actions as _rollout_actions,
)


def rollout_actions(steps, plan, discovered=None, units=None, configs=None, unit_dir="/etc/systemd/system"):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _rollout_actions(steps, plan, discovered=discovered, units=units, configs=configs, unit_dir=unit_dir)
    except (RolloutError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("rollout_actions: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"rollout_actions": rollout_actions}
