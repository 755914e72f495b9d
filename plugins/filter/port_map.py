# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The port map filters a user calls by hand: reconcile_ports, port_table and catalog_errors.

Each is a thin wrapper over pure logic in plugins/plugin_utils; their docs are the files
reconcile_ports.yml, port_table.yml and catalog_errors.yml next to this one.
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.hailo.services.plugins.plugin_utils.catalog import CatalogError
from ansible_collections.hailo.services.plugins.plugin_utils.catalog import catalog_errors as _catalog_errors
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import PortPolicyError, reconcile
from ansible_collections.hailo.services.plugins.plugin_utils.port_report import port_table as _port_table


def _filter(errors, explain="%s"):
    """Make a function a filter of its own name: the ``errors`` it raises (the plugin_utils error
    types) become ``AnsibleFilterError`` saying ``<filter name>: <explain % error>``."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except errors as exc:
                raise AnsibleFilterError("%s: %s" % (function.__name__, explain % (exc,))) from exc
        return wrapper
    return decorate


@_filter(PortPolicyError)
def reconcile_ports(services, ranges=None, reserved=None, in_use=None):
    """See reconcile_ports.yml."""
    return reconcile(services, ranges=ranges, reserved=reserved, in_use=in_use)


# port_report trusts its input, so a wrong one surfaces as a lookup or type error.
@_filter((KeyError, TypeError, AttributeError), "expected the output of reconcile_ports and its input services (%s)")
def port_table(plan, services):
    """See port_table.yml. A list of lines, as the role prints its tables: the default
    callback shows a list one line each, a multi-line string as one escaped line."""
    return _port_table(plan, services).splitlines()


@_filter(CatalogError)
def catalog_errors(catalog, config_defaults=None, config_settings=None, config_mode="edit", unit_settings=None):
    """See catalog_errors.yml."""
    return _catalog_errors(catalog, config_defaults, config_settings, config_mode, unit_settings)


class FilterModule:
    """Filters of hailo.services."""

    def filters(self):
        return dict((function.__name__, function) for function in (reconcile_ports, port_table, catalog_errors))
