# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: port_table
short_description: Render a reconciled port map as a readable table
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Turns the output of P(hailo.services.reconcile_ports#filter) into a fixed-width text table
    with one row per service (service, old port, new port, reason), sorted by new port,
    followed by a summary line with the restart order.
positional: _input, services
options:
  _input:
    description: The output of P(hailo.services.reconcile_ports#filter).
    type: dict
    required: true
  services:
    description: The services that were passed to P(hailo.services.reconcile_ports#filter), for the old ports.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Print the map
  ansible.builtin.debug:
    msg: "{{ port_plan | hailo.services.port_table(catalog) }}"
"""

RETURN = r"""
_value:
  description: The table, one line per service plus a header and a summary line.
  type: str
  sample: |
    SERVICE        OLD    NEW  REASON
    hailo-piper   5002   5003  shared 5002 with frozen hailo-face; 5003 is the first free port after it in 5000-5099
    11 services, 1 moved: restart order hailo-piper
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.port_report import port_table as _port_table


def port_table(plan, services):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _port_table(plan, services)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(
            "port_table: expected the output of reconcile_ports and its input services (%s)" % exc
        ) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"port_table": port_table}
