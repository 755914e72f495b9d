# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: config_changes
short_description: The values other than the port that rendering a service's config would change
version_added: 0.1.0
author: hailo.services maintainers
description:
  - Compares the parsed data of each config on the device (C(services.<name>.data) from
    M(hailo.services.service_info)) with the data the role would render
    (P(hailo.services.config_data#filter)), key path by key path, types included.
  - Only services switching to template mode are compared; a file the role rendered before
    (C(owned) in M(hailo.services.service_info)) is the inventory's, and its changes are not
    reported.
  - C(server.port) is ignored (the port map owns it). Comments and formatting are not data
    and are not compared.
  - "Gives one message per differing key path, for example
    C(hailo-ocr: ocr.languages would change from [en, de] to [en]). Services whose current
    file could not be parsed are skipped."
positional: _input, configs
options:
  _input:
    description: The C(services) returned by M(hailo.services.service_info).
    type: dict
    required: true
  configs:
    description: The output of P(hailo.services.config_data#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse to replace hand-tuned values
  ansible.builtin.assert:
    that: changes | length == 0
    fail_msg: "{{ changes | join('; ') }}"
  vars:
    changes: "{{ facts.services | hailo.services.config_changes(configs) }}"
"""

RETURN = r"""
_value:
  description: One message per key path that would change, sorted by service.
  type: list
  elements: str
  sample: ["hailo-ocr: ocr.languages would change from [en, de] to [en]"]
"""

from ansible_collections.hailo.services.plugins.plugin_utils.config_template import (
    device_config_changes,
)


def config_changes(discovered, configs):
    """Filter entry point: see DOCUMENTATION."""
    return device_config_changes(discovered, configs)


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return {"config_changes": config_changes}
