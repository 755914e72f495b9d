# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The attributes of the collection's controller-side actions (the role's steps). The steps
    that run modules on the device (discover, apply_change) state their own check mode, diff
    mode and platform over these."""

    DOCUMENTATION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: It only computes, on the controller, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: all
"""

    # For the actions that return facts.
    FACTS = r"""
attributes:
  facts:
    support: full
"""
