# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog: one description of its entry keys, and the one validator built on it.

Pure; no Ansible import. The catalog (the role's ``_reconcile_catalog``: the shipped
``reconcile_default_services`` with the inventory's ``reconcile_services`` merged over it) maps
each service name to an entry whose keys :data:`KEYS` describes. The engine (``port_map``), the
rollout (``rollout``) and the config settings (``config_template``) take their types, choices,
defaults and messages from here; :func:`catalog_errors` checks a whole catalog, with the
settings that go with it, before any device is touched. ``meta/argument_specs.yml`` documents
the same keys, and a unit test keeps the two in step.
"""

from __future__ import annotations

import json

from ansible_collections.hailo.services.plugins.module_utils import rules
from ansible_collections.hailo.services.plugins.plugin_utils.unit_file import UnitSettingsError
from ansible_collections.hailo.services.plugins.plugin_utils.unit_file import unit_settings as _unit_settings

MIN_PORT = rules.MIN_PORT
MAX_PORT = rules.MAX_PORT

# Every key a catalog entry may carry. ``type`` is the argument spec type; ``nullable`` keys
# take null as "not set".
KEYS = {
    "port": {
        "type": "int", "range": (MIN_PORT, MAX_PORT), "default": None,
        "description": "The port the service uses when the device does not say.",
    },
    "frozen": {
        "type": "bool", "default": False,
        "description": "A frozen service never moves and wins a shared port.",
    },
    "priority": {
        "type": "int", "default": 0,
        "description": "The highest priority wins a shared port (then the alphabetically first name).",
    },
    "state": {
        "type": "str", "choices": ("enabled", "standby"), "default": "enabled",
        "description": "enabled: the service must run and answer; standby: its run state is kept.",
    },
    "health_path": {
        "type": "str", "default": None, "nullable": True,
        "description": "The HTTP path of its health check (/health unless set; hailo-ollama's is /api/version).",
    },
    "unit": {
        "type": "dict", "default": None, "nullable": True,
        "description": "systemd directives for its unit, {Section: {Directive: value}}, over reconcile_unit_settings.",
    },
    "config_mode": {
        "type": "str", "choices": ("edit", "template"), "default": None,
        "description": "How its config file is managed, edit or template (reconcile_config_mode unless set).",
    },
    "settings": {
        "type": "dict", "default": None, "nullable": True,
        "description": "Template mode: its settings, merged over the built-in settings of its kind.",
    },
}


class CatalogError(ValueError):
    """Arguments the validator cannot work with (not the catalog's own problems, which it returns)."""


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


# --------------------------------------------------------------------------- one value


def _checker(key, spec):
    """A function ``(value, what=key)`` returning why ``value`` is no valid ``key``, or None."""
    kind = spec["type"]
    nullable = spec.get("nullable", False)
    if "range" in spec:
        low, high = spec["range"]

        def check(value, what=key):
            if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                return None
            return "%s %r is not an integer in %d-%d" % (what, value, low, high)
    elif kind == "int":
        def check(value, what=key):
            if isinstance(value, int) and not isinstance(value, bool):
                return None
            return "%s must be an integer, got %r" % (what, value)
    elif kind == "bool":
        def check(value, what=key):
            return None if isinstance(value, bool) else "%s must be true or false, got %r" % (what, value)
    elif "choices" in spec:
        choices = spec["choices"]

        def check(value, what=key):
            if isinstance(value, str) and value in choices:
                return None
            return "%s must be one of %s, got %r" % (what, ", ".join(choices), value)
    elif kind == "str":
        def check(value, what=key):
            if isinstance(value, str) or (nullable and value is None):
                return None
            return "%s must be a string, got %r" % (what, value)
    else:
        def check(value, what=key):
            if isinstance(value, dict) or (nullable and value is None):
                return None
            return "%s must be a mapping, got %s" % (what, show(value))
    return check


# Built once: the engine checks every service's port, frozen and priority with these.
CHECKS = dict((key, _checker(key, spec)) for key, spec in KEYS.items())


def value_problem(key, value, what=None):
    """Why ``value`` is no valid ``key`` of an entry, as a phrase starting with ``what`` (default:
    the key), e.g. ``state must be one of enabled, standby, got 'off'``; None when it is valid."""
    return CHECKS[key](value, what or key)


def name_problem(name):
    """Why ``name`` cannot name a service (it becomes file names), or None."""
    if rules.is_service_name(name):
        return None
    return ("service name %r is not a safe file name (it becomes paths like "
            "/etc/hailo/<name>.yaml): use %s" % (name, rules.SERVICE_NAME_RULE))


def entry_errors(name, spec):
    """The problems of one catalog entry: its name, unknown keys, and each value's type or choice."""
    errors = []
    problem = name_problem(name)
    if problem:
        errors.append(problem)
    if spec is None:
        return errors
    if not isinstance(spec, dict):
        return errors + ["%s: the entry must be a mapping of keys, got %s" % (name, show(spec))]
    for key in spec:
        if key not in KEYS:
            errors.append("%s: unknown key %r; the known keys are %s" % (name, key, ", ".join(KEYS)))
    for key, check in CHECKS.items():
        if key in spec:
            problem = check(spec[key])
            if problem:
                errors.append("%s: %s" % (name, problem))
    return errors


# --------------------------------------------------------------------------- config settings


def _known_settings(kind_defaults):
    """A kind's built-in settings plus ``server.host``, which every config may set."""
    known = {"server": {"host": None}}
    for key, value in kind_defaults.items():
        known[key] = {**known["server"], **value} if key == "server" and isinstance(value, dict) else value
    return known


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


def _settings_problems(name, source, given, kind_defaults):
    """A settings mapping that sets ``server.port`` or, for a known kind, an unknown key path."""
    errors = []
    server = given.get("server")
    if isinstance(server, dict) and "port" in server:
        errors.append("%s: %s sets server.port; the port map owns it (use port in "
                      "reconcile_services)" % (name, source))
        given = dict(given, server=dict((k, v) for k, v in server.items() if k != "port"))
    if kind_defaults is not None:
        errors.extend("%s: %s (%s)" % (name, problem, source)
                      for problem in _unknown_paths(_known_settings(kind_defaults), given))
    return errors


def config_errors(catalog, defaults=None, settings=None, mode="edit", entries=True):
    """Problems with the config settings: the default mode, each service's ``config_mode`` and
    ``settings`` (with ``entries``; :func:`catalog_errors` checks those with the other keys), and
    the inventory's settings. Settings must be mappings without ``server.port`` (the port map
    owns it); for a service of a known kind (one in ``defaults``) every key path must exist in its
    built-in settings, so a typo is named instead of silently rendered.
    """
    catalog = catalog or {}
    defaults = defaults or {}
    settings = settings or {}
    errors = []
    problem = value_problem("config_mode", mode, "reconcile_config_mode")
    if problem:
        errors.append(problem)
    if not isinstance(settings, dict):
        return errors + ["reconcile_config_settings must be a mapping of service name to settings"]
    for name in sorted(set(catalog) | set(settings), key=str):
        spec = catalog.get(name) or {}
        if not isinstance(spec, dict):
            spec = {}  # entry_errors names it
        if entries and "config_mode" in spec:
            problem = value_problem("config_mode", spec["config_mode"])
            if problem:
                errors.append("%s: %s" % (name, problem))
        for source, given in (("settings", spec.get("settings")),
                              ("reconcile_config_settings", settings.get(name))):
            if given is None:
                continue
            if not isinstance(given, dict):
                if entries or source != "settings":
                    errors.append("%s: %s" % (name, value_problem("settings", given, source)))
                continue
            errors.extend(_settings_problems(name, source, given, defaults.get(name)))
    return errors


# --------------------------------------------------------------------------- unit settings


def unit_errors(catalog, fleet=None):
    """Problems with the unit settings: ``reconcile_unit_settings`` (``fleet``) and each entry's
    ``unit`` that is a mapping, one message per source naming the unit, section and directive."""
    sources = [("every service", fleet, None)]
    for name in sorted(catalog, key=str):
        spec = catalog[name]
        if isinstance(spec, dict) and isinstance(spec.get("unit"), dict):
            sources.append((name, None, spec["unit"]))
    errors = []
    for name, fleet_settings, service_settings in sources:
        try:
            _unit_settings(name, fleet_settings, service_settings)
        except UnitSettingsError as exc:
            errors.append(str(exc))
    return errors


# --------------------------------------------------------------------------- the catalog


def catalog_errors(catalog, config_defaults=None, config_settings=None, config_mode="edit", unit_settings=None):
    """Every problem of the catalog and of the settings that go with it, before any device is
    touched: one message per problem, naming the service and the key; empty when all is well.

    :param catalog: service name -> entry (the keys of :data:`KEYS`).
    :param config_defaults: service kind -> its built-in settings (``_reconcile_config_defaults``);
        a service of a known kind may only set key paths its kind has.
    :param config_settings: service name -> the inventory's settings (``reconcile_config_settings``).
    :param config_mode: the default config mode (``reconcile_config_mode``).
    :param unit_settings: the fleet-wide unit settings (``reconcile_unit_settings``).
    :raises CatalogError: when ``config_defaults`` is not a mapping (the role's data, not the
        inventory's).
    """
    if config_defaults is not None and not isinstance(config_defaults, dict):
        raise CatalogError("config_defaults must be a mapping of service kind to its settings, got %s"
                           % type(config_defaults).__name__)
    if not isinstance(catalog, dict):
        return ["the catalog must be a mapping of service name to its entry, got %s" % type(catalog).__name__]
    errors = []
    for name in sorted(catalog, key=str):
        errors.extend(entry_errors(name, catalog[name]))
    errors.extend(config_errors(catalog, config_defaults, config_settings, config_mode, entries=False))
    errors.extend(unit_errors(catalog, unit_settings))
    return errors
