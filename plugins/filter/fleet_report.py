# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report
short_description: Gather a fleet rollout into one report document
version_added: 0.1.0
author: hailo.services maintainers
description:
  - >-
    Builds the JSON report of a fleet rollout from the fleet plan and every device's result: a
    summary first, what clients must change (old and new base URL of every moved service), the
    fleet map, and per device the old and new port of each service, what was restarted, health
    results with latency, rollbacks and unreachable devices.
  - "Render it as Markdown with P(hailo.services.fleet_report_markdown#filter)."
positional: _input, results, hosts, meta
options:
  _input:
    description: The fleet plan (the output of P(hailo.services.fleet_merge#filter) with the map under C(plan)).
    type: dict
    required: true
  results:
    description: Hostname to the device's result, or V(null) for a device the rollout never reached.
    type: dict
    required: true
  hosts:
    description: Every device of the run, in order.
    type: list
    elements: str
    required: true
  meta:
    description: Run facts (C(check_mode), C(scope), C(stopped), C(generated), anything else is kept under C(meta)).
    type: dict
"""

EXAMPLES = r"""
- name: Build the report
  ansible.builtin.set_fact:
    report: "{{ fleet_plan | hailo.services.fleet_report(results, groups['hailo_devices'], {'check_mode': ansible_check_mode}) }}"
"""

RETURN = r"""
_value:
  description: >-
    "The report: C(summary), C(client_changes), C(fleet_map), C(disagreements), C(in_use),
    C(devices), C(stopped), C(check_mode), C(scope), C(generated), C(meta)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import (
    fleet_report as _impl,
)


def fleet_report(*args, **kwargs):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _impl(*args, **kwargs)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("fleet_report: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_report": fleet_report}
