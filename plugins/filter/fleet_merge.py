# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_merge
short_description: Merge the services discovered on every device into one port-map input
version_added: 0.1.0
author: hailo.services maintainers
description:
  - >-
    Takes every device's M(hailo.services.service_info) result and the catalog and returns ONE
    input for P(hailo.services.reconcile_ports#filter): the union of the services found on any
    device, each at the port most devices use (a tie goes to the catalog's port, else the
    lowest), and the union of the ports other programs hold on any device.
  - >-
    Devices that were unreachable or whose discovery failed are listed under C(skipped), not
    merged. Devices that run only some services, or that disagree on a current port, are
    explained per device under C(hosts.<host>.notes).
positional: _input, catalog
options:
  _input:
    description: Hostname to the M(hailo.services.service_info) result of that device (or an unreachable or failed result, or V(null)).
    type: dict
    required: true
  catalog:
    description: The service catalog (O(hailo.services.reconcile#role:main:reconcile_services)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Merge the fleet
  ansible.builtin.set_fact:
    fleet: "{{ dict(hosts | zip(hosts | map('extract', hostvars, '__facts'))) | hailo.services.fleet_merge(reconcile_services) }}"
  vars:
    hosts: "{{ ansible_play_hosts_all }}"
"""

RETURN = r"""
_value:
  description: The merged fleet.
  type: dict
  contains:
    services:
      description: >-
        Input for P(hailo.services.reconcile_ports#filter).
      type: dict
    in_use:
      description: >-
        Ports other programs hold on some device.
      type: list
      elements: int
    hosts:
      description: >-
        Per device: C(services), C(missing) (services it does not run) and C(notes).
      type: dict
    skipped:
      description: >-
        Devices left out, with the reason.
      type: dict
    disagreements:
      description: >-
        Services whose current port differs between devices: C(service), C(chosen),
        C(ports) (port to devices).
      type: list
      elements: dict
    preview:
      description: >-
        True when no device reported any service (the catalog's ports are used).
      type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import (
    FleetError, fleet_merge as _impl,
)


def fleet_merge(*args, **kwargs):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _impl(*args, **kwargs)
    except (FleetError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("fleet_merge: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_merge": fleet_merge}
