#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: port_transaction
short_description: Internal step, not for direct use (hailo.services.reconcile role - applies a device's port change as one transaction)
version_added: 0.1.0
description:
  - Applies every file change of a port rollout on the device, restarts the services, checks
    their health, and rolls the whole device back on any failure, in one module execution.
  - "O(state=applied): 1. journals the original bytes, mode and owner of every file it will
    write (a symlinked config, allowed by O(allow_root_symlinks), is written and restored behind
    its link), whatever O(backup) says; 2. arms a transient systemd timer that restores the journal unless the
    change is confirmed (O(confirm_timeout)); 3. writes the configs (edited in place or
    rendered), their JSON copies and the units, each atomically; 4. reloads systemd when a unit
    changed; 5. stops the crash-looping services, then restarts the others in the given order,
    each only once no other program holds its new port (a service restarted later that still
    holds it is stopped first; a port still held at the O(health_timeout) deadline fails the
    change); 6. health-checks the services under one absolute deadline (O(health_timeout)): a
    service counts only when its own unit holds its port and answers healthy."
  - On any failure it restores the journal, restarts what ran before, stops what did not, and
    fails saying what runs where (RV(after)). On a port that several services want, the service
    whose unit held it when the change began (its keeper) starts first, and the others only once
    the keeper listens there; a keeper that does not bind within O(health_timeout) is reported
    (RV(rollback.unbound)) and the services waiting for its port stay stopped
    (RV(rollback.held_back)).
  - "Power loss: the first change installs a persistent unit, C(port-reconcile-boot.service),
    ordered before C(sysinit.target) and so before every service. At boot it restores the files
    of a change that was never confirmed (files only; the services then start on their old
    files), so an unconfirmed change never survives a reboot. The revert timers are named
    C(port-reconcile-revert-<id>); no unit this module creates starts with C(hailo-)."
  - "One rollout per device: with O(lease_holder) the change runs only while no other run holds
    the device's lease (taken by M(hailo.services.service_info) at discovery); it extends the
    lease over the change and releases it when the change needs no confirmation, failed, or
    (O(state=confirmed)) is confirmed."
  - O(state=confirmed) disarms the timer and removes the journal of change O(id); any other id
    fails.
  - O(state=reverted) restores the journal now, if there is one (a change left by a run that
    died), unless another run's lease is alive or it is not change O(id).
  - O(state=released) drops the lease of O(lease_holder). O(state=absent) removes everything the
    module installed on the device (the boot unit and O(journal_dir)); it refuses while a change
    is unconfirmed or a lease is alive.
  - A file that is not as discovered (O(files[].expect)) is refused before anything is written.
  - With nothing to write and nothing to restart it only checks health; no journal is made.
author:
  - hailo.services maintainers (@hailo)
options:
  state:
    description: What to do.
    type: str
    choices: [applied, confirmed, reverted, released, absent]
    default: applied
  journal_dir:
    description: Where the journal, the saved originals and the revert script are kept.
    type: path
    default: /var/lib/hailo-services/transaction
  id:
    description:
      - The change to confirm (RV(id) of the O(state=applied) run); required with O(state=confirmed).
      - With O(state=reverted), revert only this change.
    type: str
  unit_dir:
    description: Where the boot unit (C(port-reconcile-boot.service)) is installed.
    type: path
    default: /etc/systemd/system
  lease_holder:
    description:
      - The run that holds the device's lease (the C(reconcile) role names each run). A change,
        a confirmation or a revert is refused while another run's lease is alive.
      - A change claims the device for this run (its lease) for as long as it can stay
        unconfirmed; the confirmation, or the change's failure, releases it.
    type: str
  lease_controller:
    description: Who runs the rollout (user@host), written in the lease and named to a second run that finds it.
    type: str
  files:
    description:
      - The files to write. Each is either an edit of the YAML's C(server.port) (O(files[].port),
        with its JSON copy O(files[].json_path) rendered from the edited YAML) or a whole new
        content (O(files[].content)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - The file, an absolute path. A symlink is refused unless O(allow_root_symlinks) is set
            (then its target is written).
        type: path
        required: true
      kind:
        description: What the file is, for its validation (a unit is checked with C(systemd-analyze verify)).
        type: str
        choices: [config, json, unit]
        default: config
      port:
        description: Set C(server.port) of the YAML to this, changing no other byte.
        type: int
      json_path:
        description: With O(files[].port), the JSON copy to render from the edited YAML.
        type: path
      content:
        description: The whole new content.
        type: str
      expect:
        description:
          - SHA-1 of the file as discovered, or C(absent). The change is refused when the file
            differs now.
        type: str
      json_expect:
        description: Like O(files[].expect), for O(files[].json_path).
        type: str
  clients:
    description:
      - The clients of the services on the device (the web portal's folder by default, in the
        C(reconcile) role). In each, every literal C(http://127.0.0.1:<port>) (or C(localhost),
        C(0.0.0.0)) of a port in O(client_ports) is rewritten to its new port, in one pass, so a
        chain move never shifts a literal twice; any other mention of such a port, and the
        ports of O(client_review), are listed for review (RV(clients)), unchanged.
      - A client's files are journaled and restored like the configs. Its folder may belong to
        another user, so it is read and written through the folder's descriptor, one component
        at a time without following a link, and each file keeps its owner and mode. Its backups
        (O(backup)) go under C(client-backups/) next to O(journal_dir), outside its folder.
      - When a client's files change and its unit runs, the unit is restarted after the
        services and checked (O(clients[].check) on O(clients[].port)); a rollback restarts it
        on its restored files.
    type: list
    elements: dict
    default: []
    version_added: 0.1.0
    suboptions:
      path:
        description: The client, a file or a folder (its C(venv), caches and C(.git) are skipped).
        type: path
        required: true
      unit:
        description: The client's systemd unit (restarted when its files change).
        type: str
        required: true
      check:
        description: The URL path that proves the client answers, on O(clients[].port).
        type: str
      port:
        description: The port the client answers on; required with O(clients[].check).
        type: int
      required:
        description: Fail when the client is missing; a missing optional client is only reported.
        type: bool
        default: true
  client_ports:
    description:
      - "C({old port: new port}): the ports of the services that move on this device, each the
        port its owner held before the move."
    type: dict
    default: {}
    version_added: 0.1.0
  client_review:
    description: "C({port: why}): ports whose owner before the move cannot be told; their literals are listed for review."
    type: dict
    default: {}
    version_added: 0.1.0
  firewall:
    description:
      - Have the device's ufw allow rules follow the services that move (O(previous_ports) to
        O(service_ports)). Where ufw is active, every C(allow) or C(limit) rule for a moving
        service's old port (TCP or any protocol, a single port) is added again for its new port,
        by ufw itself. The old port's rule is deleted only when no service names that port after
        the move and no other program holds it. A rule for a range or a list of ports that holds
        an old port is listed for review, unchanged.
      - ufw's rule files are journaled with the change's other files, so a rollback (and the
        revert timer) restores them byte for byte and reloads ufw; at boot they are restored
        before ufw starts.
      - Without ufw, with ufw inactive, or without such a rule, nothing changes; RV(firewall) says so.
    type: bool
    default: false
    version_added: 0.1.0
  service_ports:
    description: "C({service: port}): the port every service on the device names after the change (with O(firewall))."
    type: dict
    default: {}
    version_added: 0.1.0
  stop_first:
    description: Services stopped before any file is written (they crash-loop on the old files).
    type: list
    elements: str
    default: []
  restart:
    description: Services restarted after the files are written, in this order.
    type: list
    elements: str
    default: []
  rollback_restart:
    description:
      - On a rollback, the services restarted on their restored files, in this order, except that
        a service waits for the keeper of its port (see above).
    type: list
    elements: str
    default: []
  rollback_stop:
    description: On a rollback, the services left stopped.
    type: list
    elements: str
    default: []
  health:
    description:
      - The services to health-check after the restarts, on their new ports (as
        M(hailo.services.health_check) takes them, C(unit) included).
      - Their ports are also the ports each restarted service waits to be free before it starts.
    type: list
    elements: dict
    default: []
  rollback_health:
    description: After a rollback, the services expected to answer again on their old ports.
    type: list
    elements: dict
    default: []
  previous_ports:
    description:
      - Each service's port before the change, to say what runs where after a rollback.
      - With the listeners read before anything stops, it also tells each port's keeper, which a
        rollback starts first.
    type: dict
    default: {}
  health_host:
    description: The address the health checks connect to.
    type: str
    default: 127.0.0.1
  health_timeout:
    description:
      - One deadline, in seconds, for every health check of the change.
      - Also how long a restarted service waits for its port to be free, and a rollback for each
        keeper to bind.
    type: float
    default: 90
  confirm_timeout:
    description:
      - Seconds the device waits for O(state=confirmed) after the change is applied before it
        restores the journal by itself. C(0) arms no timer and confirms at once.
    type: int
    default: 120
  transaction_timeout:
    description:
      - The longest the change itself may take (restarts and health checks). The revert
        timer does not fire before it has passed, plus O(confirm_timeout).
    type: int
    default: 300
  allow_root_symlinks:
    description:
      - Follow a config, JSON copy or unit that is a symlink when the link's directory and
        every directory of its target are owned by root and writable by nobody else.
      - By default every symlink is refused before anything is written, as is a file that is not
        a regular file or that sits in a directory a non-root user can write; the message names
        the path and its owner, in the words M(hailo.services.service_info) uses.
    type: bool
    default: false
    version_added: 0.1.0
  backup:
    description: Also keep a timestamped copy of each changed file next to it.
    type: bool
    default: false
  backup_keep:
    description:
      - The copies kept per file with O(backup); older ones are removed. Only root's regular
        files named like a copy (C(<file>.<pid>.<YYYY-mm-dd@HH:MM:SS>~)) are removed, and a
        copy that cannot be removed does not fail the change.
    type: int
    default: 3
  reason:
    description: With O(state=reverted), why (the C(reason) of RV(rollback)).
    type: str
    default: reverted by the controller
