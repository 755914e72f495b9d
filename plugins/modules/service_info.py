#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service_info
short_description: Gather the ports, JSON copies, unit states and listening sockets of Hailo services
version_added: 0.1.0
description:
  - Reads every Hailo service configuration C(<config_dir>/<service>.yaml) on the host, its
    JSON copy C(<json_dir>/<service>/<service>.json) and the state of its systemd unit
    C(<service>.service), and lists every listening TCP socket with the process and unit
    that holds it. One call gathers everything a port rollout needs.
  - The service name is the file name without C(.yaml). Names that do not match
    C(^[a-z0-9][a-z0-9._-]*$) are skipped.
  - A configuration that cannot be read, does not parse, or has no integer C(server.port)
    gives an entry with RV(services.error) set; it does not fail the module.
  - "The problems M(hailo.services.port_transaction) refuses are named here first, in the same
    words: a config with two C(server.port) keys; a config, JSON copy or unit that is a symlink
    (unless O(allow_root_symlinks)), is not a regular file (a directory, a FIFO, a device), or
    sits in a directory a non-root user can write (the message names the path and its owner);
    a JSON copy whose directory is missing (RV(services.json_problem))."
  - Every file is read without following a symlink or blocking, and only when it is a regular
    file.
  - >-
    Reading is bounded. A configuration larger than 256 KiB is not parsed (at most one byte
    more than that is read), and YAML whose aliases expand too far (more than 100 aliases,
    more than 10000 nodes behind them together, or a recursive alias; an alias bomb such as
    "billion laughs") or that nests too deeply is refused before it is built. Each gives
    RV(services.error), naming the file, for example C(/etc/hailo/x.yaml: refused: the file
    is 1468006 bytes, more than the 262144-byte limit).
  - The parsed contents of the configurations are only returned with O(return_data).
  - Unit states come from a single C(systemctl show) call for all units. When C(systemctl)
    is missing or cannot talk to systemd, the states are reported as unknown and
    RV(systemctl_error) says why.
  - Listening sockets are read from C(/proc/net/tcp) and C(/proc/net/tcp6); owners are found
    through C(/proc/<pid>/fd), C(/proc/<pid>/comm) and C(/proc/<pid>/cgroup). C(ss) and
    C(netstat) are not needed. Run as root to see the owners of other users' sockets.
  - Results are plain return values, not C(ansible_facts); register them.
author:
  - hailo.services maintainers (@hailo)
