# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: health_targets
short_description: The services to health-check after (or before) a port rollout
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Turns P(hailo.services.rollout_steps#filter) into the O(hailo.services.health_check#module:services)
    list of M(hailo.services.health_check).
  - After a rollout every service that should run (enabled, or standby and running) is checked
    on its target port, moved or not. With O(ports=current) the device is checked as it is;
    add O(was_running=true) to check only the services that ran before, as after a rollback.
positional: _input
options:
  _input:
    description: The output of P(hailo.services.rollout_steps#filter).
    type: list
    elements: dict
    required: true
  ports:
    description: Check each service on its V(target) port or on its V(current) one.
    type: str
    choices: [target, current]
    default: target
  was_running:
    description: Only the services that were running before the rollout.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check every service that should run
  hailo.services.health_check:
    services: "{{ steps | hailo.services.health_targets }}"
"""

RETURN = r"""
_value:
  description: Dicts with C(name), C(port) and, when the catalog sets one, C(path).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    RolloutError,
    health_targets as _health_targets,
)


def health_targets(steps, ports="target", was_running=False):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _health_targets(steps, ports=ports, was_running=was_running)
    except RolloutError as exc:
        raise AnsibleFilterError("health_targets: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"health_targets": health_targets}
