# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One device's DeviceChange, worked out on the controller in one call (pure; no Ansible import).

discover -> **plan** -> apply -> verify: from what ``service_info`` found on the device and the
catalog, this works out the port map for the device, the units and configs to render, the
hand-tuned values and unit directives a render would change, the steps per service, and the
arguments of the device's one ``port_transaction``. Rendering text is the caller's (the role's
templates); it is passed in as two functions so that this module stays pure.
"""

from __future__ import annotations

import json

from ansible_collections.hailo.services.plugins.plugin_utils.config_template import (
    device_config_changes,
    device_config_data,
)
from ansible_collections.hailo.services.plugins.plugin_utils.fleet import host_map
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile
from ansible_collections.hailo.services.plugins.plugin_utils.port_report import port_table
from ansible_collections.hailo.services.plugins.plugin_utils.rollout import (
    device_services,
    health_targets,
    rollout_actions,
    rollout_steps,
)
from ansible_collections.hailo.services.plugins.plugin_utils.saved_plan import device_drift
from ansible_collections.hailo.services.plugins.plugin_utils.unit_file import units_from_facts, units_plan


# The change of a device that must not be touched: nothing to write, restart or check.
EMPTY_CHANGE = {"current": {}, "port_map": {"ports": {}, "changes": [], "restart_order": []}, "table": [],
                "steps": [], "actions": {}, "config_changes": [], "unit_refusals": [], "refusal": "", "health": [],
                "noop": False}


def catalog_units(catalog):
    """The catalog's per-service unit settings (its ``unit`` keys)."""
    return dict((name, spec.get("unit")) for name, spec in (catalog or {}).items()
                if isinstance(spec, dict) and spec.get("unit") is not None)


def config_json(data):
    """A config's JSON copy, as the installers write it (``json.dump(data, indent=2)``)."""
    return json.dumps(data, indent=2, sort_keys=False, separators=(",", ": "))


def config_refusal(host, changes):
    """Why a switch to template mode is refused."""
    return ("Switching %s to config_mode template would change hand-tuned values: %s. Nothing was changed. "
            "Put the values in the inventory (the catalog's settings or reconcile_config_settings), or set "
            "reconcile_config_template_force=true to render anyway (check mode with --diff shows each file's diff)."
            % (host, "; ".join(changes)))


def unit_refusal(host, refusals):
    """Why rendering the units is refused."""
    return ("Rendering the units of %s would drop or change what their installers set and the inventory does "
            "not: %s. Nothing was changed. Set those directives in the inventory too (reconcile_unit_settings, "
            "or the catalog's `unit` per service), or set reconcile_unit_template_force=true to render anyway "
            "(check mode with --diff shows each unit's diff)." % (host, "; ".join(refusals)))


def nothing_to_do(discovery, actions, health):
    """Whether the device is already as its change would leave it, so that it needs no
    transaction: nothing to write, stop or restart, no client to rewrite, no change a dead run
    left nor a revert to report, and every service that should run answered its one probe
    (``service_info``'s ``probe``) on its port. A device without probes is never a no-op."""
    if discovery.get("journal") or discovery.get("last_revert"):
        return False
    if any(actions.get(key) for key in ("files", "restart", "stop_first", "client_ports", "client_review")):
        return False
    services = discovery.get("services") or {}
    for target in health:
        probe = (services.get(target["name"]) or {}).get("probe") or {}
        if not probe.get("ok") or probe.get("port") != target["port"]:
            return False
    return True


def unreachable_or_failed(host, discovery):
    """Why a device cannot be planned from its discovery (a failure, as data), or None."""
    discovery = discovery or {}
    if discovery.get("unreachable"):
        return {"msg": "%s is unreachable: %s" % (host, discovery.get("msg") or "no connection"), "unreachable": True}
    if discovery.get("failed"):
        return {"msg": discovery.get("msg") or "the discovery failed"}
    return None


