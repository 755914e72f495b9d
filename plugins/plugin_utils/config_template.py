# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owned service configs (``config_mode: template``), worked out on the controller.

Pure; no Ansible import. The role renders ``/etc/hailo/<service>.yaml`` of a service in
``template`` mode from one settings dict: the role's built-in defaults for the service's kind,
merged with the catalog's ``settings`` for the service, merged with the inventory's
``reconcile_config_settings`` for it, with ``server.port`` always taken from the port map.
Before the role replaces a file it compares the parsed data of the file on the device with
the data it would render, so that no hand-tuned value is lost by surprise.
"""

from __future__ import annotations

import json

MODES = ("edit", "template")
PORT_PATH = ("server", "port")


class ConfigTemplateError(ValueError):
    """Settings the role cannot render; the message names the service and the setting."""


def merge(base, override):
    """Recursive merge: mappings merge key by key (base order kept, new keys appended);
    any other value in ``override`` replaces the one in ``base``."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge(base[key], value) if key in base else value
    return merged


def service_mode(spec, default_mode="edit"):
    """The config mode of one catalog entry, ``edit`` or ``template``."""
    mode = (spec or {}).get("config_mode", default_mode)
    if mode not in MODES:
        raise ConfigTemplateError("config_mode must be one of %s, got %r" % (", ".join(MODES), mode))
    return mode


def config_data(name, port, defaults=None, catalog_settings=None, overrides=None):
    """The data one service's YAML is rendered from.

    ``server`` comes first with ``host`` then ``port`` (the port map's), then its other keys,
    then the other sections in the order of the defaults (settings-only sections last).
    """
    data = merge(merge(dict(defaults or {}), catalog_settings or {}), overrides or {})
    server = data.pop("server", None) or {}
    if not isinstance(server, dict):
        raise ConfigTemplateError("service %s: server must be a mapping, got %r" % (name, server))
    rest = dict((key, value) for key, value in server.items() if key not in ("host", "port"))
    ordered_server = {"host": server.get("host", "0.0.0.0"), "port": int(port)}
    ordered_server.update(rest)
    ordered = {"server": ordered_server}
    ordered.update(data)
    return ordered


def device_config_data(discovered, catalog, plan, defaults=None, settings=None, mode="edit"):
    """Service name to the data to render, for every service on the device in template mode.

    :param discovered: ``service_info``' ``services``.
    :param catalog: the service catalog (``config_mode``, ``settings``).
    :param plan: the port map (``reconcile_ports``); its ``ports`` give ``server.port``.
    :param defaults: service kind (name) to its built-in settings.
    :param settings: service name to the inventory's overrides (``reconcile_config_settings``).
    :param mode: the default config mode (``reconcile_config_mode``).
    """
    catalog = catalog or {}
    defaults = defaults or {}
    settings = settings or {}
    service_mode({}, mode)
    configs = {}
    for name in sorted(discovered or {}):
        spec = catalog.get(name) or {}
        try:
            if service_mode(spec, mode) != "template":
                continue
        except ConfigTemplateError as exc:
            raise ConfigTemplateError("service %s: %s" % (name, exc))
        if name not in plan.get("ports", {}):
            raise ConfigTemplateError("service %s is on the device but not in the port map" % name)
        configs[name] = config_data(name, plan["ports"][name], defaults.get(name),
                                    spec.get("settings"), settings.get(name))
    return configs


def _same(left, right):
    """Equal data, types included (``1``, ``1.0`` and ``true`` all differ)."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


def show(value):
    """A value the way an operator writes it in YAML flow style: ``[en, de]``, ``{a: 1}``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(show(item) for item in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (key, show(item)) for key, item in value.items())
    if isinstance(value, str) and (value == "" or value.strip() != value or ", " in value):
        return json.dumps(value)
    return str(value)


