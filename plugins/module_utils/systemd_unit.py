# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read the directives of a systemd unit file, in file order.

Every Hailo installer writes its own unit, so the controller renders a unit from the
directives the device's unit already has.  This module reads them on the device, the way
systemd's own parser does: ``[Section]`` headers, ``#`` and ``;`` comment lines and blank
lines skipped, ``Key=Value`` with whitespace around ``=`` and around the value dropped, a line
ending in a backslash continued on the next line (the backslash becomes a space; comment
lines inside a continuation are skipped), repeated keys kept as separate entries.

Runs on the managed host: standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

COMMENT_CHARS = "#;"
# Only these end a line (str.splitlines() would also split on U+2028 and others).
LINE_BREAK = re.compile(r"\r\n|\r|\n")
WHITESPACE = " \t\n\r"


class UnitParseError(ValueError):
    """Text that is not a systemd unit; the message names the line."""


def _continues(line):
    """Whether ``line`` ends in an unescaped backslash (an odd number of trailing backslashes)."""
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def _logical_lines(text):
    """``(line number, text)`` of each logical line: continuations joined, comments and blanks
    dropped. The number is that of the line the logical line starts on."""
    pending = None
    start = 0
    for number, raw in enumerate(LINE_BREAK.split(text), 1):
        line = raw.lstrip(WHITESPACE)
        if line and line[0] in COMMENT_CHARS:
            continue
        if pending is None:
            start = number
            pending = line
        else:
            pending += line
        if _continues(pending):
            pending = pending[:-1] + " "
            continue
        if pending.strip(WHITESPACE):
            yield start, pending.strip(WHITESPACE)
        pending = None
    if pending is not None and pending.strip(WHITESPACE):
        yield start, pending.strip(WHITESPACE)


def parse_unit(text):
    """The directives of a unit file as ``[section, key, value]`` lists, in file order.

    :param text: the unit file's content (``str``).
    :raises UnitParseError: (a ``ValueError``) on a line that is not a section header, a
        comment or a ``Key=Value`` assignment, or an assignment before the first section;
        the message names the line number.
    """
    if text.startswith(u"\ufeff"):
        text = text[1:]
    directives = []
    section = None
    for number, line in _logical_lines(text):
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3 or "[" in line[1:-1] or "]" in line[1:-1]:
                raise UnitParseError("line %d: invalid section header: %s" % (number, line))
            section = line[1:-1]
            continue
        if "=" not in line:
            raise UnitParseError("line %d: not a section header, comment or Key=Value assignment: %s"
                                 % (number, line))
        key, value = line.split("=", 1)
        key = key.strip(WHITESPACE)
        if not key or any(char in key for char in WHITESPACE):
            raise UnitParseError("line %d: invalid directive name: %s" % (number, line))
        if section is None:
            raise UnitParseError("line %d: assignment outside of any section: %s" % (number, line))
        directives.append([section, key, value.strip(WHITESPACE)])
    return directives