options:
  config_dir:
    description:
      - Directory holding the service YAML files.
      - A missing directory gives no services.
    type: path
    default: /etc/hailo
  json_dir:
    description:
      - Base directory of the JSON copies, the services' C(XDG_CONFIG_HOME).
    type: path
    default: /etc/xdg
  unit_dir:
    description:
      - Directory where the service unit files live.
    type: path
    default: /etc/systemd/system
  owned_marker:
    description:
      - Text that marks a YAML rendered by the C(reconcile) role in C(config_mode=template).
        A file whose leading comment block contains it is reported as RV(services.owned).
    type: str
    default: Owned by hailo.services (config_mode template)
  services:
    description:
      - Only report these services. A listed service without a YAML file gets an entry
        with RV(services.error) set.
      - By default every service in O(config_dir) is reported.
      - The ports of the listed services' units count as managed for RV(in_use); every
        other listener is in use.
    type: list
    elements: str
  return_data:
    description:
      - Also return the parsed YAML of each service as RV(services.data), and the values of the
        units' C(Environment=) assignments in RV(services.unit.directives) (otherwise C(NAME=***)).
      - Off by default, so the contents of the configurations (which can hold secrets) stay
        out of the results and the logs unless a play needs them.
    type: bool
    default: false
  allow_root_symlinks:
    description:
      - Read, and accept for a change, a config, JSON copy or unit that is a symlink whose link
        directory and target directories are all owned by root and writable by nobody else,
        as M(hailo.services.port_transaction)'s O(hailo.services.port_transaction#module:allow_root_symlinks)
        does. By default such a file is reported as a problem.
    type: bool
    default: false
    version_added: 0.1.0
  journal_dir:
    description:
      - Where M(hailo.services.port_transaction) keeps the journal of an unconfirmed change.
        With it, RV(journal) and RV(last_revert) report a change a dead run left behind and a
        revert the device made by itself.
    type: path
  lease_holder:
    description:
      - The run that will change the device (needs O(journal_dir)). The discovery claims
        nothing itself (M(hailo.services.port_transaction) claims the device for its change),
        but it never reads a device while another run's claim is alive, so that no run plans
        from, or reverts, a change in flight.
      - While another run's lease is alive the module waits up to O(lease_wait) seconds, then
        fails naming the holder and the expiry.
    type: str
  lease_wait:
    description: How long to wait for another run's lease before failing.
    type: float
    default: 60
  health_paths:
    description:
      - Probe each discovered service whose unit is active once, on its current port, with a
        GET of its health path (service name to path; empty or null for the default of the
        service), and return the answer as
        RV(services.probe). One attempt, no retry, no wait for a service that is loading.
      - A rollout decides from it that a device has nothing to do (every service that should
        run answers on its port), without running a transaction there.
    type: dict
  health_host:
    description: The address the probes connect to.
    type: str
    default: 127.0.0.1
  health_timeout:
    description: The longest one probe may take, in seconds.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs normally in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux only (it reads C(/proc)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - module: hailo.services.service_port
"""

EXAMPLES = r"""
- name: Gather what the port rollout needs
  hailo.services.service_info:
  register: hailo_facts

- name: Show which ports other software holds, and who holds them
  ansible.builtin.debug:
    msg: "{{ hailo_facts.in_use }} {{ hailo_facts.port_owners }}"

- name: Only look at two services
  hailo.services.service_info:
    services:
      - hailo-piper
      - hailo-face
  register: hailo_some

- name: Also get the parsed configurations, to compare them with what a template renders
  hailo.services.service_info:
    return_data: true
  register: hailo_with_data
"""

RETURN = r"""
journal:
  description:
    - The change left unconfirmed on the device (its run died, or the device is waiting for
      the confirmation), or null. C(id), C(stage) (the last step it reached), C(started) (epoch
      seconds) and C(files) (the real paths it journaled).
  returned: when O(journal_dir) is set
  type: dict
lease:
  description:
    - The device's lease after discovery (C(holder), C(expires) epoch seconds, C(controller)),
      or null; with O(lease_holder), C(waited) says how long this run waited for another
      run's lease to end.
  returned: when O(journal_dir) is set
  type: dict
last_revert:
  description:
    - The last revert the device made by itself (its timer fired before a confirmation), or
      null. C(id), C(reason), C(stage), C(reverted) (epoch seconds), C(restored), C(errors).
  returned: when O(journal_dir) is set
  type: dict
services:
  description:
    - One entry per service, keyed by service name.
  returned: always
  type: dict
  sample:
    hailo-piper:
      config_path: /etc/hailo/hailo-piper.yaml
      host: 0.0.0.0
      port: 5002
      checksum: 6f1ed002ab5595859014ebf0951522d9f7e9e9a4
      data: {server: {host: 0.0.0.0, port: 5002}, piper: {voice: en_US-lessac-medium}}
      json_path: /etc/xdg/hailo-piper/hailo-piper.json
      json_checksum: null
      json_exists: false
      json_in_step: null
      json_port: null
      error: null
      unit:
        name: hailo-piper.service
        path: /etc/systemd/system/hailo-piper.service
        file_exists: true
        checksum: 0b6e3c43dd1cbcbd2b0e5ed7bd6d0c4b2f3a0a51
        directives:
          - [Unit, Description, Hailo Piper TTS]
          - [Service, Type, simple]
          - [Service, Environment, XDG_CONFIG_HOME=/etc/xdg]
          - [Service, Environment, HAILO_PRINT_TO_SYSLOG=1]
          - [Service, TimeoutStartSec, "120"]
          - [Install, WantedBy, multi-user.target]
        parse_error: null
        dropins: []
        known: true
        exists: true
        load_state: loaded
        active: activating
        sub_state: auto-restart
        enabled: enabled
        n_restarts: 42
        main_pid: null
      serving: false
  contains:
    config_path:
      description: The service YAML.
      type: str
      returned: always
    probe:
      description:
        - The one probe of an active service on its port (O(health_paths)), C(ok) (healthy,
          in its own unit), C(port), C(latency_ms) and C(detail).
      type: dict
      returned: with O(health_paths), for an active service it names
    host:
      description: C(server.host), or V(null) when unset or unreadable.
      type: str
      returned: always
    port:
      description:
        - C(server.port) as an integer (a quoted string of digits counts), or V(null) when
          it cannot be read.
      type: int
      returned: always
    checksum:
      description:
        - SHA-1 of the service YAML, or V(null) when it does not exist or is refused (a symlink,
          not a regular file, over the size limit). Lets the controller
          send only the rendered configs whose content differs.
      type: str
      returned: always
    data:
      description:
        - The parsed YAML (key order kept), or V(null) when it cannot be read or parsed.
        - Lets the controller compare a file with what it would render, without reading
          each file again.
      type: raw
      returned: when O(return_data) is true
    owned:
      description:
        - Whether the YAML's leading comment block holds O(owned_marker), that is the file
          was rendered by the role in C(config_mode=template) and holds no hand-tuned values.
      type: bool
      returned: always
    json_path:
      description: Where the JSON copy lives.
      type: str
      returned: always
    json_exists:
      description: Whether the JSON copy exists as a regular file that may be read.
      type: bool
      returned: always
    json_problem:
      description:
        - Why the JSON copy cannot be written by a change, in M(hailo.services.port_transaction)'s
          words, or V(null). For example its directory is missing, it is a directory or a symlink.
        - When something is at the JSON copy's path, the problem is also RV(services.error).
      type: str
      returned: always
    json_checksum:
      description: SHA-1 of the JSON copy, or V(null) when it does not exist.
      type: str
      returned: always
    json_in_step:
      description:
        - Whether the JSON copy parses to the same data as the YAML (key order and
          formatting ignored, types not). V(false) when the copy is missing or invalid,
          V(null) when the YAML itself cannot be read.
      type: bool
      returned: always
    json_port:
      description: C(server.port) of the JSON copy, or V(null).
      type: int
      returned: always
    error:
      description:
        - Why the service cannot be changed, or V(null). The first problem found, in the words
          M(hailo.services.port_transaction) refuses it with; the YAML's own problems come first.
      type: str
      returned: always
    serving:
      description:
        - Whether the service's own unit holds a listening socket on its configured port. A
          unit in a crash loop can read C(active) for a moment after each restart; this
          cannot.
      type: bool
      returned: always
    unit:
      description: The systemd unit C(<service>.service).
      type: dict
      returned: always
      contains:
        name:
          description: Unit name.
          type: str
          returned: always
        path:
          description: The unit file in O(unit_dir).
          type: str
          returned: always
        file_exists:
          description: Whether that unit file exists.
          type: bool
          returned: always
        checksum:
          description:
            - SHA-1 of the unit file, or V(null) when it does not exist. Lets the controller
              send only the units whose content differs.
          type: str
          returned: always
        directives:
          description:
            - The directives of the unit file in file order, one C([section, key, value]) list
              each, read the way systemd reads them (comments and blank lines skipped, whitespace
              around C(=) and the value dropped, backslash continuations joined with a space). A
              key set several times, for example C(Environment), gives one entry per line.
            - V(null) when the unit file does not exist, cannot be read or does not parse;
              RV(services.unit.parse_error) then says why.
            - Drop-ins (RV(services.unit.dropins)) are not read.
          type: list
          elements: list
          returned: always
        parse_error:
          description: Why RV(services.unit.directives) is V(null), or V(null).
          type: str
          returned: always
        dropins:
          description:
            - Sorted absolute paths of the C(*.conf) drop-ins in C(<unit_dir>/<service>.service.d/);
              empty when there are none.
          type: list
          elements: str
          returned: always
        known:
          description: Whether systemd reported on the unit.
          type: bool
          returned: always
        exists:
          description:
            - Whether systemd knows the unit (C(LoadState) is not C(not-found)). Without
              systemd, whether the unit file exists.
          type: bool
          returned: always
        load_state:
          description: C(LoadState), or V(null) when unknown.
          type: str
          returned: always
        active:
          description: C(ActiveState), for example C(active), C(failed), C(inactive) or C(activating).
          type: str
          returned: always
        sub_state:
          description: C(SubState), for example C(running) or C(auto-restart).
          type: str
          returned: always
        enabled:
          description: C(UnitFileState), for example C(enabled) or C(disabled).
          type: str
          returned: always
        n_restarts:
          description: C(NRestarts), automatic restarts since the unit was last started by hand.
          type: int
          returned: always
        main_pid:
          description: C(MainPID), or V(null) when no process runs.
          type: int
          returned: always
listeners:
  description:
    - Every listening TCP socket, sorted by port, family and address.
  returned: always
  type: list
  elements: dict
  sample:
    - {port: 5099, address: 127.0.0.1, family: tcp, pid: 812, pids: [812], program: device-manager, unit: null}
    - {port: 11434, address: "::", family: tcp6, pid: 901, pids: [901], program: hailo-ollama,
       unit: hailo-ollama.service}
  contains:
    port:
      description: Port number.
      type: int
      returned: always
    address:
      description: Local address, for example C(0.0.0.0), C(127.0.0.1) or C(::).
      type: str
      returned: always
    family:
      description: C(tcp) or C(tcp6).
      type: str
      returned: always
    pid:
      description:
        - A process holding the socket, or V(null) when unknown. With several holders, the
          lowest pid that runs in a service unit, else the lowest pid.
      type: int
      returned: always
    pids:
      description: Every process holding the socket.
      type: list
      elements: int
      returned: always
    program:
      description: The process name (C(/proc/<pid>/comm)), or V(null).
      type: str
      returned: always
    unit:
      description: The systemd service unit of the process, or V(null).
      type: str
      returned: always
in_use:
  description:
    - Sorted ports that are listening and not held by the unit of a reported service
      (including sockets whose owner is unknown). Feed these to the port map as ports in use.
  returned: always
  type: list
  elements: int
  sample: [22, 5099, 7860]
port_owners:
  description:
    - Listening port (as a string) to the unit holding it, else the program, else C(unknown).
      Several different owners are joined with C(, ).
  returned: always
  type: dict
  sample: {"5099": device-manager, "11434": hailo-ollama.service}
systemctl_error:
  description: Why unit states are unknown, or V(null) when systemctl answered.
  returned: always
  type: str
  sample: "System has not been booted with systemd as init system (PID 1). Can't operate."
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hailo.services.plugins.module_utils.listeners import (
    read_listeners,
    summarize_listeners,
    systemctl_show_args,
    unit_states,
    unknown_unit_state,
)
from ansible_collections.hailo.services.plugins.module_utils import rules, safe_files, transaction
from ansible_collections.hailo.services.plugins.module_utils.health import check_once, default_path
from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import mask_environment, parse_unit
from ansible_collections.hailo.services.plugins.module_utils.yaml_port import (
    HAS_YAML,
    PORT_MAX,
    PORT_MIN,
    YAML_IMPORT_ERROR,
    PortFileError,
    config_problem,
    json_in_step,
    load_config,
    parse_port_value,
    read_config_bytes,
)


def discover(config_dir):
    """Service names of the ``*.yaml`` entries in ``config_dir``, sorted.

    Every entry counts, not only regular files: one that is a directory, a FIFO or a symlink
    is reported with its problem rather than skipped in silence.
    """
    try:
        entries = os.listdir(config_dir)
    except OSError:
        return []
    names = []
    for entry in entries:
        stem, ext = os.path.splitext(entry)
        if ext == ".yaml" and rules.is_service_name(stem):
            names.append(stem)
    return sorted(names)


_sha1 = rules.checksum


def checked(path, allow_root_symlinks):
    """``(path to read, problem)``: ``safe_files.check_target``'s verdict, the transaction's words."""
    try:
        return safe_files.check_target(path, allow_root_symlinks), None
    except safe_files.UnsafePath as err:
        return path, str(err)


def read_bytes(path, allow_root_symlinks=False):
    """``(bytes or None, problem)`` of a file that passed ``checked``; bounded, never blocks."""
    try:
        return safe_files.read_or_none(path, allow_root_symlinks=allow_root_symlinks), None
    except safe_files.UnsafePath as err:
        return None, str(err)
    except (IOError, OSError) as err:
        return None, "cannot read %s: %s" % (path, err.strerror or err)


def read_config(config_path, raw=None):
    """``(data, host, port, error)`` of one service YAML; reading and parsing are bounded
    (see ``yaml_port.read_config_bytes`` and ``yaml_port.load_config``). ``raw``: its bytes,
    when already read."""
    try:
        if raw is None:
            raw = read_config_bytes(config_path)
        data = load_config(raw.decode("utf-8"))
    except safe_files.UnsafePath as err:
        return None, None, None, str(err)
    except (IOError, OSError) as err:
        return None, None, None, "cannot read %s: %s" % (config_path, err.strerror or err)
    except UnicodeDecodeError as err:
        return None, None, None, "%s is not UTF-8: %s" % (config_path, err)
    except PortFileError as err:
        return None, None, None, config_problem(config_path, err)
    server = data.get("server") if isinstance(data, dict) else None
    if not isinstance(server, dict):
        problem = "server is not a mapping" if isinstance(data, dict) and "server" in data else "no server mapping"
        return data, None, None, "%s: %s" % (config_path, problem)
    host = server.get("host")
    host = None if host is None else str(host)
    if "port" not in server:
        return data, host, None, "%s: server.port is missing" % config_path
    port = parse_port_value(server["port"])
    if port is None:
        return data, host, None, "%s: server.port is not an integer: %r" % (config_path, server["port"])
    if not PORT_MIN <= port <= PORT_MAX:
        return data, host, port, "%s: server.port %d is out of range" % (config_path, port)
    return data, host, port, None


def is_owned(raw, marker):
    """Whether the leading comment block (comments and blank lines before any data) of the
    config's bytes ``raw`` holds ``marker``."""
    try:
        lines = (raw or b"").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return False
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return False
        if marker in stripped:
            return True
    return False


def read_json_copy(json_path, data, yaml_ok, raw=None):
    """``(exists, in_step, port)`` of one JSON copy; ``raw``: its bytes (None: missing)."""
    if raw is None:
        return False, (False if yaml_ok else None), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True, (False if yaml_ok else None), None
    try:
        copy = json.loads(text)
    except ValueError:
        copy = None
    server = copy.get("server") if isinstance(copy, dict) else None
    port = parse_port_value(server.get("port")) if isinstance(server, dict) else None
    in_step = None
    if yaml_ok:
        try:
            in_step = json_in_step(text, data)
        except PortFileError:
            in_step = None
    return True, in_step, port


def read_unit(unit_path, raw=None, problem=None):
    """``(directives, parse_error)`` of one unit file from its bytes ``raw`` (None: missing);
    ``directives`` is None when it cannot be used (``problem``: why it was not read)."""
    if problem is not None:
        return None, problem
    if raw is None:
        return None, "%s does not exist" % unit_path
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, "%s is not UTF-8: %s" % (unit_path, err)
    try:
        return parse_unit(text), None
    except ValueError as err:
        return None, "%s: %s" % (unit_path, mask_environment(str(err)))  # the message quotes the line


def unit_dropins(unit_dir, unit):
    """Sorted absolute paths of the ``*.conf`` drop-ins of ``unit`` in ``<unit_dir>/<unit>.d/``."""
    dropin_dir = os.path.abspath(os.path.join(unit_dir, unit + ".d"))
    try:
        entries = os.listdir(dropin_dir)
    except OSError:
        return []
    return sorted(os.path.join(dropin_dir, entry) for entry in entries
                  if entry.endswith(".conf") and not os.path.isdir(os.path.join(dropin_dir, entry)))


def query_units(module, units):
    """``(states, error)``: one ``systemctl show`` call for all units."""
    if not units:
        return {}, None
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        error = "systemctl not found"
    else:
        rc, out, err = module.run_command([systemctl] + systemctl_show_args(units))
        if rc == 0:
            return unit_states(out, units), None
        error = (err or out).strip() or "systemctl show failed with rc %d" % rc
    return dict((unit, unknown_unit_state()) for unit in units), error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type="path", default="/etc/hailo"),
            json_dir=dict(type="path", default="/etc/xdg"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            services=dict(type="list", elements="str"),
            owned_marker=dict(type="str", default="Owned by hailo.services (config_mode template)"),
            return_data=dict(type="bool", default=False),
            allow_root_symlinks=dict(type="bool", default=False),
            journal_dir=dict(type="path"),
            lease_holder=dict(type="str"),
            lease_wait=dict(type="float", default=60),
            health_paths=dict(type="dict"),
            health_host=dict(type="str", default="127.0.0.1"),
            health_timeout=dict(type="float", default=2),
        ),
        required_by={"lease_holder": ["journal_dir"]},
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML (python3-yaml)"), exception=YAML_IMPORT_ERROR)
    config_dir = module.params["config_dir"]
    json_dir = module.params["json_dir"]
    unit_dir = module.params["unit_dir"]
    wanted = module.params["services"]
    if wanted is not None:
        bad = [repr(name) for name in wanted if not rules.is_service_name(name)]
        if bad:
            module.fail_json(msg="invalid service names (%s): %s" % (rules.SERVICE_NAME_RULE, ", ".join(bad)))
        names = sorted(set(wanted))
    else:
        names = discover(config_dir)
    # Read only once no other run's change is in flight, so that no change is planned from files
    # in flight (the change claims the device; see port_transaction).
    lease = _wait_for_lease(module) if module.params["lease_holder"] and names else None

    units = [name + ".service" for name in names]
    states, systemctl_error = query_units(module, units)

    allow = module.params["allow_root_symlinks"]
    services = {}
    for name, unit in zip(names, units):
        config_path = os.path.join(config_dir, name + ".yaml")
        json_path = os.path.join(json_dir, name, name + ".json")
        # Each file is checked as the transaction checks it before a write, then read once.
        real, yaml_problem = checked(config_path, allow)
        raw = None
        if yaml_problem is not None:
            data, host, port, error = None, None, None, yaml_problem
        elif not os.path.lexists(real):
            data, host, port, error = None, None, None, "%s does not exist" % config_path
        else:
            try:
                raw = read_config_bytes(real, allow_root_symlinks=allow)
            except (IOError, OSError, PortFileError):
                raw = None  # read_config names it
            data, host, port, error = read_config(config_path, raw)
        yaml_ok = isinstance(data, dict)
        json_real, json_problem = checked(json_path, allow)
        json_raw = None
        if json_problem is None:
            json_raw, json_problem = read_bytes(json_real, allow)
        json_exists, in_step, json_port = read_json_copy(json_path, data, yaml_ok, json_raw)
        if json_problem is not None and os.path.lexists(json_path) and error is None:
            error = json_problem

        state = dict(states[unit])
        unit_path = os.path.join(unit_dir, unit)
        unit_real, unit_problem = checked(unit_path, allow)
        unit_raw = None
        if unit_problem is None:
            unit_raw, unit_problem = read_bytes(unit_real, allow)
        state.update(name=unit, path=unit_path, file_exists=unit_raw is not None)
        state["checksum"] = _sha1(unit_raw)
        state["directives"], state["parse_error"] = read_unit(unit_path, unit_raw, unit_problem)
        if not module.params["return_data"] and state["directives"]:
            # Environment values can be tokens: only a play that renders units gets them.
            state["directives"] = [
                [section, key, mask_environment("Environment=" + value)[len("Environment="):]]
                if key == "Environment" else [section, key, value]
                for section, key, value in state["directives"] or []]
        state["dropins"] = unit_dropins(unit_dir, unit)
        if not state["known"]:
            state["exists"] = state["file_exists"]
        services[name] = dict(
            config_path=config_path, host=host, port=port, error=error,
            checksum=_sha1(raw),
            owned=is_owned(raw, module.params["owned_marker"]),
            json_path=json_path, json_exists=json_exists, json_in_step=in_step, json_port=json_port,
            json_checksum=_sha1(json_raw), json_problem=json_problem,
            unit=state,
        )
        if module.params["return_data"]:
            services[name]["data"] = data

    listeners = read_listeners()
    in_use, port_owners = summarize_listeners(listeners, units)
    held = set((item["port"], item.get("unit")) for item in listeners)
    for name, facts in services.items():
        facts["serving"] = (facts["port"], facts["unit"]["name"]) in held
    if module.params["health_paths"] is not None:
        _probe(module.params, services, listeners)
    extra = {}
    if module.params["journal_dir"]:
        try:
            journal = transaction.load(module.params["journal_dir"])
            extra["last_revert"] = transaction.last_revert(module.params["journal_dir"])
        except transaction.JournalError as err:
            module.fail_json(msg=str(err))
        extra["journal"] = None if journal is None else dict(
            (key, journal.get(key)) for key in ("id", "stage", "started", "revert_errors"))
        if journal is not None:
            extra["journal"]["files"] = [entry.get("path") for entry in journal.get("files") or ()]
        extra["lease"] = lease or (_read_lease(module) if os.path.isdir(module.params["journal_dir"]) else None)
    module.exit_json(changed=False, services=services, listeners=listeners, in_use=in_use,
                     port_owners=port_owners, systemctl_error=systemctl_error, **extra)


