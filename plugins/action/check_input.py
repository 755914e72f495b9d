# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for hailo.services.check_input: the user's variables checked before any device is
contacted (see the module's docs)."""

from __future__ import annotations

import os

import yaml

from ansible_collections.hailo.services.plugins.plugin_utils.controller_action import ControllerAction, documented_spec
from ansible_collections.hailo.services.plugins.plugin_utils.user_input import (
    group_problem,
    input_problems,
    spec_options,
)

# The collection's root, installed or checked out: the roles' specs are read from there.
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ARGUMENT_SPEC = documented_spec("check_input")


def _role_options(role):
    path = os.path.join(COLLECTION, "roles", role, "meta", "argument_specs.yml")
    with open(path, encoding="utf-8") as handle:
        return spec_options(yaml.safe_load(handle)["argument_specs"])


def _config_defaults():
    """The reconcile role's built-in config settings (plain data in its vars/main.yml)."""
    path = os.path.join(COLLECTION, "roles", "reconcile", "vars", "main.yml")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle).get("_reconcile_config_defaults") or {}


class ActionModule(ControllerAction):
    """Checks every device's role variables against the roles' argument specs, on the controller."""

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def _user_vars(self, host_vars, prefixes):
        """The variables with a prefix, templated; one that cannot be is a problem of its own."""
        values, broken = {}, []
        for name in list(host_vars):
            if not str(name).startswith(prefixes):
                continue
            try:
                values[name] = host_vars[name]
            except Exception as exc:  # pylint: disable=broad-except  # any templating error
                broken.append("%s: cannot be evaluated: %s" % (name, exc))
        return values, broken

    def compute(self, args, task_vars):
        options, prefixes = {}, []
        for role in args["roles"]:
            options.update(_role_options(role))
            prefixes.append(role + "_")
        prefixes = tuple(prefixes)
        groups = task_vars.get("groups") or {}
        hostvars = task_vars.get("hostvars") or {}
        play_hosts = list(task_vars.get("ansible_play_hosts_all") or ())
        # Every device of the group (those outside --limit lend their discovery, with their own
        # variables); with no group, the variables this host sees (the -e ones among them).
        hosts = list(groups.get(args["group"]) or ()) or [task_vars.get("inventory_hostname")]
        host_vars, problems = {}, []
        for host in hosts:
            values, broken = self._user_vars(hostvars[host] if host in hostvars else task_vars, prefixes)
            host_vars[host] = values
            problems.extend(broken)
        problems.extend(input_problems(host_vars, options, prefixes,
                                       config_defaults=_config_defaults() if "reconcile" in args["roles"] else None))
        problem = group_problem(args["group"], groups, play_hosts, bool(task_vars.get("ansible_limit")))
        if problem:
            problems.insert(0, problem)
        if problems:
            raise ValueError("Refused before any device was contacted:\n- " + "\n- ".join(dict.fromkeys(problems)))
        return {"msg": "%d device(s) of %s: every variable checked" % (len(hosts), args["group"])}
