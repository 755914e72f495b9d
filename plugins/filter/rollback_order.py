# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rollback_order
short_description: The order to restart services in after a rollback
version_added: 0.1.0
author: hailo.services maintainers
description:
  - After a rollback has restored the old files, several services share a port again. The
    services that ran before the rollout held their ports, so they restart first
    (alphabetically), then the others, which fail as they did before instead of taking a
    running service's port.
positional: _input, restart
options:
  _input:
    description: The output of P(hailo.services.rollout_steps#filter).
    type: list
    elements: dict
    required: true
  restart:
    description: The services the rollout restarted (P(hailo.services.restart_order#filter)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Restart on the old settings
  ansible.builtin.systemd_service:
    name: "{{ item }}"
    state: restarted
  loop: "{{ steps | hailo.services.rollback_order(['hailo-piper', 'hailo-face']) }}"
"""

RETURN = r"""
_value:
  description: Service names in the order to restart them.
  type: list
  elements: str
  sample: ["hailo-face", "hailo-piper"]
"""

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import rollback_order as _rollback_order


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"rollback_order": _rollback_order}
