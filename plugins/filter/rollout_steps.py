# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_steps
short_description: What a port rollout must do for each service on one device
version_added: 0.1.0
author: hailo.services maintainers
description:
  - For each service found on a device, works out its current and target port, whether its
    YAML port or JSON copy must be rewritten, whether it should run (C(state)) and where its
    health endpoint is, so that the role sends a device only the work that changes it.
  - A service has a JSON copy to keep in step when one exists, or when it is listed in
    O(json_readers) (it reads the copy at run time).
positional: _input, catalog, plan
options:
  _input:
    description: The C(services) returned by M(hailo.services.service_info).
    type: dict
    required: true
  catalog:
    description: The service catalog; C(state) (V(enabled) or V(standby)) and C(health_path) are used.
    type: dict
    required: true
  plan:
    description: The output of P(hailo.services.reconcile_ports#filter) for this device.
    type: dict
    required: true
  json_readers:
    description: Services that read their JSON copy at run time.
    type: list
    elements: str
    default: []
  units:
    description:
      - Service name to the unit file content the role would install. A unit is to be updated
        when its SHA-1 differs from the C(unit.checksum) the device reported.
    type: dict
    default: {}
  configs:
    description:
      - Service name to the rendered C(yaml) and C(json) text of each service in
        C(config_mode=template). Such a service never gets C(update_config); its files are to
        be written when their SHA-1 differs from the C(checksum) / C(json_checksum) the device
        reported.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Work out the steps
  ansible.builtin.set_fact:
    steps: "{{ facts.services | hailo.services.rollout_steps(reconcile_services, port_plan, json_readers=['hailo-ocr']) }}"
"""

RETURN = r"""
_value:
  description: One dict per service, sorted by name.
  type: list
  elements: dict
  contains:
    name:
      description: >-
        Service name.
      type: str
    from:
      description: >-
        Port before the rollout.
      type: int
    port:
      description: >-
        Target port.
      type: int
    config_path:
      description: >-
        The service's YAML.
      type: str
    json_path:
      description: >-
        Its JSON copy, or V(null) when it has none to keep.
      type: str
    update_config:
      description: >-
        Whether the YAML port or the JSON copy must change.
      type: bool
    template:
      description: >-
        Whether the service's config is rendered (template mode).
      type: bool
    update_yaml:
      description: >-
        Whether the rendered YAML must be written (template mode).
      type: bool
    update_json:
      description: >-
        Whether the rendered JSON copy must be written (template mode).
      type: bool
    update_unit:
      description: >-
        Whether the unit file must be (re)written.
      type: bool
    state:
      description: >-
        V(enabled) or V(standby).
      type: str
    active:
      description: >-
        Whether the unit was running before the rollout.
      type: bool
    was:
      description: >-
        How it ran before the rollout: V(serving), V(failing) (crash-looping), V(failed) or V(stopped).
      type: str
    health_path:
      description: >-
        Health endpoint from the catalog, or V(null) for the default.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    RolloutError,
    rollout_steps as _rollout_steps,
)


def rollout_steps(discovered, catalog, plan, json_readers=None, units=None, configs=None):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _rollout_steps(discovered, catalog, plan, json_readers or (), units, configs)
    except RolloutError as exc:
        raise AnsibleFilterError("rollout_steps: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"rollout_steps": rollout_steps}
