# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd units rendered from what the device has, worked out on the controller (pure; no
Ansible import).

Every Hailo installer writes its own unit, so the role never renders a "standard" unit. The
rule: a directive the device has is kept unless the inventory says otherwise. The device's
directives (``service_info``' ``unit.directives``, a list of ``[section, key, value]`` in file
order) are overlaid with the inventory's settings, fleet-wide and per service, shaped
``{Section: {Directive: value}}``. A value is a string, number or bool (bool -> ``yes``/``no``),
a list of those (the directive repeated, one line each), or None (the directive is removed).

A render that would drop or change a directive the inventory does not set is refused, naming
the unit and the directive; so is an ``Environment`` set by the inventory that would stop
assigning a variable the device's unit assigns.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import mask_environment
from ansible_collections.hailo.services.plugins.plugin_utils.systemd_directives import SECTIONS

NAME = re.compile(r"\A[A-Za-z][A-Za-z0-9]*\Z")
FIRST_SECTIONS = ("Unit", "Service", "Install")
ENVIRONMENT = "Environment"


class UnitSettingsError(ValueError):
    """Unit settings the role cannot render; the message names the service, section and directive."""


def _unit(name):
    name = str(name)
    return name if name.endswith(".service") or " " in name else name + ".service"


def _is_scalar(value):
    return isinstance(value, (str, int, float, bool))


