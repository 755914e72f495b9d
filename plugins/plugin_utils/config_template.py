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

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import config_errors, show, value_problem

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
    problem = value_problem("config_mode", mode)
    if problem:
        raise ConfigTemplateError(problem)
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


def settings_errors(catalog, defaults=None, settings=None, mode="edit"):
    """Problems with the config settings, before any device is touched: ``catalog.config_errors``
    (which ``catalog.catalog_errors`` runs with the checks of the other keys).

    Checks the default mode and each service's ``config_mode``; that ``settings`` are
    mappings without ``server.port`` (the port map owns it); and, for a service of a known
    kind (one with built-in defaults), that every key path exists in its defaults, so a typo
    is named instead of silently rendered. Settings of services of unknown kinds are free.
    """
    return config_errors(catalog, defaults, settings, mode)