notes:
  - Config contents are not returned, except as a diff in diff mode, and are not logged on the device.
    In a unit's diff the value of every C(Environment=) assignment is shown as C(***).
  - Every file is read without following a symlink or blocking (a FIFO is refused), at most
    256 KiB, and written through descriptors (a new temporary file, C(fchown) then C(fchmod),
    fsync, rename in the directory); mode and owner, set-id bits included, are kept.
  - Supports check mode and diff mode; check mode writes nothing and arms nothing.
attributes:
  check_mode:
    support: full
    details: Works out every write and restart and reports them; writes nothing, arms no timer.
  diff_mode:
    support: full
    details: The diff of every file it writes (or would write in check mode).
  platform:
    platforms: posix
    details: A Linux device with systemd (the revert timer is a transient systemd timer).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Move hailo-depth to 11439 and check every service
  hailo.services.port_transaction:
    files:
      - path: /etc/hailo/hailo-depth.yaml
        port: 11439
        json_path: /etc/xdg/hailo-depth/hailo-depth.json
    restart: [hailo-depth]
    rollback_restart: [hailo-depth]
    health:
      - {name: hailo-depth, port: 11439}
    previous_ports: {hailo-depth: 11436}
  register: change

- name: Confirm it, so the device keeps it
  hailo.services.port_transaction:
    state: confirmed
    id: "{{ change.id }}"
  when: change.id is defined
