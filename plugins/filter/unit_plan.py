# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: unit_plan
short_description: The systemd unit of each service, rendered from the unit the device has
version_added: 0.1.0
author: hailo.services maintainers
description:
  - A directive the device's unit has is kept unless the inventory says otherwise. For each
    service, the directives of its unit on the device (C(unit.directives) from
    M(hailo.services.service_info)) are overlaid with the inventory's settings, fleet-wide
    (O(fleet)) and per service (O(per_service), which wins directive by directive).
  - "Settings are shaped C({Section: {Directive: value}}), for example
    C({Service: {MemoryMax: 6G}}). A value is a string, number or boolean (written V(yes) or
    V(no)), a list of those (the directive repeated, one line each), or V(null) to remove the
    directive. Section and directive names must match C([A-Za-z][A-Za-z0-9]*)."
  - All entries of a directive that is set are replaced by the new value(s) where the first
    one was; a directive the unit lacks is appended to its section; a section the unit lacks
    is appended. Every other entry keeps its place and value.
  - "The render is refused (RV(_value.refusals)) when it would drop, add or change a directive
    the inventory does not set, and when an C(Environment) the inventory sets would stop
    assigning a variable the unit assigns without naming it, for example
    C(hailo-ocr.service: [Service] Environment would drop OCR_CONFIG_PATH (...)). A service
    whose unit could not be read is refused when settings apply to it."
positional: _input, fleet, per_service
options:
  _input:
    description:
      - The C(services) returned by M(hailo.services.service_info), or a mapping of service name
        to its unit's directives (a list of C([section, key, value])), V(null) when unreadable.
    type: dict
    required: true
  fleet:
    description: Unit settings for every service.
    type: dict
    default: {}
  per_service:
    description:
      - Service name to that service's own unit settings, or the service catalog (as
        O(hailo.services.reconcile#role:main:reconcile_services) holds it) when O(catalog=true),
        whose entries' C(unit) keys are used then.
    type: dict
    default: {}
  catalog:
    description: Whether O(per_service) is the service catalog, with the settings under C(unit).
    type: bool
    default: false
  reasons:
    description:
      - Service name to why its unit could not be read. Only needed with directives as input;
        with M(hailo.services.service_info) input the C(unit.parse_error) is used.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Work out the units
  ansible.builtin.set_fact:
    unit_plans: "{{ facts.services | hailo.services.unit_plan(fleet_units, {'hailo-clip': {'Service': {'MemoryMax': '6G'}}}) }}"

- name: Refuse to drop what the installers set
  ansible.builtin.assert:
    that: unit_plans.values() | map(attribute='refusals') | flatten | length == 0
    fail_msg: "{{ unit_plans.values() | map(attribute='refusals') | flatten | join('; ') }}"
"""

RETURN = r"""
_value:
  description: Service name to the plan of its unit.
  type: dict
  contains:
    settings:
      description: The merged settings of the unit (fleet-wide overlaid with the service's own).
      type: dict
    directives:
      description:
        - The directives to render, C([section, key, value]) in order, or V(null) when the
          device's unit could not be read.
      type: list
      elements: list
    changed:
      description: Whether the directives differ from the device's.
      type: bool
    refusals:
      description: Why the render is refused, one message per directive or variable; empty when safe.
      type: list
      elements: str
    body:
      description:
        - The unit file body (sections and directives, no header comment) for the directives,
          or V(null) when the device's unit could not be read.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.unit_file import (
    UnitSettingsError,
    units_from_facts,
    units_plan,
)


def unit_plan(services, fleet=None, per_service=None, reasons=None, catalog=False):
    """Filter entry point: see DOCUMENTATION."""
    if catalog:
        if not isinstance(per_service, dict):
            raise AnsibleFilterError("unit_plan: the catalog must be a mapping of services")
        per_service = dict((name, (spec or {}).get("unit")) for name, spec in per_service.items()
                           if isinstance(spec, dict) and spec.get("unit") is not None)
    if not isinstance(services, dict):
        raise AnsibleFilterError("unit_plan: the input must be a mapping of services, not %s"
                                 % type(services).__name__)
    services, found_reasons = units_from_facts(services)
    found_reasons.update(reasons or {})
    try:
        return units_plan(services, fleet, per_service, found_reasons)
    except UnitSettingsError as exc:
        raise AnsibleFilterError("unit_plan: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"unit_plan": unit_plan}
