# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module file as Ansible's debugging entry point does (``python THIS MODULE ARGS_FILE``),
with the listeners of some ports reported as a systemd unit's.

A test's HTTP stubs run in the test process, which no systemd unit owns on a test host, so the
modules' ownership check (a port counts only when the service's own unit holds it) would refuse
every one. ``$HAILO_TEST_PORT_UNITS`` (JSON ``{"<port>": "<unit>"}``) names the unit each port's
real listener, as read from /proc, is reported under. Ports it does not name keep their real
owner: the test process, a squatter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import runpy
import sys

from ansible_collections.hailo.services.plugins.module_utils import listeners

_UNITS = json.loads(os.environ.get("HAILO_TEST_PORT_UNITS") or "{}")
_read_listeners = listeners.read_listeners


def read_listeners(proc_root="/proc", byteorder=None):
    found = _read_listeners(proc_root, byteorder)
    for item in found:
        if str(item["port"]) in _UNITS:
            item["unit"] = _UNITS[str(item["port"])]
    return found


if __name__ == "__main__":
    # Patched before the module's own imports run, so every importer gets this one.
    listeners.read_listeners = read_listeners
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