def device_change(discovery, catalog, render_unit, render_config, host=None, fleet_map=None, saved=None,
                  scope="fleet", ranges=None, reserved=(), json_readers=(), unit_settings=None, config_defaults=None,
                  config_settings=None, config_mode="edit", unit_dir="/etc/systemd/system",
                  config_force=False, unit_force=False, plan_file=None):
    """Everything the role needs to change one device (its DeviceChange), from its Discovery.

    :param discovery: the device's ``service_info`` result (``services``, ``in_use``).
    :param render_unit: ``render_unit(body) -> text``, a unit file from its directives.
    :param render_config: ``render_config(name, data) -> text``, a template-mode YAML config.
    :param fleet_map: the FleetMap's ``port_map`` (``ports``, ``changes``, ``restart_order``);
        None when the role runs on its own, which computes a map for the device alone.
    :param saved: when a saved plan is applied, ``{"device": its entry for this device or None}``.
    :returns: ``port_map`` (the engine's shape, for this device), ``current`` (the engine's
        input), ``table`` (lines), ``steps``, ``actions`` (``port_transaction``'s arguments),
        ``config_changes`` and ``unit_refusals`` with ``refusal`` (the message, or None when
        nothing is refused or the matching force is set), ``health`` (the checks of the
        device as it is), ``noop`` (nothing to do: see :func:`nothing_to_do`) and ``failure``
        (None, or why the device must not be touched: its discovery failed, or it drifted from
        the saved plan).
    """
    failure = unreachable_or_failed(host, discovery)
    if failure is not None:
        return dict(EMPTY_CHANGE, failure=failure)
    facts = discovery
    discovered = (facts or {}).get("services") or {}
    if saved is not None:
        drift = device_drift(saved.get("device"), host, facts)
        if drift:
            return dict(EMPTY_CHANGE, failure={"msg": (
                "%s drifted from the saved plan %s: %s. Nothing was changed; make a new plan (playbooks/plan.yml) "
                "and review it." % (host, plan_file, "; ".join(drift)))})
    current = device_services(discovered, catalog)
    from_fleet = scope == "fleet" and fleet_map is not None
    if from_fleet:
        port_map = host_map(fleet_map, discovered)
    else:
        port_map = reconcile(current, ranges=ranges or None, reserved=reserved,
                             in_use=(facts or {}).get("in_use") if discovered else [])

    # Each unit keeps every directive its installer wrote; only what the inventory sets is overlaid.
    unit_services, reasons = units_from_facts(discovered)
    unit_plan = units_plan(unit_services, unit_settings, catalog_units(catalog), reasons)
    units = dict((name, render_unit(unit_plan[name]["body"]))
                 for name in sorted(unit_plan) if unit_plan[name]["changed"])

    config_data = device_config_data(discovered, catalog, port_map, config_defaults, config_settings, config_mode)
    configs = dict((name, {"yaml": render_config(name, config_data[name]), "json": config_json(config_data[name])})
                   for name in sorted(config_data))
    config_changes = device_config_changes(discovered, config_data)  # data against data, not text

    steps = rollout_steps(discovered, catalog, port_map, json_readers or (), units, configs)
    actions = rollout_actions(steps, port_map, discovered=discovered, units=units, configs=configs,
                              unit_dir=unit_dir)
    unit_refusals = [line for name in sorted(unit_plan) for line in unit_plan[name].get("refusals") or ()]
    health = health_targets(steps, ports="current")
    refusals = []
    if config_changes and not config_force:
        refusals.append(config_refusal(host, config_changes))
    if unit_refusals and not unit_force:
        refusals.append(unit_refusal(host, unit_refusals))
    return {
        "current": current,
        "port_map": port_map,
        "table": [] if from_fleet else port_table(port_map, current).splitlines(),
        "steps": steps,
        "actions": actions,
        "config_changes": config_changes,
        "unit_refusals": unit_refusals,
        "refusal": refusals[0] if refusals else "",  # the config's first, as it is checked first
        "health": health,
        "noop": nothing_to_do(facts or {}, actions, health),
        "failure": None,
    }