def _read_lease(module):
    try:
        return transaction.read_lease(module.params["journal_dir"])
    except transaction.JournalError as err:
        module.fail_json(msg=str(err))


def _wait_for_lease(module):
    """Wait, a bounded time, until no other run's claim on the device is alive; claim nothing."""
    params = module.params
    if os.path.isdir(params["journal_dir"]):
        try:  # a lease another user could write is no claim to wait for
            safe_files.check_journal_dir(params["journal_dir"])
        except safe_files.UnsafePath as err:
            module.fail_json(msg=str(err))
    start = time.time()
    while True:
        lease = _read_lease(module) if os.path.isdir(params["journal_dir"]) else None
        waited = time.time() - start
        if not transaction.held_by_other(lease, params["lease_holder"]):
            return None if lease is None else dict(lease, waited=round(waited, 1))
        if waited >= params["lease_wait"]:
            module.fail_json(msg="another rollout holds this device: %s; waited %d s (lease_wait). Nothing was "
                             "planned or changed; run again when it has ended."
                             % (transaction.describe_lease(lease), params["lease_wait"]),
                             lease=lease, lease_held=True)
        time.sleep(min(1.0, max(0.05, params["lease_wait"] - waited)))


def _probe(params, services, listeners):
    """One probe of each active service on its current port (``health_paths``): ``probe``."""
    paths = params["health_paths"]
    for name, facts in services.items():
        if name in paths and facts["port"] is not None and facts["unit"].get("active") == "active":
            entry = check_once(name, facts["port"], paths[name] or default_path(name), params["health_host"],
                               params["health_timeout"], unit=facts["unit"]["name"], listeners=lambda: listeners)
            facts["probe"] = dict((key, entry[key]) for key in ("ok", "port", "latency_ms", "detail"))


if __name__ == "__main__":
    main()
