# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: saved_plan_markdown
short_description: A saved fleet plan as Markdown, to review in a pull request
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Renders the document of P(hailo.services.saved_plan#filter) - the map, the moves with their
    reasons, and per device what would move and restart - with the command that applies it.
positional: _input
options:
  _input:
    description: The plan document.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the plan for review
  ansible.builtin.copy:
    content: "{{ plan_doc | hailo.services.saved_plan_markdown }}"
    dest: plans/fleet-plan.md
    mode: "0644"
"""

RETURN = r"""
_value:
  description: Markdown text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import plan_markdown


def saved_plan_markdown(doc):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return plan_markdown(doc)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("saved_plan_markdown: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"saved_plan_markdown": saved_plan_markdown}
