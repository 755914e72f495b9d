# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: config_settings_errors
short_description: Problems with the settings of owned service configs
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Checks the config settings before any device is touched, and names each problem.
  - O(mode) and every catalog C(config_mode) must be V(edit) or V(template).
  - Each catalog C(settings) and each entry of O(settings) must be a mapping, and must not
    set C(server.port) (the port map owns it).
  - For a service of a known kind (one in O(defaults)), every key path must exist in its
    defaults, so that a misspelt key is rejected by name instead of being rendered.
positional: _input
options:
  _input:
    description: The service catalog (C(reconcile_services)).
    type: dict
    required: true
  defaults:
    description: Service kind (its name) to its built-in settings.
    type: dict
    default: {}
  settings:
    description: Service name to the inventory's settings (C(reconcile_config_settings)).
    type: dict
    default: {}
  mode:
    description: The default config mode (C(reconcile_config_mode)).
    type: str
    default: edit
"""

EXAMPLES = r"""
- name: Check the settings
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ reconcile_services | hailo.services.config_settings_errors(defaults=kinds, settings=overrides) }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the settings are fine.
  type: list
  elements: str
  sample: ["hailo-ocr: unknown setting ocr.langauges (reconcile_config_settings)"]
"""

from ansible_collections.hailo.services.plugins.plugin_utils.config_template import settings_errors


def config_settings_errors(catalog, defaults=None, settings=None, mode="edit"):
    """Filter entry point: see DOCUMENTATION."""
    return settings_errors(catalog, defaults, settings, mode)


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"config_settings_errors": config_settings_errors}