def data_changes(current, rendered, ignore=(PORT_PATH,), path=()):
    """Every leaf whose value would change, as ``(key path, old, new, kind)`` tuples.

    ``kind`` is ``changed``, ``removed`` (only in ``current``) or ``added`` (only in
    ``rendered``). Paths in ``ignore`` (default ``server.port``) are skipped.
    """
    changes = []
    if isinstance(current, dict) and isinstance(rendered, dict):
        for key in list(current) + [key for key in rendered if key not in current]:
            where = path + (str(key),)
            if where in ignore:
                continue
            if key not in rendered:
                changes.append((where, current[key], None, "removed"))
            elif key not in current:
                changes.append((where, None, rendered[key], "added"))
            else:
                changes.extend(data_changes(current[key], rendered[key], ignore, where))
    elif not _same(current, rendered):
        changes.append((path, current, rendered, "changed"))
    return changes


def describe_change(name, change):
    """``hailo-ocr: ocr.languages would change from [en, de] to [en]``."""
    where, old, new, kind = change
    key = ".".join(where) or "(the whole file)"
    if kind == "removed":
        return "%s: %s would be removed (now %s)" % (name, key, show(old))
    if kind == "added":
        return "%s: %s would be added as %s" % (name, key, show(new))
    return "%s: %s would change from %s to %s" % (name, key, show(old), show(new))


def device_config_changes(discovered, configs):
    """Messages for every value other than the port that rendering would change on a device.

    Only services switching to template mode are compared: a file the role rendered before
    (``owned``, by its marker comment) holds no hand-tuned values, and a change of its settings
    in the inventory is the point of owning it. A service whose current YAML could not be
    parsed is skipped here (discovery already reports it).
    """
    messages = []
    for name in sorted(configs or {}):
        found = (discovered or {}).get(name) or {}
        if found and not found.get("owned") and not found.get("error") and "data" not in found:
            # Without the contents no hand-tuned value could be seen: never render blind.
            raise ConfigTemplateError("service %s: discovery did not return its config's contents "
                                      "(service_info return_data must be true in template mode)" % name)
        current = found.get("data")
        if found.get("owned") or not isinstance(current, dict):
            continue
        for change in data_changes(current, configs[name]):
            messages.append(describe_change(name, change))
    return messages


def _unknown_paths(known, given, path=()):
    """Key paths of ``given`` that ``known`` (a kind's defaults) does not have."""
    problems = []
    for key, value in given.items():
        where = path + (str(key),)
        if key not in known:
            problems.append("unknown setting %s" % ".".join(where))
        elif isinstance(known[key], dict):
            if not isinstance(value, dict):
                problems.append("setting %s must be a mapping, got %s" % (".".join(where), show(value)))
            else:
                problems.extend(_unknown_paths(known[key], value, where))
    return problems


def settings_errors(catalog, defaults=None, settings=None, mode="edit"):
    """Problems with the config settings, before any device is touched.

    Checks the default mode and each service's ``config_mode``; that ``settings`` are
    mappings without ``server.port`` (the port map owns it); and, for a service of a known
    kind (one with built-in defaults), that every key path exists in its defaults, so a typo
    is named instead of silently rendered. Settings of services of unknown kinds are free.
    """
    catalog = catalog or {}
    defaults = defaults or {}
    settings = settings or {}
    errors = []
    if mode not in MODES:
        errors.append("reconcile_config_mode must be one of %s, got %r" % (", ".join(MODES), mode))
    if not isinstance(settings, dict):
        return errors + ["reconcile_config_settings must be a mapping of service name to settings"]
    for name in sorted(set(catalog) | set(settings)):
        spec = catalog.get(name) or {}
        if "config_mode" in spec and spec["config_mode"] not in MODES:
            errors.append("%s: config_mode must be one of %s, got %r"
                          % (name, ", ".join(MODES), spec["config_mode"]))
        for source, given in (("settings", spec.get("settings")),
                              ("reconcile_config_settings", settings.get(name))):
            if given is None:
                continue
            if not isinstance(given, dict):
                errors.append("%s: %s must be a mapping, got %s" % (name, source, show(given)))
                continue
            server = given.get("server")
            if isinstance(server, dict) and "port" in server:
                errors.append("%s: %s sets server.port; the port map owns it (use port in "
                              "reconcile_services)" % (name, source))
                given = dict(given, server=dict((k, v) for k, v in server.items() if k != "port"))
            if name in defaults:
                known = merge({"server": {"host": None}}, defaults[name])
                errors.extend("%s: %s (%s)" % (name, problem, source)
                              for problem in _unknown_paths(known, given))
    return errors
