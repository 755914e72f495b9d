# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_budget
short_description: Say whether the failure budget of a canary rollout is spent
version_added: 0.1.0
author: hailo.services maintainers
description:
  - >-
    Counts the devices already handled whose outcome is not V(ok) or V(changed) and compares
    them with an absolute maximum and a percentage of the devices handled.
positional: _input, max_failed_hosts, max_fail_percentage
options:
  _input:
    description: Hostname to outcome (V(ok), V(changed), V(rolled_back), V(failed), V(unreachable)) of the devices already handled.
    type: dict
    required: true
  max_failed_hosts:
    description: Failed devices tolerated; V(0) stops after the first failure.
    type: int
    default: 0
  max_fail_percentage:
    description: Tolerated share of failed devices among those handled, 0-100.
    type: float
    default: 100
"""

EXAMPLES = r"""
- name: Stop when the budget is spent
  ansible.builtin.meta: end_play
  when: (outcomes | hailo.services.fleet_budget(0, 25)).spent
"""

RETURN = r"""
_value:
  description: "C(spent) (bool), C(failed) (hosts), C(handled) (count) and C(reason) (text, empty unless spent)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import (
    FleetError, fleet_budget as _impl,
)


def fleet_budget(*args, **kwargs):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _impl(*args, **kwargs)
    except (FleetError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("fleet_budget: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_budget": fleet_budget}
