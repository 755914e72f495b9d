# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: restart_order
short_description: Which services to restart after a port rollout, and in what order
version_added: 0.1.0
author: hailo.services maintainers
description:
  - A service is restarted when its config or unit changed, or when it should run but does not
    (a service that crash-looped on a shared port, or a kept service that could not bind while
    another held its port). A standby service that was stopped stays stopped.
  - Moved services come first, in the map's C(restart_order), so that each new port is free
    when its service starts; the others follow alphabetically.
positional: _input, changed, plan
options:
  _input:
    description: The output of P(hailo.services.rollout_steps#filter).
    type: list
    elements: dict
    required: true
  changed:
    description: Names of the services whose config or unit changed.
    type: list
    elements: str
    required: true
  plan:
    description: The output of P(hailo.services.reconcile_ports#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Restart in order
  ansible.builtin.systemd_service:
    name: "{{ item }}"
    state: restarted
  loop: "{{ steps | hailo.services.restart_order(['hailo-piper'], port_plan) }}"
"""

RETURN = r"""
_value:
  description: Service names in the order to restart them.
  type: list
  elements: str
  sample: ["hailo-depth", "hailo-piper", "hailo-pose"]
"""

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import restart_order as _restart_order


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"restart_order": _restart_order}
