# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rollback_report
short_description: What runs where on a device after a rollback
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Compares a fresh M(hailo.services.service_info) result, taken after a rollback, with how
    each service ran before the rollout (the C(was) of P(hailo.services.rollout_steps#filter)).
  - A problem is a service that served before and does not serve on its restored port, or a
    service that holds a port its restored config does not name.
  - Also accepts the C(after) of M(hailo.services.port_transaction), which has the same shape.
positional: _input, facts
options:
  _input:
    description: The output of P(hailo.services.rollout_steps#filter).
    type: list
    elements: dict
    required: true
  facts:
    description: The registered result of M(hailo.services.service_info) after the rollback.
    type: dict
    required: true
  host:
    description: The device; with it the result also carries RV(_value.message).
    type: str
  cause:
    description: What failed.
    type: str
  rollback:
    description: The C(rollback) of M(hailo.services.port_transaction) (what it restored, restarted, stopped).
    type: dict
  rollback_health:
    description: The C(rollback_health) of M(hailo.services.port_transaction).
    type: dict
  unreachable:
    description: The device could not be reached to roll it back.
    type: bool
    default: false
  confirm_timeout:
    description: The device's revert timer, in seconds, named when it could not be reached.
    type: int
  revert_error:
    description: Why reverting the change from the controller failed.
    type: str
"""

EXAMPLES = r"""
- name: Say what runs where
  ansible.builtin.debug:
    msg: "{{ (steps | hailo.services.rollback_report(facts_after)).lines }}"
"""

RETURN = r"""
_value:
  description: The device after the rollback.
  type: dict
  contains:
    ok:
      description: Whether every service is as it was before the rollout.
      type: bool
    lines:
      description: One line per service.
      type: list
      elements: str
      sample: ["hailo-ocr: serving on 11436", "hailo-depth: not serving on 11436 (crash-looping), as before (failing)"]
    problems:
      description: What is not as it was.
      type: list
      elements: str
      sample: ["hailo-depth holds port(s) 11439 that its config does not name (11436)"]
    message:
      description: With O(host), the device's failure message.
      type: str
      returned: when O(host) is given
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.rollout import rollback_report as _rollback_report


def rollback_report(steps, facts, host=None, cause=None, rollback=None, rollback_health=None, unreachable=False,
                    confirm_timeout=None, revert_error=None):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return _rollback_report(steps, facts, host=host, cause=cause, rollback=rollback,
                                rollback_health=rollback_health, unreachable=unreachable,
                                confirm_timeout=confirm_timeout, revert_error=revert_error)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("rollback_report: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"rollback_report": rollback_report}
