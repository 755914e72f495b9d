#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: discover
short_description: Internal step, not for direct use (hailo.services.reconcile role - discovers one device)
version_added: 0.1.0
description:
  - The discover step of the C(hailo.services.reconcile) role (discover, plan, apply), in one
    task whose result is the device's Discovery. Every guard of the step is data in that
    result, not a task of its own.
  - Installs the device's prerequisites first with O(install_prerequisites) (C(apt-get) over
    the connection, no Python needed).
  - Runs M(hailo.services.service_info) with O(discovery) on the device.
  - When the device lacks C(python3) or its C(yaml) module, fails naming the Debian packages
    to install, instead of a module's traceback.
  - With O(revert_leftover), a change a dead run left unconfirmed on the device (the
    discovery's C(journal)) is reverted with M(hailo.services.port_transaction) and the device
    is discovered again; the result then holds C(last_revert), the revert. Without it, the
    leftover is only named in a warning.
  - A device that cannot be reached gives a result with C(unreachable) set, which the task
    keeps with C(ignore_unreachable).
author:
  - hailo.services maintainers (@hailo)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - hailo.services.controller
attributes:
  check_mode:
    support: full
    details: The discovery only reads; a leftover change is not reverted in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  discovery:
    description: The options of M(hailo.services.service_info) for this device.
    type: dict
    required: true
  install_prerequisites:
    description: Install C(python3) and C(python3-yaml) with C(apt-get) when either is missing.
    type: bool
    default: false
  revert_leftover:
    description:
      - Revert a change a dead run left unconfirmed, then discover the device again. Needs the
        discovery's C(journal_dir) and C(lease_holder) (the run that now holds the device).
    type: bool
    default: false
  revert_timeout:
    description: The longest the revert of a leftover change may take, in seconds.
    type: int
    default: 600
seealso:
  - module: hailo.services.service_info
  - module: hailo.services.device_change
"""

EXAMPLES = r"""
- name: Discover the device, reverting a change a dead run left on it
  hailo.services.discover:
    discovery:
      config_dir: /etc/hailo
      json_dir: /home/hailo/.config
      unit_dir: /etc/systemd/system
      journal_dir: /var/lib/hailo-services/transaction
      lease_holder: "{{ run_id }}"
    revert_leftover: true
  register: discovered
  ignore_unreachable: true
  ignore_errors: true  # a device that cannot be discovered is reported, not fatal
"""

RETURN = r"""
services:
  description: What M(hailo.services.service_info) returns (every one of its return values is here).
  returned: success
  type: dict
installed:
  description: Whether the prerequisites were installed by this task.
  returned: with O(install_prerequisites)
  type: bool
last_revert:
  description: The revert of a leftover change (the C(rollback) of M(hailo.services.port_transaction)), when one was made.
  returned: when a leftover change was reverted
  type: dict
"""