def _value_problem(value):
    """Why a value cannot be rendered, or None."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not _is_scalar(item):
            if isinstance(value, list):
                return "list items must be strings, numbers or booleans, not %s" % type(item).__name__
            return ("value must be a string, number, boolean, a list of those, or null (to remove "
                    "the directive), not %s" % type(item).__name__)
        if isinstance(item, str):
            if "\n" in item or "\r" in item:
                return "value must be a single line: %r" % item
            stripped = item.strip(" \t")
            if (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1:
                return "value must not end in a backslash (it would continue onto the next line): %r" % item
    return None


def _closest(word, known):
    """``; did you mean 'X'?`` for the known name nearest to ``word``, or nothing."""
    found = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return "; did you mean %r?" % found[0] if found else ""


def _check(name, settings, origin):
    """Validate one settings mapping; ``origin`` says where it came from, for the message."""
    if settings is None:
        return
    where = "%s (%s)" % (_unit(name), origin)
    if not isinstance(settings, dict):
        raise UnitSettingsError("%s: unit settings must be a mapping of sections, not %s"
                                % (where, type(settings).__name__))
    for section, directives in settings.items():
        if not isinstance(section, str) or not NAME.match(section):
            raise UnitSettingsError("%s: invalid section name %r (must match %s)"
                                    % (where, section, NAME.pattern))
        if section not in SECTIONS:
            # systemd ignores an unknown section with a warning: the render would restart the
            # service and change nothing.
            raise UnitSettingsError("%s: unknown section [%s]%s (a service unit has %s)"
                                    % (where, section, _closest(section, SECTIONS), ", ".join(SECTIONS)))
        if directives is None:
            continue
        if not isinstance(directives, dict):
            raise UnitSettingsError("%s: [%s] must be a mapping of directives, not %s"
                                    % (where, section, type(directives).__name__))
        for directive, value in directives.items():
            if not isinstance(directive, str) or not NAME.match(directive):
                raise UnitSettingsError("%s: [%s] invalid directive name %r (must match %s)"
                                        % (where, section, directive, NAME.pattern))
            if directive not in SECTIONS[section]:
                raise UnitSettingsError("%s: [%s] unknown directive %r%s (systemd 252 knows no such "
                                        "directive in [%s])" % (where, section, directive,
                                                                _closest(directive, SECTIONS[section]), section))
            problem = _value_problem(value)
            if problem:
                raise UnitSettingsError("%s: [%s] %s: %s" % (where, section, directive, problem))


def unit_settings(name, fleet, service):
    """The merged settings of one unit: ``fleet`` (every unit) overlaid with ``service`` (this
    service's own), directive by directive; the service's value wins, None included.

    :param name: the service (``hailo-ocr``) or unit (``hailo-ocr.service``) name, for messages.
    :returns: ``{Section: {Directive: value}}``, sections and directives in first-seen order.
    :raises UnitSettingsError: naming the service, section and directive at fault.
    """
    _check(name, fleet, "fleet-wide unit settings")
    _check(name, service, "unit settings of the service")
    merged = {}
    for source in (fleet, service):
        for section, directives in (source or {}).items():
            target = merged.setdefault(section, {})
            for directive, value in (directives or {}).items():
                target[directive] = list(value) if isinstance(value, list) else value
    return merged


def _text(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).strip(" \t")


def _values(value):
    """The rendered lines' values of one setting; empty for None (remove) and []."""
    if value is None:
        return []
    return [_text(item) for item in (value if isinstance(value, list) else [value])]


def _normalise(directives):
    return [[str(section), str(key), str(value)] for section, key, value in (directives or [])]


def overlay(directives, settings):
    """The directives after the settings are applied.

    For each directive set: every existing entry of it in its section is replaced by the new
    value(s), placed where the first one was; a directive the section lacks is appended at the
    end of the section (its last entry); a section the unit lacks is appended (Unit, Service,
    Install first, then the others by name). None removes. Entries of directives not set keep
    their order and values exactly.

    :param directives: ``[[section, key, value], ...]`` as ``service_info`` reports them.
    :param settings: ``{Section: {Directive: value}}``, already validated (``unit_settings``).
    :returns: a new list of ``[section, key, value]`` lists.
    """
    before = _normalise(directives)
    wanted = {}
    for section, items in (settings or {}).items():
        for directive, value in (items or {}).items():
            wanted[(section, directive)] = _values(value)
    after = []
    placed = set()
    for section, key, value in before:
        if (section, key) not in wanted:
            after.append([section, key, value])
        elif (section, key) not in placed:
            placed.add((section, key))
            after.extend([section, key, item] for item in wanted[(section, key)])
    present = set(entry[0] for entry in before)
    for section, items in (settings or {}).items():
        if section not in present:
            continue
        missing = [[section, directive, item] for directive in (items or {})
                   if (section, directive) not in placed for item in wanted[(section, directive)]]
        if not missing:
            continue
        indexes = [index for index, entry in enumerate(after) if entry[0] == section]
        at = indexes[-1] + 1 if indexes else len(after)
        after[at:at] = missing
    new_sections = [section for section in settings or {} if section not in present]
    new_sections.sort(key=lambda section: (FIRST_SECTIONS.index(section) if section in FIRST_SECTIONS
                                           else len(FIRST_SECTIONS), section))
    for section in new_sections:
        after.extend([section, directive, item] for directive in (settings[section] or {})
                     for item in wanted[(section, directive)])
    return after


def _assigned(directives, section, key):
    return [value for entry_section, entry_key, value in directives
            if entry_section == section and entry_key == key]


def environment_names(value):
    """Variable names an ``Environment=`` value assigns, in order, following systemd's syntax:
    space-separated ``NAME=value`` words, each may be double- or single-quoted (quotes may also
    start inside a word, ``A="x y"``) and backslash-escaped. Words without ``=`` are ignored,
    as systemd does."""
    names = []
    for word in _environment_words(str(value)):
        if "=" in word:
            name = word.split("=", 1)[0]
            if name and name not in names:
                names.append(name)
    return names


def _environment_words(text):
    words = []
    word = None
    quote = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"' and index + 1 < len(text):
                index += 1
                word += text[index]
            else:
                word += char
        elif char in " \t\n\r":
            if word is not None:
                words.append(word)
                word = None
        elif char in "\"'":
            quote = char
            word = word or ""
        elif char == "\\" and index + 1 < len(text):
            index += 1
            word = (word or "") + text[index]
        else:
            word = (word or "") + char
        index += 1
    if word is not None:
        words.append(word)
    return words


def _environment_assigned(directives, section):
    """Variable names the ``Environment`` entries of ``section`` leave assigned (an empty
    ``Environment=`` resets the list, as in systemd)."""
    names = []
    for value in _assigned(directives, section, ENVIRONMENT):
        if not value.strip():
            names = []
            continue
        names.extend(name for name in environment_names(value) if name not in names)
    return names


def _show(key, values):
    """``Key=value; ...`` for a message, environment values masked (they can hold tokens)."""
    return "; ".join(mask_environment("%s=%s" % (key, value)) for value in values)


def refusals(unit_name, before, after, settings):
    """Why rendering ``after`` over ``before`` is refused: one message per directive the
    settings do not set whose values differ (dropped, added or changed), and one per
    ``Environment`` variable the unit assigned and the settings' ``Environment`` would stop
    assigning without naming it.

    :returns: a list of messages, empty when the render is safe.
    """
    unit = _unit(unit_name)
    before = _normalise(before)
    after = _normalise(after)
    settings = settings or {}
    is_set = set((section, directive) for section, items in settings.items() for directive in (items or {}))
    messages = []
    keys = []
    for section, key, _value in before + after:
        if (section, key) not in keys:
            keys.append((section, key))
    for section, key in keys:
        old = _assigned(before, section, key)
        new = _assigned(after, section, key)
        if (section, key) in is_set:
            if key == ENVIRONMENT:
                named = []
                for value in _values(settings[section][key]):
                    named.extend(environment_names(value))
                kept = _environment_assigned(after, section)
                for name in _environment_assigned(before, section):
                    if name not in kept and name not in named:
                        messages.append(
                            "%s: [%s] Environment would drop %s (set it in the inventory's "
                            "Environment too, or use the force switch)" % (unit, section, name))
            continue
        if old == new:
            continue
        if not new:
            messages.append("%s: [%s] %s would be dropped" % (unit, section, _show(key, old)))
        elif not old:
            messages.append("%s: [%s] %s would be added" % (unit, section, _show(key, new)))
        else:
            messages.append("%s: [%s] %s would change to %s" % (unit, section, _show(key, old), _show(key, new)))
    return messages


def render_lines(directives):
    """The unit file body (no header comment): ``[Section]`` headers with a blank line between
    sections, ``Key=Value`` lines in order, a trailing newline; empty for no directives."""
    lines = []
    current = None
    for section, key, value in _normalise(directives):
        if section != current:
            if lines:
                lines.append("")
            lines.append("[%s]" % section)
            current = section
        lines.append("%s=%s" % (key, value))
    return "\n".join(lines) + "\n" if lines else ""


def _has_settings(settings):
    return any(items for items in (settings or {}).values())


def unit_plan(name, directives, fleet, service, reason=None):
    """Everything the role needs to render one unit.

    :param name: service or unit name (messages say ``<service>.service``).
    :param directives: the device's directives, or None when its unit could not be read.
    :param reason: why the unit could not be read (``service_info``' ``unit.parse_error``).
    :returns: ``{"settings": merged settings, "directives": after (None when unreadable),
        "changed": bool, "refusals": [messages], "body": render_lines(after) or None}``.
    """
    settings = unit_settings(name, fleet, service)
    if directives is None:
        problems = []
        if _has_settings(settings):
            problems.append("%s: the device's unit could not be read (%s), so it cannot be rendered"
                            % (_unit(name), reason or "no directives were reported"))
        return {"settings": settings, "directives": None, "changed": False, "refusals": problems,
                "body": None}
    before = _normalise(directives)
    after = overlay(before, settings)
    return {
        "settings": settings,
        "directives": after,
        "changed": after != before,
        "refusals": refusals(name, before, after, settings),
        "body": render_lines(after),
    }


def units_plan(units_by_service, fleet, per_service, reasons=None):
    """``unit_plan`` of every service of one device.

    :param units_by_service: service name -> its unit's directives, or None when unreadable.
    :param fleet: fleet-wide settings, applied to every unit.
    :param per_service: service name -> its own settings (services not on the device ignored).
    :param reasons: optional service name -> why its unit could not be read.
    :returns: service name -> ``unit_plan`` result, sorted by name.
    :raises UnitSettingsError: for bad settings, also those of services not on this device, so
        that a typo fails on every device alike.
    """
    per_service = per_service or {}
    reasons = reasons or {}
    if not isinstance(per_service, dict):
        raise UnitSettingsError("per-service unit settings must be a mapping of service names, not %s"
                                % type(per_service).__name__)
    _check("every service", fleet, "fleet-wide unit settings")
    for name in sorted(per_service, key=str):
        _check(name, per_service[name], "unit settings of the service")
    return dict(
        (name, unit_plan(name, (units_by_service or {})[name], fleet, per_service.get(name), reasons.get(name)))
        for name in sorted(units_by_service or {}))


def units_from_facts(services):
    """``(units_by_service, reasons)`` for ``units_plan`` from ``service_info``' ``services``.

    A value that is not a mapping is taken as the directives themselves (or None), so a mapping
    of service name to directives passes through unchanged.
    """
    units = {}
    reasons = {}
    for name, found in (services or {}).items():
        if not isinstance(found, dict):
            units[name] = found
            continue
        unit = found.get("unit") or {}
        units[name] = unit.get("directives")
        if units[name] is None:
            reasons[name] = unit.get("parse_error") or "service_info reported no directives"
    return units, reasons
