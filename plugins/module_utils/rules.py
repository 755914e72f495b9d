# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules the controller and the device must agree on, stated once.

A service name (it becomes paths such as ``/etc/hailo/<name>.yaml``), the port range, and the
checksum discovery reports and the transaction checks before it writes. Modules import this
file from module_utils; controller code (plugin_utils) imports the same file.

Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

# Anchored with \A and \Z: ``$`` would also match before a trailing newline ("hailo-ocr\n").
SERVICE_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]*\Z")
SERVICE_NAME_RULE = ("lower-case letters, digits, '.', '_' and '-', starting with a letter or a digit, "
                     "and no '..'")
MIN_PORT = 1
MAX_PORT = 65535


def is_service_name(name):
    """Whether ``name``, the whole string, is a safe service name."""
    return isinstance(name, str) and SERVICE_NAME.match(name) is not None and ".." not in name


def is_port(port):
    """Whether ``port`` is an integer (not a bool) from :data:`MIN_PORT` to :data:`MAX_PORT`."""
    return isinstance(port, int) and not isinstance(port, bool) and MIN_PORT <= port <= MAX_PORT


def checksum(data):
    """The SHA-1 (hex) of a file's bytes, or None for a file that is not there."""
    if data is None:
        return None
    if not isinstance(data, bytes):
        data = data.encode("utf-8")
    return hashlib.sha1(data).hexdigest()
