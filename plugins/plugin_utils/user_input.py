# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables a user sets, checked against the roles' argument specs before any device is
contacted (no Ansible import but Ansible's own validator, which is pure Python).

:func:`input_problems` takes each device's variables with the roles' prefixes, as the
inventory and ``-e`` set them (not the roles' defaults), and returns one message per problem:
a value of the wrong type or choice, naming the variable and what it allows
(``ArgumentSpecValidator`` of ``ansible.module_utils.common.arg_spec``, the one
``validate_argument_spec`` uses), a ``reconcile_serial`` that is no batch size, and a name that
no spec knows, with the closest known one. A message shared by several devices is given once,
naming them.
"""

from __future__ import annotations

import copy
import difflib

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import catalog_errors, show
from ansible_collections.hailo.services.plugins.plugin_utils.fleet import FleetError, fleet_serial

# Variables with a role's prefix that the collection sets itself, as facts, for the report.
SET_BY_COLLECTION = frozenset(("reconcile_result", "reconcile_port_map"))

_ALLOWED = {
    "int": "an integer", "float": "a number", "bool": "true or false", "dict": "a mapping",
    "str": "a string", "path": "a path", "list": "a list", "raw": "any value",
}


def spec_options(argument_specs):
    """Every option of every entry point of a role's ``argument_specs`` (the parsed
    ``meta/argument_specs.yml``), name -> its spec; the entry points share most of them."""
    options = {}
    for entry in (argument_specs or {}).values():
        for name, spec in ((entry or {}).get("options") or {}).items():
            options.setdefault(name, spec)
    return options


def allowed(spec):
    """What a variable's spec allows, as a phrase: ``one of fleet, host``, ``a list of mappings``."""
    if spec.get("choices"):
        return "one of %s" % ", ".join(str(c) for c in spec["choices"])
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        element = _ALLOWED.get(spec["elements"], spec["elements"])
        element = element.split(" ", 1)[1] if " " in element else element
        what = "a list of %ss" % element
        if spec.get("options"):
            what += " with the keys %s" % ", ".join(spec["options"])
        return what
    return _ALLOWED.get(kind, kind)


def _shown(value, limit=80):
    text = repr(str(value)) if isinstance(value, str) else show(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _variable_problems(name, value, spec):
    """Why ``value`` is no valid ``name`` under ``spec``; empty when it is valid."""
    spec = copy.deepcopy(spec)
    spec.pop("required", None)  # only what was set is checked; the roles supply the rest
    spec.pop("default", None)
    result = ArgumentSpecValidator({name: spec}).validate({name: value})
    problems = []
    for error in result.errors:
        kind = type(error).__name__
        if kind in ("ArgumentTypeError", "ArgumentValueError") and "found in" not in error.msg:
            problems.append("%s: %s is not allowed; allowed: %s" % (name, _shown(value), allowed(spec)))
        else:  # a nested option (e.g. reconcile_ranges[].start): Ansible's message says where
            problems.append("%s: %s" % (name, error.msg))
    if not problems and name == "reconcile_serial":
        try:
            fleet_serial(value)
        except FleetError as exc:
            problems.append(str(exc))
    return list(dict.fromkeys(problems))


def _merged(base, over):
    """``over`` merged into ``base`` key by key, recursively (the role's ``combine(recursive=true)``)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def _source(problem):
    """The variable a catalog problem comes from, as the user wrote it."""
    if "(fleet-wide unit settings)" in problem:
        return "reconcile_unit_settings"
    if "(reconcile_config_settings)" in problem or "reconcile_config_settings " in problem:
        return "reconcile_config_settings"
    if problem.startswith("reconcile_config_mode"):
        return "reconcile_config_mode"
    return "reconcile_services"


def catalog_problems(variables, options, config_defaults):
    """The catalog's problems (the role's preflight check, here before any device is contacted):
    the shipped catalog (the spec's default) with ``reconcile_services`` merged over it, the
    config settings and the unit settings, each naming the service and the key."""
    catalog = variables.get("reconcile_default_services", options["reconcile_default_services"].get("default"))
    catalog = _merged(catalog or {}, variables.get("reconcile_services") or {})
    return ["%s: %s" % (_source(problem), problem)
            for problem in catalog_errors(
                catalog, config_defaults=config_defaults,
                config_settings=variables.get("reconcile_config_settings") or {},
                config_mode=variables.get("reconcile_config_mode", "edit"),
                unit_settings=variables.get("reconcile_unit_settings") or {})]


def closest(name, known):
    """The known name nearest to ``name`` (a misspelling), or None."""
    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def input_problems(host_vars, options, prefixes, internal=SET_BY_COLLECTION, config_defaults=None):
    """Every problem of the variables the user set, once per message with the devices it concerns.

    :param host_vars: device -> {variable: value}, the variables of each device that start with
        one of ``prefixes``, as the inventory and ``-e`` set them (already templated).
    :param options: variable -> its argument spec (:func:`spec_options` of every role).
    :param prefixes: the roles' variable prefixes (``reconcile_``, ``source_tree_``).
    :param internal: names with a prefix that the collection sets itself (never refused).
    :param config_defaults: the built-in config settings per service kind
        (``_reconcile_config_defaults``); with it, the catalog is checked too, once its
        variables have the right types.
    :returns: a list of messages, sorted by variable.
    """
    found = {}
    for host, variables in host_vars.items():
        for name in sorted(variables):
            if not name.startswith(tuple(prefixes)) or name in internal:
                continue
            if name in options:
                messages = _variable_problems(name, variables[name], options[name])
            else:
                prefix = next(p for p in prefixes if name.startswith(p))
                near = closest(name, [o for o in options if o.startswith(prefix)])
                hint = "; did you mean %s?" % near if near else ""
                messages = ["%s: no such variable%s (hailo.services knows the %s* variables "
                            "of its argument specs)" % (name, hint, prefix)]
            for message in messages:
                found.setdefault((name, message), []).append(host)
        catalog_vars = ("reconcile_default_services", "reconcile_services", "reconcile_config_settings",
                        "reconcile_config_mode", "reconcile_unit_settings")
        if config_defaults is not None and "reconcile_default_services" in options and not any(
                name in catalog_vars for name, _message in found):
            for message in catalog_problems(variables, options, config_defaults):
                found.setdefault((message.split(":", 1)[0], message), []).append(host)
    every = set(host_vars)
    out = []
    for (_name, message), hosts in sorted(found.items()):
        if set(hosts) != every:
            message += " (set for %s)" % ", ".join(hosts[:5] + (["%d more" % (len(hosts) - 5)] if len(hosts) > 5 else []))
        out.append(message)
    return out


def group_problem(group, groups, play_hosts, limited):
    """Why the fleet group cannot be rolled out, or None.

    :param group: ``reconcile_fleet_group`` as the devices see it (inventory or ``-e``).
    :param groups: the inventory's groups (``groups``).
    :param play_hosts: the hosts of the checking play, whose ``hosts:`` names the group as the
        play sees it: play ``hosts:`` are templated with extra vars only, not inventory vars.
    :param limited: whether ``--limit`` is in force (the play then holds part of the group).
    """
    members = groups.get(group)
    if members is None:
        return ("reconcile_fleet_group: the inventory has no group %r; put the devices in it "
                "(the default group is hailo_devices) or pass another with -e reconcile_fleet_group=NAME"
                % group)
    if not members:
        return ("reconcile_fleet_group: the inventory's group %r holds no device; add the devices "
                "to it or pass another with -e reconcile_fleet_group=NAME" % group)
    devices = [host for host in play_hosts if host != "localhost" or host in members]
    if any(host not in members for host in devices) or (not limited and set(members) - set(play_hosts)):
        return ("reconcile_fleet_group is %r here, but the plays run on another group: a play's "
                "hosts see extra vars only, not the inventory's; pass it with -e "
                "reconcile_fleet_group=%s" % (group, group))
    return None
