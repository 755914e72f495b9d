# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_report_markdown
short_description: Render a fleet rollout report as a Markdown migration guide
version_added: 0.1.0
author: hailo.services maintainers
description:
  - >-
    Renders the output of P(hailo.services.fleet_report#filter) as Markdown that reads well in a
    terminal and on a git forge: fleet summary, what clients must change, the fleet map, then
    one section per device.
positional: _input
options:
  _input:
    description: The output of P(hailo.services.fleet_report#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the migration guide
  ansible.builtin.copy:
    content: "{{ report | hailo.services.fleet_report_markdown }}"
    dest: reports/fleet-rollout.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The Markdown text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import (
    fleet_report_markdown as _impl,
)


def fleet_report_markdown(*args, **kwargs):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _impl(*args, **kwargs)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("fleet_report_markdown: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"fleet_report_markdown": fleet_report_markdown}
