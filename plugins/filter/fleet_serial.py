# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_serial
short_description: The canary batches of a fleet rollout, checked
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Turns C(reconcile_serial), as a user sets it in an inventory or with C(-e), into the list a
    play's C(serial) takes, or fails naming the value.
  - Accepts a count (V(1)), a percentage (V(25%)), a list of them, or a string of such a list
    (C(-e reconcile_serial=[1,2]) arrives as the text V([1,2])).
positional: _input
options:
  _input:
    description: The batches as given.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Keep the batches for the rollout play's serial
  ansible.builtin.set_fact:
    batches: "{{ reconcile_serial | hailo.services.fleet_serial }}"
"""

RETURN = r"""
_value:
  description: Batch sizes, each a positive int or a percentage string.
  type: list
  elements: raw
  sample: [1, "25%", "100%"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import (
    FleetError,
    fleet_serial as _fleet_serial,
)


def fleet_serial(value):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _fleet_serial(value)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_serial: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_serial": fleet_serial}
