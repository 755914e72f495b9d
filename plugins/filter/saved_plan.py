# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: saved_plan
short_description: Build or check a saved fleet plan
version_added: 0.1.0
author: hailo.services maintainers
description:
  - With O(facts), builds the document C(playbooks/plan.yml) saves as JSON - the fleet map, the
    moves, the restart order, and per device what would change and the state it was worked out
    from (each service's port and the checksums of its config, JSON copy and unit).
  - Without O(facts), checks a loaded plan file and returns it, or fails naming what is wrong.
positional: _input, facts, results, meta
options:
  _input:
    description:
      - The playbook's C(reconcile_fleet_plan) (to build), or a loaded plan file (to check).
    type: dict
    required: true
  facts:
    description: Host name to its M(hailo.services.service_info) result.
    type: dict
  results:
    description: Host name to its C(reconcile_result) (what would change).
    type: dict
  meta:
    description: Extra keys for the document, such as C(generated).
    type: dict
"""

EXAMPLES = r"""
- name: Build the plan
  ansible.builtin.set_fact:
    plan_doc: "{{ fleet_plan | hailo.services.saved_plan(facts_by_host, results, {'generated': now(utc=true) | string}) }}"

- name: Load a plan file
  ansible.builtin.set_fact:
    plan_doc: "{{ lookup('ansible.builtin.file', 'plans/fleet-plan.json') | from_json | hailo.services.saved_plan }}"
"""

RETURN = r"""
_value:
  description: The plan document.
  type: dict
  contains:
    format:
      description: V(hailo.services/fleet-plan/v1).
      type: str
    fleet_map:
      description: Service to its port on every device.
      type: dict
    changes:
      description: The moves, with the reason for each.
      type: list
      elements: dict
    restart_order:
      description: The order moved services restart in.
      type: list
      elements: str
    devices:
      description: Host to its moves, restarts and the state seen (C(seen)).
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import (
    SavedPlanError,
    check_plan,
    plan_document,
)


def saved_plan(doc, facts=None, results=None, meta=None):
    """Filter entry point: see DOCUMENTATION."""
    try:
        if facts is None:
            return check_plan(doc)
        return plan_document(doc, facts, results, meta)
    except (SavedPlanError, KeyError, TypeError) as exc:
        raise AnsibleFilterError("saved_plan: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"saved_plan": saved_plan}
