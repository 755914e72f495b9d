# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: config_data
short_description: The data each owned service config is rendered from
version_added: 0.1.0
author: hailo.services maintainers
description:
  - For every service found on a device in template mode (the catalog entry's
    C(config_mode), else O(mode)), the settings its C(/etc/hailo/<service>.yaml) and JSON
    copy are rendered from.
  - The built-in defaults of the service's kind (O(defaults)) are merged with the catalog
    entry's C(settings), then with the service's entry in O(settings) (recursively, mappings
    key by key, any other value replaced). C(server.port) always comes from the port map.
  - C(server) comes first, with C(host) then C(port); the other sections keep the order of
    the defaults.
positional: _input, catalog, plan
options:
  _input:
    description: The C(services) returned by M(hailo.services.service_info).
    type: dict
    required: true
  catalog:
    description: The service catalog; C(config_mode) and C(settings) are used.
    type: dict
    required: true
  plan:
    description: The output of P(hailo.services.reconcile_ports#filter) for this device.
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
    description: The config mode of services whose catalog entry does not say.
    type: str
    choices: [edit, template]
    default: edit
"""

EXAMPLES = r"""
- name: Work out the owned configs
  ansible.builtin.set_fact:
    configs: >-
      {{ facts.services | hailo.services.config_data(reconcile_services, port_plan,
           defaults={'hailo-ocr': {'ocr': {'languages': ['en']}}}, mode='template') }}
"""

RETURN = r"""
_value:
  description: Service name to the data of its config, for services in template mode only.
  type: dict
  sample: {"hailo-ocr": {"server": {"host": "0.0.0.0", "port": 11436}, "ocr": {"languages": ["en"]}}}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.config_template import (
    ConfigTemplateError,
    device_config_data,
)


def config_data(discovered, catalog, plan, defaults=None, settings=None, mode="edit"):
    """Filter entry point: see DOCUMENTATION."""
    try:
        return device_config_data(discovered, catalog, plan, defaults, settings, mode)
    except ConfigTemplateError as exc:
        raise AnsibleFilterError("config_data: %s" % exc) from exc


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"config_data": config_data}
