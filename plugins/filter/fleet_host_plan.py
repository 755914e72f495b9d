# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_host_plan
short_description: Cut a fleet port map down to one device
version_added: 0.1.0
author: hailo.services maintainers
description:
  - >-
    Returns the fleet map (the output of P(hailo.services.reconcile_ports#filter) for the fleet)
    as it applies to one device: only the services it runs, each move counted from the device's
    own port, and a restart order for this device.
  - "With no discovered services (a preview on the controller) the fleet map is returned unchanged."
positional: _input, discovered
options:
  _input:
    description: The fleet map.
    type: dict
    required: true
  discovered:
    description: The C(services) of the device's M(hailo.services.service_info) result.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The map for this device
  ansible.builtin.set_fact:
    port_plan: "{{ fleet_plan.plan | hailo.services.fleet_host_plan(facts.services) }}"
"""

RETURN = r"""
_value:
  description: Same shape as the output of P(hailo.services.reconcile_ports#filter) (C(ports), C(changes), C(restart_order)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import (
    FleetError, host_plan as _impl,
)


def fleet_host_plan(*args, **kwargs):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _impl(*args, **kwargs)
    except (FleetError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("fleet_host_plan: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_host_plan": fleet_host_plan}
