# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: plan_drift
short_description: How a device drifted from the state a saved plan was worked out from
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Compares a device's fresh M(hailo.services.service_info) result with what the saved plan saw
    on it - each service's port and the checksums of its config, JSON copy and unit. A service
    added or gone, a port moved or a file edited since the plan is drift; so is a device the
    plan does not cover.
positional: _input, host, facts
options:
  _input:
    description: The saved plan (P(hailo.services.saved_plan#filter)).
    type: dict
    required: true
  host:
    description: The device's inventory name.
    type: str
    required: true
  facts:
    description: The device's fresh M(hailo.services.service_info) result.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a device that drifted
  ansible.builtin.assert:
    that: drift | length == 0
    fail_msg: "{{ drift | join('; ') }}"
  vars:
    drift: "{{ plan_doc | hailo.services.plan_drift(inventory_hostname, facts) }}"
"""

RETURN = r"""
_value:
  description: One message per difference; empty when the device is as planned.
  type: list
  elements: str
  sample: ["hailo-depth is on 11437 now, the plan saw 11436", "hailo-ocr: its config changed since the plan"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import SavedPlanError, plan_drift as _drift


def plan_drift(doc, host, facts):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _drift(doc, host, facts)
    except (SavedPlanError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("plan_drift: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"plan_drift": plan_drift}