"""

RETURN = r"""
id:
  description: The change's id, to confirm it. Absent when nothing was written or restarted.
  returned: when a change was applied
  type: str
  sample: 1764511200-a1b2c3
written:
  description: The files written (real paths).
  returned: always
  type: list
  elements: str
restarted:
  description: The services restarted, in order.
  returned: always
  type: list
  elements: str
health:
  description: The health report (C(services), C(healthy), C(unhealthy)), as M(hailo.services.health_check) returns it.
  returned: when health was checked
  type: dict
confirm_by:
  description: Epoch seconds after which the device restores the change unless confirmed.
  returned: when a change was applied and awaits confirmation
  type: float
found:
  description: A revert the device made by itself since the last change (its timer fired), with its reason.
  returned: when there was one
  type: dict
rolled_back:
  description: Whether the change failed and was rolled back.
  returned: on failure
  type: bool
rollback:
  description: What the rollback restored, restarted and stopped, and any file it could not restore.
  returned: when rolled back or O(state=reverted)
  type: dict
  contains:
    restarted:
      description: The services started again, in the order they were started.
      type: list
      elements: str
    keepers:
      description: The shared ports whose keeper was waited for, each port (a string) mapped to its keeper.
      type: dict
      returned: when the journal names the ports before the change
    unbound:
      description:
        - Keepers that did not listen on their port in time, each with C(name), C(port) and
          C(holder) (who held the port instead, or V(null)).
      type: list
      elements: dict
      returned: when the journal names the ports before the change
    held_back:
      description: The services left stopped because the keeper of their port did not bind, each with C(name), C(port) and C(keeper).
      type: list
      elements: dict
      returned: when the journal names the ports before the change
clients:
  description:
    - Per client (O(clients)), what its files need or got.
    - C(files) each with C(path) and C(changes) (C(line), C(old) and C(new) literal; only the
      literal, never the rest of the line), C(review) (C(path), C(line), C(port), C(why)),
      C(skipped), C(missing) and C(restart) (whether its unit is restarted).
  returned: with O(state=applied) and O(clients)
  type: list
  elements: dict
firewall:
  description:
    - With O(firewall) and a service that moves, what the device's ufw rules needed or got.
    - C(ufw) is C(active), C(inactive) or C(absent); C(added) and C(deleted) the rules as
      typed (C(ufw allow 11440/tcp)), C(kept) and C(review) each C(rule) with C(why).
  returned: with O(firewall), when a service moves
  type: dict
  sample: {"ufw": "active", "added": ["ufw allow 11440/tcp"], "deleted": ["ufw allow 11439/tcp"], "kept": [], "review": []}
lease_released:
  description: Whether this call released the lease of O(lease_holder).
  returned: always
  type: bool
removed:
  description: With O(state=absent), the paths removed.
  returned: with O(state=absent)
  type: list
  elements: str
after:
  description:
    - What runs where after a rollback, in M(hailo.services.service_info)'s shape
      (C(services.<name>.port), C(serving), C(unit.active); C(listeners)).
  returned: when rolled back
  type: dict
