# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: device_services
short_description: The port engine's input for one device
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Combines what M(hailo.services.service_info) found on a device (the current port of each
    service) with the catalog's policy (C(frozen), C(priority), ...), giving the input of
    P(hailo.services.reconcile_ports#filter).
  - When the device has no services, the catalog itself is returned, so the map can be
    previewed from the catalog alone.
  - A service whose config could not be read fails here, naming the service and the problem,
    before anything on the device is touched.
positional: _input, catalog
options:
  _input:
    description: The C(services) returned by M(hailo.services.service_info).
    type: dict
    required: true
  catalog:
    description: The service catalog, service name to settings.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compute the map from the device's current ports
  ansible.builtin.set_fact:
    port_plan: >-
      {{ facts.services | hailo.services.device_services(reconcile_services)
         | hailo.services.reconcile_ports(in_use=facts.in_use) }}
"""

RETURN = r"""
_value:
  description: Service name to settings, with C(port) taken from the device.
  type: dict
  sample: {"hailo-piper": {"port": 5002}, "hailo-face": {"port": 5002, "frozen": true}}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    RolloutError,
    device_services as _device_services,
)


def device_services(discovered, catalog):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _device_services(discovered, catalog)
    except RolloutError as exc:
        raise AnsibleFilterError("device_services: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"device_services": device_services}
