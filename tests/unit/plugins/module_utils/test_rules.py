# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rule per concept, the same on the controller and on the device."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import os
import re

import pytest

from ansible_collections.hailo.services.plugins.module_utils import port_references, rules, yaml_port
from ansible_collections.hailo.services.plugins.plugin_utils import catalog

PLUGINS = os.path.join(os.path.dirname(rules.__file__), "..")


@pytest.mark.parametrize("name", ["hailo-ocr\n", "hailo-ocr\r", "", "-x", "Hailo", "a/b", "a..b", "a b", None, 5])
def test_a_bad_name_is_refused_by_the_controller_and_the_device_alike(name):
    assert not rules.is_service_name(name)
    assert catalog.name_problem(name) is not None  # the controller's copy accepted "hailo-ocr\n"
    assert not port_references.is_service_name(name)


def test_a_good_name_and_the_port_range():
    assert rules.is_service_name("hailo-ocr") and catalog.name_problem("hailo-ocr") is None
    assert [rules.is_port(p) for p in (0, 1, 65535, 65536, True, "80")] == [False, True, True, False, False, False]
    assert (catalog.MIN_PORT, catalog.MAX_PORT) == (yaml_port.PORT_MIN, yaml_port.PORT_MAX) == (1, 65535)


def test_the_checksum_is_one_function_for_text_and_bytes():
    assert rules.checksum(b"port: 1\n") == rules.checksum("port: 1\n") == hashlib.sha1(b"port: 1\n").hexdigest()
    assert rules.checksum(None) is None


def test_no_validation_regex_in_the_plugins_is_anchored_with_caret_or_dollar():
    """``$`` matches before a trailing newline: every anchored pattern uses \\A and \\Z."""
    sources = glob.glob(os.path.join(PLUGINS, "*", "*.py"))
    assert len(sources) > 20
    for path in sources:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        assert not re.findall(r"""re\.(?:compile|match|search|fullmatch)\(\s*b?r?["']\^""", source), path
        assert not re.findall(r"""re\.(?:compile|match|search|fullmatch)\(\s*b?r?["'][^"']*\$["']""", source), path