"""

import hashlib
import inspect
import json
import os
import sys
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hailo.services.plugins.module_utils import (
    device_clients, firewall, health, port_order, rules, safe_files, transaction)
from ansible_collections.hailo.services.plugins.module_utils.health import check_services, failure_message
from ansible_collections.hailo.services.plugins.module_utils.systemd_unit import mask_environment
from ansible_collections.hailo.services.plugins.module_utils.listeners import (
    read_listeners,
    systemctl_show_args,
    unit_states,
)
from ansible_collections.hailo.services.plugins.module_utils.yaml_port import (
    HAS_YAML,
    MAX_CONFIG_BYTES,
    YAML_IMPORT_ERROR,
    PortFileError,
    config_problem,
    json_in_step,
    load_yaml,
    render_json,
    replace_server_port,
)

MAX_FILE_BYTES = MAX_CONFIG_BYTES  # configs, copies and units alike


LEASE_MARGIN = 15  # seconds the revert timer's own revert may take after its deadline


class ChangeFailed(Exception):
    """A step of the change failed; the device is rolled back."""


def _sha1(data):
    return "absent" if data is None else rules.checksum(data)


def _read(path):
    """The bytes of ``path`` (already checked by ``_target``), or None when it is missing."""
    try:
        return safe_files.read_or_none(path, MAX_FILE_BYTES)
    except safe_files.UnsafePath as err:
        raise ChangeFailed(str(err))
    except (IOError, OSError) as err:
        raise ChangeFailed("%s: cannot read: %s" % (path, err.strerror or err))


def _target(path, allow_root_symlinks):
    """The path to write for ``path``, refused (in discovery's words) before anything is written."""
    try:
        return safe_files.check_target(path, allow_root_symlinks)
    except safe_files.UnsafePath as err:
        raise ChangeFailed("%s; nothing was written" % err)


def _check_expected(path, data, expect):
    if expect is not None and _sha1(data) != expect:
        raise ChangeFailed("%s changed since it was discovered (expected %s, found %s); nothing was written. "
                           "Run again to plan from the device as it is now." % (path, expect, _sha1(data)))


def _validate(module, kind, path, data):
    """Raise ChangeFailed when ``data`` is not a valid file of ``kind``."""
    text = data.decode("utf-8")
    if kind == "json":
        try:
            json.loads(text)
        except ValueError as err:
            raise ChangeFailed("%s: the new JSON copy does not parse: %s" % (path, err))
    elif kind == "config":
        try:
            loaded = load_yaml(text)
        except PortFileError as err:
            raise ChangeFailed("%s: the new config is not valid: %s" % (path, err))
        server = loaded.get("server") if isinstance(loaded, dict) else None
        if not isinstance(server, dict) or isinstance(server.get("port"), bool) or not isinstance(server.get("port"), int):
            raise ChangeFailed("%s: the new config has no integer server.port" % path)
    elif kind == "unit":
        analyze = module.get_bin_path("systemd-analyze")
        if analyze is None:
            return
        workdir = tempfile.mkdtemp(prefix="hailo-unit-")  # private (0700): nobody else can swap the copy
        try:
            copy = os.path.join(workdir, os.path.basename(path))
            safe_files.write_file(copy, data, mode=0o600)
            rc, out, err = module.run_command([analyze, "verify", copy])
            if rc != 0:
                why = (err or out).strip() or "it exited with rc %d and printed nothing" % rc
                raise ChangeFailed("%s: systemd-analyze verify refused the new unit: %s"
                                   % (path, mask_environment(why)))
        finally:
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
            os.rmdir(workdir)


def plan_files(module, files):
    """Every write of the change, worked out before the first one: a list of dicts.

    Every path is checked first (``safe_files.check_target``): a symlink (unless allowed), a
    file that is not a regular file, or one in a directory a non-root user can write is refused.
    """
    allow = module.params.get("allow_root_symlinks", False)
    writes = []
    for item in files:
        path = _target(item["path"], allow)
        old = _read(path)
        _check_expected(item["path"], old, item.get("expect"))
        if item.get("port") is not None:
            if old is None:
                raise ChangeFailed("%s: no such file" % item["path"])
            try:
                new_text, previous = replace_server_port(old.decode("utf-8"), item["port"])
                data = load_yaml(new_text)
                json_text = render_json(data) if item.get("json_path") else None
            except (PortFileError, UnicodeDecodeError) as err:
                raise ChangeFailed(config_problem(item["path"], err))
            writes.append(dict(path=path, old=old, new=new_text.encode("utf-8"), kind="config"))
            if json_text is not None:
                json_path = _target(item["json_path"], allow)
                json_old = _read(json_path)
                _check_expected(item["json_path"], json_old, item.get("json_expect"))
                in_step = False
                if json_old is not None:
                    try:
                        in_step = json_in_step(json_old.decode("utf-8"), data)
                    except (PortFileError, UnicodeDecodeError):
                        in_step = False
                if not in_step:
                    # A new copy gets the YAML's mode and owner, as the installers' copies have.
                    st = os.lstat(path)
                    writes.append(dict(path=json_path, old=json_old, new=json_text.encode("utf-8"), kind="json",
                                       mode=None if json_old is not None else st.st_mode & 0o7777,
                                       uid=None if json_old is not None else st.st_uid,
                                       gid=None if json_old is not None else st.st_gid))
        elif item.get("content") is not None:
            new = item["content"].encode("utf-8")
            if new != old:
                _validate(module, item["kind"], path, new)
                writes.append(dict(path=path, old=old, new=new, kind=item["kind"], mode=None if old else 0o644,
                                   uid=None if old else 0, gid=None if old else 0))
        else:
            raise ChangeFailed("files: %s has neither port nor content" % item["path"])
    return [write for write in writes if write["new"] != write["old"]]


def _unit_active(module, unit):
    rc, out, err = module.run_command(["systemctl", "is-active", "--", health.service_unit(unit)])
    return out.strip() == "active"


def plan_clients(module, params):
    """The client writes and the client part of the change (restarts, checks), before any write.

    A client whose files change and whose unit runs is restarted after the services and checked
    (and restarted again on a rollback); one that was stopped stays stopped.
    """
    writes, reports, extra = [], [], dict(restart=[], health=[])
    for client in params["clients"]:
        if client.get("check") and client.get("port") is None:
            raise ChangeFailed("clients: %s has a check but no port" % client["path"])
        try:
            found, report = device_clients.plan_client(client, params["client_ports"], params["client_review"],
                                                       MAX_FILE_BYTES)
        except (IOError, OSError) as err:
            raise ChangeFailed("client %s: %s; nothing was written" % (client["path"], getattr(err, "strerror", None) or err))
        if report["missing"] and client.get("required", True):
            raise ChangeFailed("client %s: no such file or folder; nothing was written" % client["path"])
        unit = client["unit"][:-len(".service")] if client["unit"].endswith(".service") else client["unit"]
        report["restart"] = bool(found) and _unit_active(module, unit)
        if report["restart"] and unit not in extra["restart"]:
            extra["restart"].append(unit)
            if client.get("check"):
                extra["health"].append({"name": unit, "port": client["port"], "path": client["check"],
                                        "unit": health.service_unit(unit)})
        writes.extend(found)
        reports.append(report)
    return writes, reports, extra


def plan_firewall(module, params):
    """The firewall part of the change (see O(firewall)): ``(ufw, rules, planned)``, or None.

    ``ufw`` is the program (None when it is not installed); ``planned`` is None when ufw is
    missing or inactive. Read before anything changes: the old ports' holders are the programs
    that hold them now, other than the services that move away.
    """
    moves = dict((name, (int(old), int(params["service_ports"][name])))
                 for name, old in params["previous_ports"].items()
                 if name in params["service_ports"] and int(params["service_ports"][name]) != int(old))
    if not params["firewall"] or not moves:
        return None
    ufw = firewall.find_ufw()
    report = {"ufw": "absent", "added": [], "deleted": [], "kept": [], "review": []}
    if ufw is None:
        return {"ufw": None, "rules": [], "planned": None, "report": report}
    try:
        conf = safe_files.read_regular(firewall.CONF)[0].decode("utf-8", "replace")
    except (IOError, OSError):
        conf = None  # ufw itself then says whether it is active
    try:
        active, rules = firewall.status(module.run_command, ufw, conf)
    except firewall.FirewallError as err:
        raise ChangeFailed("%s; nothing was written" % err)
    report["ufw"] = "active" if active else "inactive"
    if not active:
        return {"ufw": ufw, "rules": rules, "planned": None, "report": report}
    moving = set(health.service_unit(name) for name in moves)
    old_ports = set(old for old, new in moves.values())
    held = {}
    for item in read_listeners():
        if item["port"] in old_ports and item.get("unit") not in moving:
            held.setdefault(item["port"], item.get("unit") or item.get("program") or "an unknown program")
    planned = firewall.plan(rules, moves, [int(port) for port in params["service_ports"].values()], held)
    report.update(added=[item["rule"] for item in planned["add"]], deleted=[item["rule"] for item in planned["delete"]],
                  kept=planned["kept"], review=planned["review"])
    return {"ufw": ufw, "rules": rules, "planned": planned, "report": report}


def _firewall_changes(found):
    return bool(found and found["planned"] and (found["planned"]["add"] or found["planned"]["delete"]))


def _backup_client(journal_dir, path, data, keep):
    """A timestamped copy of a client file, outside the client's folder (root leaves no file of
    its own in a folder another user owns): under ``client-backups/`` next to the journal."""
    directory = os.path.join(os.path.dirname(journal_dir.rstrip("/")), "client-backups") + os.path.dirname(path)
    safe_files.check_dir_chain(directory)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    return _backup(os.path.join(directory, os.path.basename(path)), data, keep)


class Change(object):
    """One applied change: its journal, its stages and, on failure, its rollback."""

    def __init__(self, module, journal_dir):
        self.module = module
        self.journal_dir = journal_dir
        self.journal = None

    def stage(self, name, **extra):
        self.journal.update(extra, stage=name)
        transaction.save(self.journal_dir, self.journal)

    def systemctl(self, *args):
        rc, out, err = self.module.run_command(["systemctl"] + list(args))
        return rc, (err or out).strip()


def _units(names):
    return [name + ".service" for name in names]


def _ports_after(checks):
    """``{name: port}`` of the services the change checks, on their new ports."""
    return dict((check["name"], int(check["port"])) for check in checks
                if isinstance(check, dict) and check.get("name") and check.get("port") is not None)


def what_runs_where(module, previous_ports):
    """``service_info``-shaped facts of the services in ``previous_ports``, after a rollback."""
    names = sorted(previous_ports)
    states = {}
    if names:
        rc, out, err = module.run_command(["systemctl"] + systemctl_show_args(_units(names)))
        if rc == 0:
            states = unit_states(out, _units(names))
    listeners = read_listeners()
    held = set((item["port"], item.get("unit")) for item in listeners)
    services = {}
    for name in names:
        unit = dict(states.get(name + ".service") or {"active": "unknown"})
        services[name] = {"port": previous_ports[name], "unit": unit,
                          "serving": (previous_ports[name], name + ".service") in held}
    return {"services": services, "listeners": listeners}


def apply_change(module, params, writes, invocation, rules=None, planned=None):
    """Journal, arm, write, restart, check; roll back on any failure. ``rules``: the firewall
    part (:func:`plan_firewall`), done after the files and before the restarts. ``planned``:
    what the result says of the clients and the firewall, on success and failure alike."""
    journal_dir = params["journal_dir"]
    changes_firewall = _firewall_changes(rules)
    change = Change(module, journal_dir)
    units_changed = any(write["kind"] == "unit" for write in writes)
    change_id = "%d-%s" % (int(time.time()), hashlib.sha1(os.urandom(16)).hexdigest()[:6])
    now = time.time()
    # Each port's keeper is read before anything stops: the rollback gives it its port back first.
    ports_before = dict(params["previous_ports"])
    meta = dict(holder=params["lease_holder"], restart=params["restart"], stop_first=params["stop_first"],
                rollback_restart=params["rollback_restart"], rollback_stop=params["rollback_stop"],
                units_changed=units_changed, confirm_timeout=params["confirm_timeout"],
                confirm_by=now + params["transaction_timeout"] + params["confirm_timeout"],
                ports_before=ports_before, ports_after=_ports_after(params["health"]),
                keepers=port_order.find_keepers(ports_before, read_listeners()),
                health_timeout=params["health_timeout"], firewall_changed=changes_firewall)
    trees = dict((write["path"], (write["tree"], write["rel"])) for write in writes if write["kind"] == "client")
    paths = [write["path"] for write in writes]
    if changes_firewall:
        # ufw rewrites these itself: journaled first, like every file of the change.
        paths += [path for path in firewall.RULE_FILES if os.path.lexists(path)]
    change.journal = transaction.begin(journal_dir, change_id, paths, meta, trees)
    result = dict(planned or {}, changed=True, id=change_id, written=[], restarted=[])
    try:
        if params["confirm_timeout"] > 0:
            transaction.arm(journal_dir, change.journal, params["transaction_timeout"] + params["confirm_timeout"])
        change.stage("armed")
        if params["stop_first"]:
            rc, out = change.systemctl("stop", "--", *_units(params["stop_first"]))
            if rc != 0:
                raise ChangeFailed("stopping %s failed: %s" % (", ".join(params["stop_first"]), out))
        stages = [(("config", "json"), "configs_written"), (("unit",), "units_written")]
        if any(write["kind"] == "client" for write in writes):
            stages.append((("client",), "clients_written"))
        for kinds, stage in stages:
            for write in writes:
                if write["kind"] not in kinds:
                    continue
                try:
                    if write["kind"] == "client":
                        if params["backup"]:
                            _backup_client(journal_dir, write["path"], write["old"], params["backup_keep"])
                        safe_files.write_in_tree(write["tree"], write["rel"], write["new"], mode=write["mode"],
                                                 uid=write["uid"], gid=write["gid"])
                    else:
                        if params["backup"] and write["old"] is not None:
                            _backup(write["path"], write["old"], params["backup_keep"])
                        transaction.write_atomic(write["path"], write["new"], mode=write.get("mode"),
                                                 uid=write.get("uid"), gid=write.get("gid"))
                except (IOError, OSError) as err:
                    raise ChangeFailed("writing %s failed: %s" % (write["path"], err.strerror or err))
                result["written"].append(write["path"])
            change.stage(stage, written=result["written"])
        if units_changed:
            rc, out = change.systemctl("daemon-reload")
            if rc != 0:
                raise ChangeFailed("systemctl daemon-reload failed: %s" % out)
        if changes_firewall:
            try:
                firewall.apply(module.run_command, rules["ufw"], rules["planned"])
            except firewall.FirewallError as err:
                raise ChangeFailed(str(err))
            change.stage("firewall_updated")
        change.stage("restarting")
        if params["restart"]:
            change.systemctl("reset-failed", "--", *_units(params["restart"]))
        ports_after = change.journal["ports_after"]
        clear_by = time.monotonic() + params["health_timeout"]
        for index, name in enumerate(params["restart"]):
            # systemctl restart returns before the service binds: a service starts only once no
            # other program holds its port, or a squatter (or a slow predecessor) would win it.
            if name in ports_after:
                held = port_order.clear_port(name, ports_after[name], params["restart"][index + 1:],
                                             change.systemctl, clear_by)
                if held:
                    raise ChangeFailed("%s was not started: its port %d is still held by %s after %s s" % (
                        name, ports_after[name], health.describe_holders(held),
                        health.format_seconds(params["health_timeout"])))
            rc, out = change.systemctl("restart", name + ".service")
            if rc != 0:
                raise ChangeFailed("restarting %s failed: %s" % (name, out))
            result["restarted"].append(name)
        change.stage("checking")
        report = check_services(params["health"], host=params["health_host"], timeout=params["health_timeout"],
                                listeners=read_listeners)
        result["health"] = report
        message = failure_message(report)
        if message:
            raise ChangeFailed(message)
        if params["confirm_timeout"] > 0:
            # The confirmation window starts now: the device reverts confirm_timeout s from here.
            transaction.rearm(journal_dir, change.journal, params["confirm_timeout"])
        change.stage("applied", confirm_by=time.time() + params["confirm_timeout"])
    except Exception as err:  # any failure, expected or not, must leave the device as it was
        rollback = transaction.revert(journal_dir, change.journal, str(err))
        transaction.disarm(change.journal)
        transaction.forget_last_revert(journal_dir)  # the controller hears it now
        result["lease_released"] = _release(params)
        rollback_health = check_services(params["rollback_health"], host=params["health_host"],
                                         timeout=params["health_timeout"], listeners=read_listeners)
        module.fail_json(msg=str(err), rolled_back=True, rollback=rollback, rollback_health=rollback_health,
                         after=what_runs_where(module, params["previous_ports"]), invocation=invocation, **result)
    if params["confirm_timeout"] > 0:
        result["confirm_by"] = change.journal["confirm_by"]
    else:
        transaction.finish(journal_dir)
        result["lease_released"] = _release(params)
    return result


def _release(params):
    """Drop this run's lease (call with the journal lock held)."""
    return bool(params["lease_holder"]) and transaction.release_lease(params["journal_dir"], params["lease_holder"])


def _claim(module, params, invocation):
    """Refuse while another run's lease is alive; else extend ours over the change (lock held)."""
    lease = transaction.read_lease(params["journal_dir"])
    if transaction.held_by_other(lease, params["lease_holder"]):
        module.fail_json(msg="another rollout holds this device: %s; nothing was changed"
                         % transaction.describe_lease(lease), lease=lease, written=[], restarted=[],
                         lease_released=False, invocation=invocation)
    if params["lease_holder"]:
        # From here the claim lasts as long as the change can stay unconfirmed (the revert timer's
        # deadline, and a margin for its revert): a run that dies mid-change holds the device
        # until the device has reverted by itself, no longer.
        expires = time.time() + params["transaction_timeout"] + params["confirm_timeout"] + LEASE_MARGIN
        controller = params["lease_controller"] or (lease or {}).get("controller")
        transaction.write_lease(params["journal_dir"], params["lease_holder"], expires, controller)


def _shown(write, data):
    """A file's text for diff mode; a unit's environment values masked (they can hold tokens)."""
    text = data.decode("utf-8", "replace")
    return mask_environment(text) if write["kind"] == "unit" else text


def _backup(path, data, keep):
    """A timestamped copy next to ``path`` (root's, 0600); only the newest ``keep`` copies stay.

    Returns the errors of the pruning, which never fails the change.
    """
    directory, base = os.path.split(path)
    transaction.write_atomic(os.path.join(directory, safe_files.backup_name(base)), data, mode=0o600, uid=0, gid=0)
    return safe_files.prune_backups(directory, base, keep)


def main():
    service_list = dict(type="list", elements="str", default=[])
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["applied", "confirmed", "reverted", "released", "absent"], default="applied"),
            journal_dir=dict(type="path", default="/var/lib/hailo-services/transaction"),
            id=dict(type="str"),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                kind=dict(type="str", choices=["config", "json", "unit"], default="config"),
                port=dict(type="int"),
                json_path=dict(type="path"),
                content=dict(type="str"),
                expect=dict(type="str"),
                json_expect=dict(type="str"),
            )),
            clients=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                unit=dict(type="str", required=True),
                check=dict(type="str"),
                port=dict(type="int"),
                required=dict(type="bool", default=True),
            )),
            client_ports=dict(type="dict", default={}),
            client_review=dict(type="dict", default={}),
            firewall=dict(type="bool", default=False),
            service_ports=dict(type="dict", default={}),
            stop_first=service_list, restart=dict(service_list), rollback_restart=dict(service_list),
            rollback_stop=dict(service_list),
            health=dict(type="list", elements="dict", default=[]),
            rollback_health=dict(type="list", elements="dict", default=[]),
            previous_ports=dict(type="dict", default={}),
            health_host=dict(type="str", default="127.0.0.1"),
            health_timeout=dict(type="float", default=90),
            confirm_timeout=dict(type="int", default=120),
            transaction_timeout=dict(type="int", default=300),
            backup=dict(type="bool", default=False),
            backup_keep=dict(type="int", default=3),
            allow_root_symlinks=dict(type="bool", default=False),
            reason=dict(type="str", default="reverted by the controller"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            lease_holder=dict(type="str"),
            lease_controller=dict(type="str"),
        ),
        required_if=[("state", "confirmed", ["id"]), ("state", "released", ["lease_holder"])],
        supports_check_mode=True,
        no_log=True,  # the device's journal must not log rendered configs (the result says what was done)
    )
    params = module.params
    journal_dir = params["journal_dir"]
    # Rendered contents stay out of the result (and so out of AWX's job events).
    invocation = {"module_args": dict(params, files=[dict(item, content=None if item.get("content") is None else
                                                          "(%d characters)" % len(item["content"]))
                                                     for item in params["files"]])}
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML (python3-yaml)"), exception=YAML_IMPORT_ERROR,
                         invocation=invocation)
    try:  # before any lock, lease or journal in it is opened
        safe_files.check_journal_dir(journal_dir)
    except (IOError, OSError) as err:
        module.fail_json(msg="%s; nothing was written" % (getattr(err, "strerror", None) or err), invocation=invocation)
    if params["backup_keep"] < 1:
        module.fail_json(msg="backup_keep must be at least 1, got %d" % params["backup_keep"], invocation=invocation)

    if params["state"] == "absent":
        if module.check_mode:
            module.exit_json(changed=os.path.isdir(journal_dir), removed=[], lease_released=False,
                             invocation=invocation)
        try:
            removed = transaction.uninstall(journal_dir, unit_dir=params["unit_dir"])
        except (transaction.JournalError, IOError, OSError) as err:
            module.fail_json(msg="cannot remove what hailo.services installed: %s" % err, invocation=invocation)
        module.exit_json(changed=bool(removed), removed=removed, lease_released=False, invocation=invocation)

    if params["state"] == "confirmed":  # the same code as the controller's `revert.py --confirm`
        try:
            confirmed = transaction.confirm(journal_dir, params["id"], params["lease_holder"], module.check_mode)
        except transaction.NotConfirmed as err:
            module.fail_json(msg=str(err), lease_released=False, invocation=invocation,
                             **({"rollback": err.rollback} if err.rollback else {}))
        module.exit_json(invocation=invocation, **confirmed)
    if params["state"] != "applied":
        if not os.path.isdir(journal_dir):
            module.exit_json(changed=False, msg="no change on the device", lease_released=False,
                             invocation=invocation)
        fd = transaction.lock(journal_dir)
        try:
            _settle(module, params, invocation)
        finally:
            os.close(fd)
    try:
        writes = plan_files(module, params["files"])
        client_writes, client_reports, client_extra = plan_clients(module, params)
        rules = plan_firewall(module, params)
    except ChangeFailed as err:
        module.fail_json(msg=str(err), written=[], restarted=[], invocation=invocation)
    writes += client_writes
    if client_extra["restart"]:
        # The clients restart after the services they call, and a rollback restarts them last,
        # on their restored files; their checks join the services'.
        params = dict(params, restart=params["restart"] + client_extra["restart"],
                      rollback_restart=params["rollback_restart"] + client_extra["restart"],
                      health=params["health"] + client_extra["health"],
                      rollback_health=params["rollback_health"] + client_extra["health"])

    result = dict(changed=bool(writes or params["restart"] or params["stop_first"]), written=[], restarted=[])
    if params["clients"]:
        result["clients"] = client_reports
    if rules is not None:
        result["firewall"] = rules["report"]
    if module._diff:
        result["diff"] = [dict(before_header=write["path"], after_header=write["path"],
                               before=_shown(write, write["old"] or b""), after=_shown(write, write["new"]))
                          for write in writes]
        if _firewall_changes(rules):
            before = [rule["text"] for rule in rules["rules"]]
            result["diff"].append(dict(before_header="ufw rules (ufw show added)", after_header="ufw rules",
                                       before="\n".join(before) + "\n",
                                       after="\n".join(firewall.rules_after(rules["rules"], rules["planned"])) + "\n"))
    if module.check_mode:
        result.update(written=[write["path"] for write in writes], restarted=list(params["restart"]))
        module.exit_json(invocation=invocation, **result)

    # A no-op touches nothing on the device: the journal directory is made by the first change.
    if result["changed"] and not os.path.isdir(journal_dir):
        os.makedirs(journal_dir, 0o700)
    fd = transaction.lock(journal_dir) if os.path.isdir(journal_dir) else None
    result["lease_released"] = False
    try:
        if fd is not None:
            leftover = transaction.load(journal_dir)
            if leftover is not None:
                module.fail_json(msg="an unfinished change (%s, stage %s) is on the device; revert it first "
                                 "(state=reverted)" % (leftover.get("id"), leftover.get("stage")),
                                 invocation=invocation, **result)
            _claim(module, params, invocation)
            found = transaction.last_revert(journal_dir)
            if found is not None:
                result["found"] = found
                transaction.forget_last_revert(journal_dir)
        if result["changed"]:
            try:
                safe_files.check_journal_dir(journal_dir)
                transaction.install(journal_dir, _revert_sources(), unit_dir=params["unit_dir"])
            except (transaction.JournalError, IOError, OSError) as err:
                module.fail_json(msg="cannot install the revert on the device: %s; nothing was written"
                                 % (getattr(err, "strerror", None) or err), invocation=invocation, **result)
            planned = dict((key, result[key]) for key in ("clients", "firewall") if key in result)
            result.update(apply_change(module, params, writes, invocation, rules, planned))
        else:
            report = check_services(params["health"], host=params["health_host"], timeout=params["health_timeout"],
                                    listeners=read_listeners)
            result["health"] = report
            if fd is not None:
                result["lease_released"] = _release(params)
            message = failure_message(report)
            if message:
                module.fail_json(msg=message, invocation=invocation, **result)
    finally:
        if fd is not None:
            os.close(fd)
    module.exit_json(invocation=invocation, **result)


