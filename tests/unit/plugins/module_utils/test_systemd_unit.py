# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a unit file's directives the way systemd does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import (
    UnitParseError,
    parse_unit,
)

# Shaped like the hailo-ocr unit its installer writes (see the notes on installed units).
OCR_UNIT = """\
# /etc/systemd/system/hailo-ocr.service, written by install.sh
[Unit]
Description=Hailo OCR service
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=hailo-ocr
Group=hailo-ocr
WorkingDirectory=/var/lib/hailo-ocr
StateDirectory=hailo-ocr
Environment=XDG_CONFIG_HOME=/etc/xdg
Environment=XDG_DATA_DIRS=/var/lib:/usr/share:/usr/local/share
Environment=OCR_CONFIG_PATH=/etc/xdg/hailo-ocr/hailo-ocr.json
Environment=PYTHONUNBUFFERED=1
ExecStart=/opt/hailo-ocr/venv/bin/python3 /opt/hailo-ocr/hailo_ocr_server.py
Restart=always
RestartSec=5
; limits
MemoryMax=2.5G
CPUQuota=75%
PrivateTmp=yes
ProtectSystem=strict
ReadWritePaths=/var/lib/hailo-ocr /etc/xdg/hailo-ocr

[Install]
WantedBy=multi-user.target
"""


def test_real_shaped_unit_in_file_order_with_repeated_keys():
    directives = parse_unit(OCR_UNIT)
    assert directives[:3] == [
        ["Unit", "Description", "Hailo OCR service"],
        ["Unit", "After", "network-online.target"],
        ["Unit", "Wants", "network-online.target"],
    ]
    environment = [value for section, key, value in directives if key == "Environment"]
    assert environment == [
        "XDG_CONFIG_HOME=/etc/xdg",
        "XDG_DATA_DIRS=/var/lib:/usr/share:/usr/local/share",
        "OCR_CONFIG_PATH=/etc/xdg/hailo-ocr/hailo-ocr.json",
        "PYTHONUNBUFFERED=1",
    ]
    assert ["Service", "ReadWritePaths", "/var/lib/hailo-ocr /etc/xdg/hailo-ocr"] in directives
    assert directives[-1] == ["Install", "WantedBy", "multi-user.target"]
    assert len(directives) == 21
    assert all(isinstance(entry, list) and len(entry) == 3 for entry in directives)


def test_whitespace_around_equals_and_value_is_dropped():
    text = "[Service]\n  MemoryMax = 4G  \nCPUQuota=\t80%\nExecStartPre=\nDescription = a = b\n"
    assert parse_unit(text) == [
        ["Service", "MemoryMax", "4G"],
        ["Service", "CPUQuota", "80%"],
        ["Service", "ExecStartPre", ""],
        ["Service", "Description", "a = b"],
    ]


def test_comments_and_blank_lines_are_skipped():
    text = "\n# a comment\n; another\n   # indented comment\n[Unit]\n\nDescription=x # not a comment\n"
    assert parse_unit(text) == [["Unit", "Description", "x # not a comment"]]


def test_backslash_continuation_joins_with_a_space():
    text = ("[Service]\n"
            "ExecStart=/usr/bin/python3 \\\n"
            "    /opt/hailo-face/hailo_face_service.py \\\n"
            "# a comment inside a continuation is skipped\n"
            "    --verbose\n"
            "Restart=always\n")
    assert parse_unit(text) == [
        ["Service", "ExecStart", "/usr/bin/python3  /opt/hailo-face/hailo_face_service.py  --verbose"],
        ["Service", "Restart", "always"],
    ]


def test_continuation_without_space_before_the_backslash():
    assert parse_unit("[Service]\nEnvironment=A=1\\\nB=2\n") == [["Service", "Environment", "A=1 B=2"]]


def test_escaped_backslash_at_the_end_does_not_continue():
    assert parse_unit("[Service]\nX=a\\\\\nY=b\n") == [["Service", "X", "a\\\\"], ["Service", "Y", "b"]]


def test_continuation_at_end_of_file():
    assert parse_unit("[Service]\nX=a \\") == [["Service", "X", "a"]]


def test_repeated_sections_and_crlf():
    text = "[Service]\r\nA=1\r\n[Install]\r\nWantedBy=multi-user.target\r\n[Service]\r\nA=2\r\n"
    assert parse_unit(text) == [
        ["Service", "A", "1"], ["Install", "WantedBy", "multi-user.target"], ["Service", "A", "2"]]


def test_empty_and_comment_only_texts():
    assert parse_unit("") == []
    assert parse_unit("# nothing\n\n") == []
    assert parse_unit(u"\ufeff[Unit]\nDescription=x\n") == [["Unit", "Description", "x"]]


@pytest.mark.parametrize("text, line", [
    ("[Service]\nType=simple\nthis is not an assignment\n", 3),
    ("[Service\nType=simple\n", 1),
    ("[]\n", 1),
    ("Type=simple\n[Service]\n", 1),
    ("[Unit]\n\n\n=value\n", 4),
    ("[Unit]\nDescr iption=x\n", 2),
    ("[Unit]\nA=1\nbroken \\\n  still broken\n", 3),
])
def test_lines_that_are_not_header_comment_or_assignment_name_the_line(text, line):
    with pytest.raises(ValueError) as err:
        parse_unit(text)
    assert isinstance(err.value, UnitParseError)
    assert str(err.value).startswith("line %d:" % line)
