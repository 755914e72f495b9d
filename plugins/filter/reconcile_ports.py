# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: reconcile_ports
short_description: Compute a conflict-free port map for the Hailo services
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Takes the services with their current ports and a stated policy and returns the port each
    service should use so that no two share one, what moved and why, and a safe restart order.
  - A service alone on a free port keeps it.
  - On a shared port the winner is the frozen service, else the highest C(priority), else the
    alphabetically first name. Every other service on that port must move.
  - A service on a port listed in O(reserved) or O(in_use) must move; a frozen one there is an error.
  - Services that must move are placed one at a time in alphabetical order of name, each on the
    first free port above its current port inside its range, wrapping to the range start.
    Ports that are kept, already placed, reserved or in use are skipped.
  - The computation is pure and deterministic, and its output fed back in is a fixed point
    (no further changes).
positional: _input
options:
  _input:
    description:
      - The services, as a dict keyed by service name, or a list of dicts that each have a C(name).
      - Each service has C(port) (int, its current port), C(frozen) (bool, default V(false);
        a frozen service never moves) and C(priority) (int, default V(0); higher wins a shared
        port).
      - Other keys (health path, state, ...) are ignored, so a full catalog can be passed as is.
      - Names must match C(^[a-z0-9][a-z0-9._-]*$) without C(..), since they become file names
        such as C(/etc/hailo/<name>.yaml).
    type: raw
    required: true
  ranges:
    description:
      - Port ranges (inclusive) a service may be moved within, as a list of dicts with C(start)
        and C(end). A service moves only inside the range that holds its current port.
      - Default is, for each current port, the block of 100 that contains it
        (for example 5000-5099 and 11400-11499).
    type: list
    elements: dict
  reserved:
    description: Ports no service may take (for example a device manager or web portal).
    type: list
    elements: int
    default: []
  in_use:
    description: Ports held by other programs on the host or hosts.
    type: list
    elements: int
    default: []
notes:
  - Errors name the culprit and are raised before anything is changed, for example two frozen
    services on one port, a frozen service on a reserved or in-use port, a port that is not an
    integer in 1-65535, a port outside every given range, a range with no free port left,
    duplicate names in list input, or a name that is not a safe file name.
"""

EXAMPLES = r"""
- name: Compute the map for the plan's services
  ansible.builtin.set_fact:
    port_plan: >-
      {{ {
           'hailo-ollama': {'port': 11434, 'priority': 10},
           'hailo-ocr': {'port': 11436, 'priority': 1},
           'hailo-depth': {'port': 11436},
           'hailo-pose': {'port': 11436},
           'hailo-face': {'port': 5002, 'frozen': true},
           'hailo-piper': {'port': 5002},
         } | hailo.services.reconcile_ports(reserved=[5099, 7860]) }}
  # port_plan.ports['hailo-piper'] == 5003, ['hailo-depth'] == 11437, ['hailo-pose'] == 11438

- name: Restrict moves to explicit ranges and skip ports other programs hold
  ansible.builtin.debug:
    msg: "{{ catalog | hailo.services.reconcile_ports(ranges=[{'start': 5000, 'end': 5049}], in_use=[5003]) }}"
  vars:
    catalog:
      - {name: hailo-face, port: 5002, frozen: true}
      - {name: hailo-piper, port: 5002}
  # hailo-piper moves to 5004, since 5003 is in use

- name: Show what moved and why
  ansible.builtin.debug:
    msg: "{{ item.service }}: {{ item.from }} -> {{ item.to }} ({{ item.reason }})"
  loop: "{{ port_plan.changes }}"
"""

RETURN = r"""
_value:
  description: The reconciled map.
  type: dict
  contains:
    ports:
      description: Service name to the port it should use, for every service.
      type: dict
      sample: {"hailo-face": 5002, "hailo-piper": 5003}
    changes:
      description:
        - One entry per service that moves, in alphabetical order of name.
        - C(reason) is a sentence a human can read.
      type: list
      elements: dict
      sample:
        - service: hailo-piper
          from: 5002
          to: 5003
          reason: shared 5002 with frozen hailo-face; 5003 is the first free port after it in 5000-5099
    restart_order:
      description:
        - The services that moved, ordered so that no service is started on a port that another
          moved service still holds.
      type: list
      elements: str
      sample: ["hailo-depth", "hailo-piper", "hailo-pose"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.port_map import (
    PortPolicyError,
    reconcile,
)


def reconcile_ports(services, ranges=None, reserved=None, in_use=None):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return reconcile(services, ranges=ranges, reserved=reserved, in_use=in_use)
    except PortPolicyError as exc:
        raise AnsibleFilterError("reconcile_ports: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"reconcile_ports": reconcile_ports}