def _settle(module, params, invocation):
    """O(state=reverted) or O(state=released), with the journal lock held."""
    journal_dir = params["journal_dir"]
    journal = transaction.load(journal_dir)
    lease = transaction.read_lease(journal_dir)
    if params["state"] == "released":
        released = False if module.check_mode else _release(params)
        module.exit_json(changed=released, lease_released=released, invocation=invocation)
    if journal is None:
        module.exit_json(changed=False, msg="no unfinished change on the device", lease_released=False,
                         invocation=invocation)
    if params["id"] is not None and journal.get("id") != params["id"]:
        module.fail_json(msg="change %s is not this device's pending change (%s); nothing was reverted"
                         % (params["id"], journal.get("id")), lease_released=False, invocation=invocation)
    if params["id"] is None and transaction.held_by_other(lease, params["lease_holder"]):
        module.fail_json(msg="change %s is in flight: %s holds the device; nothing was reverted"
                         % (journal.get("id"), transaction.describe_lease(lease)), lease=lease,
                         lease_released=False, invocation=invocation)
    if module.check_mode:
        module.exit_json(changed=True, msg="would revert change %s" % journal.get("id"), lease_released=False,
                         invocation=invocation)
    transaction.disarm(journal)
    rollback = transaction.revert(journal_dir, journal, params["reason"])
    transaction.forget_last_revert(journal_dir)
    module.exit_json(changed=True, rollback=rollback, lease_released=False,
                     msg="reverted change %s (%s)" % (journal.get("id"), journal.get("stage")), invocation=invocation)


def _revert_sources():
    """The source of every module_utils this module loaded: the revert runs them on the device."""
    prefix = transaction.PACKAGE + "."
    sources = {}
    for name, loaded in list(sys.modules.items()):
        if name.startswith(prefix) and loaded is not None and "." not in name[len(prefix):]:
            sources[name[len(prefix):]] = inspect.getsource(loaded)
    return sources


if __name__ == "__main__":
    main()
