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


# An Environment= assignment anywhere in a line (a unit, a diff line, a message): the key, the
# separator, then the value up to the end of the line.
_ENVIRONMENT_LINE = re.compile(r"(Environment[ \t]*=[ \t]*)([^\r\n]*)")
# One NAME=value word of an Environment= value: quoted as a whole ("A=b c", 'A=b c') or plain,
# where quotes may start inside the value (A="b c") and a backslash escapes the next character.
_ENVIRONMENT_WORD = re.compile(
    r"""(")([A-Za-z_][A-Za-z0-9_]*)=(?:\\.|[^"\\])*"|(')([A-Za-z_][A-Za-z0-9_]*)=[^']*'"""
    r"""|()([A-Za-z_][A-Za-z0-9_]*)=(?:"(?:\\.|[^"\\])*"|'[^']*'|\\.|[^\s"'\\])*""")


def _mask_value(match):
    groups = match.groups()
    for index in (0, 2, 4):
        if groups[index] is not None:
            return "%s%s=***%s" % (groups[index], groups[index + 1], groups[index])
    return match.group(0)  # pragma: no cover - one alternative always matches


def mask_environment(text):
    """``text`` with the value of every ``Environment=NAME=value`` assignment replaced by ``***``.

    Unit files carry tokens in their environment; wherever a unit, a directive or a diff of one
    is shown (diffs, plans, reports, messages) it goes through this first. The names stay, so a
    reader still sees which variable changed.
    """
    if not text or "Environment" not in text:
        return text
    return _ENVIRONMENT_LINE.sub(
        lambda line: line.group(1) + _ENVIRONMENT_WORD.sub(_mask_value, line.group(2)), text)
