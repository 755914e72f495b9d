#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service_port
short_description: Set server.port in a Hailo service YAML and keep its JSON copy in step
version_added: 0.1.0
description:
  - Changes the C(server.port) value of a Hailo AI service configuration such as
    C(/etc/hailo/hailo-piper.yaml) and keeps every other byte of the file as it was, including
    comments, quoting, key order, flow style, trailing comments and line endings.
  - Only the C(port) key directly under the top-level C(server) mapping is changed. Other
    C(port) keys, for example hailo-ollama's C(library.port) or a nested C(server.tls.port),
    are left alone.
  - >-
    A quoted port stays quoted with the same quote character (C(port: "5002") becomes
    C(port: "5003")).
  - The file is composed with PyYAML and the new number is spliced in at the exact position
    of the old value; the result is loaded again and must equal the old data except for
    C(server.port) before anything is written.
  - With O(json_path), also rewrites the JSON copy that several services read instead of the
    YAML, whenever it is missing or out of step with the (new) YAML. The copy is rendered the
    way the installers render it, C(json.dump) of the parsed YAML with C(indent=2), without a
    trailing newline.
  - The JSON copy is in step when it parses to the same data as the YAML, ignoring key order
    and formatting but not value types. A copy that is in step but formatted differently is
    left alone. A copy that is not valid JSON is out of step and is rewritten.
  - Fails, leaving every file untouched, when the YAML does not parse, has no C(server)
    mapping, C(server) is not a mapping, C(server.port) is missing, not an integer (a quoted
    string of digits counts as an integer), uses a YAML anchor or alias, or is written in a
    form the module does not edit (explicit tag, block scalar). The message names the file.
  - Also fails, leaving every file untouched, when the YAML is larger than 256 KiB (at most
    one byte more than that is read; the message names the file and its size) or uses YAML
    aliases that expand too far (more than 100 aliases, more than 10000 nodes behind them
    together, or a recursive alias).
  - Writes are atomic (a temporary file in the same directory renamed over the original)
    and keep the owner, group and mode of the file they replace.
author:
  - hailo.services maintainers (@hailo)
options:
  path:
    description:
      - The service YAML, for example C(/etc/hailo/hailo-piper.yaml).
      - A symlink is followed and its target is edited.
    type: path
    required: true
  port:
    description:
      - The port to set, 1 to 65535.
    type: int
    required: true
  json_path:
    description:
      - The JSON copy of the YAML, for example C(/etc/xdg/hailo-piper/hailo-piper.json).
      - Rewritten when it is missing, invalid or holds different data than the YAML.
      - A new copy gets the owner, group and mode of the YAML. Its directory must exist.
      - Leave unset for services that read the YAML directly.
    type: path
  backup:
    description:
      - Make a timestamped backup of each file before it is changed. Files that do not
        change are not backed up.
    type: bool
    default: false
requirements:
  - PyYAML (C(python3-yaml)) on the managed host
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the YAML and, when it changes, the JSON copy before and after.
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - The module does not restart the service; notify a handler when the task reports a change.
seealso:
  - module: hailo.services.service_info
"""

EXAMPLES = r"""
- name: Move hailo-piper off the port hailo-face keeps
  hailo.services.service_port:
    path: /etc/hailo/hailo-piper.yaml
    port: 5003
    backup: true

- name: Move hailo-depth and re-render the JSON copy it reads
  hailo.services.service_port:
    path: /etc/hailo/hailo-depth.yaml
    json_path: /etc/xdg/hailo-depth/hailo-depth.json
    port: 11439
  register: hailo_depth_port
  notify: Restart hailo-depth
"""

RETURN = r"""
path:
  description: The YAML file, with symlinks resolved.
  returned: always
  type: str
  sample: /etc/hailo/hailo-piper.yaml
port:
  description: The port that is set now.
  returned: always
  type: int
  sample: 5003
previous_port:
  description: The port the YAML held before.
  returned: success
  type: int
  sample: 5002
yaml_changed:
  description: Whether the YAML was (or, in check mode, would be) changed.
  returned: success
  type: bool
  sample: true
json_path:
  description: The JSON copy, with symlinks resolved, or V(null) without O(json_path).
  returned: always
  type: str
  sample: /etc/xdg/hailo-piper/hailo-piper.json
json_changed:
  description: Whether the JSON copy was (or, in check mode, would be) written.
  returned: success
  type: bool
  sample: true
backup_file:
  description: The backup of the YAML.
  returned: when O(backup) is true and the YAML changed, not in check mode
  type: str
  sample: /etc/hailo/hailo-piper.yaml.12345.2025-01-01@12:00:00~
json_backup_file:
  description: The backup of the JSON copy.
  returned: when O(backup) is true and an existing JSON copy changed, not in check mode
  type: str
  sample: /etc/xdg/hailo-piper/hailo-piper.json.12345.2025-01-01@12:00:00~
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.hailo.services.plugins.module_utils.transaction import write_atomic
from ansible_collections.hailo.services.plugins.module_utils.yaml_port import (
    HAS_YAML,
    PORT_MAX,
    PORT_MIN,
    YAML_IMPORT_ERROR,
    PortFileError,
    json_in_step,
    load_yaml,
    read_config_bytes,
    render_json,
    replace_server_port,
)


def _read_bytes(module, path, missing_ok=False, bounded=False):
    """The bytes of ``path``; with ``bounded``, refuse a file over yaml_port.MAX_CONFIG_BYTES."""
    try:
        if bounded:
            return read_config_bytes(path)
        with open(path, "rb") as handle:
            return handle.read()
    except PortFileError as err:
        module.fail_json(msg="%s: %s" % (path, err), path=path)
    except (IOError, OSError) as err:
        if missing_ok and not os.path.lexists(path):
            return None
        module.fail_json(msg="%s: cannot read: %s" % (path, err.strerror or err), path=path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            port=dict(type="int", required=True),
            json_path=dict(type="path"),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = os.path.realpath(module.params["path"])
    port = module.params["port"]
    json_path = module.params["json_path"]
    json_path = os.path.realpath(json_path) if json_path else None
    result = dict(changed=False, path=path, port=port, json_path=json_path)

    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML (python3-yaml)"),
                         exception=YAML_IMPORT_ERROR, **result)
    if not PORT_MIN <= port <= PORT_MAX:
        module.fail_json(msg="port must be from %d to %d, got %d" % (PORT_MIN, PORT_MAX, port), **result)
    if not os.path.isfile(path):
        module.fail_json(msg="%s: no such file" % path, **result)

    # Work everything out before the first write, so a problem leaves all files untouched.
    old_bytes = _read_bytes(module, path, bounded=True)
    try:
        old_text = old_bytes.decode("utf-8")
    except UnicodeDecodeError as err:
        module.fail_json(msg="%s: not UTF-8: %s" % (path, err), **result)
    try:
        new_text, previous = replace_server_port(old_text, port)
        new_data = load_yaml(new_text)
        json_text = render_json(new_data) if json_path else None
    except PortFileError as err:
        module.fail_json(msg="%s: %s" % (path, err), **result)
    new_bytes = new_text.encode("utf-8")
    yaml_changed = new_bytes != old_bytes

    json_old = None
    json_changed = False
    if json_path:
        if os.path.isdir(json_path):
            module.fail_json(msg="%s: is a directory" % json_path, **result)
        if not os.path.isdir(os.path.dirname(json_path)):
            module.fail_json(msg="%s: directory %s does not exist" % (json_path, os.path.dirname(json_path)),
                             **result)
        json_old = _read_bytes(module, json_path, missing_ok=True)
        if json_old is None:
            json_changed = True
        else:
            try:
                json_changed = not json_in_step(json_old.decode("utf-8"), new_data)
            except UnicodeDecodeError:
                json_changed = True

    result.update(previous_port=previous, yaml_changed=yaml_changed, json_changed=json_changed,
                  changed=yaml_changed or json_changed)
    parts = []
    if yaml_changed:
        parts.append("server.port %d -> %d in %s" % (previous, port, path))
    if json_changed:
        parts.append("%s %s" % ("rewrote" if json_old is not None else "created", json_path))
    result["msg"] = "; ".join(parts) or "server.port is %d, nothing to change" % port

    if module._diff:
        diff = []
        if yaml_changed:
            diff.append(dict(before_header=path, after_header=path, before=old_text, after=new_text))
        if json_changed:
            before = json_old.decode("utf-8", "replace") if json_old is not None else ""
            diff.append(dict(before_header=json_path, after_header=json_path, before=before, after=json_text))
        result["diff"] = diff

    if module.check_mode:
        module.exit_json(**result)

    try:
        if module.params["backup"]:
            if yaml_changed:
                result["backup_file"] = module.backup_local(path)
            if json_changed and json_old is not None:
                result["json_backup_file"] = module.backup_local(json_path)
        if yaml_changed:
            write_atomic(path, new_bytes)
        if json_changed:
            # A new copy: same owner, group and mode as the YAML it renders, set on the
            # descriptor before the rename (never by path afterwards).
            st = os.stat(path) if json_old is None else None
            write_atomic(json_path, json_text.encode("utf-8"), mode=st and st.st_mode & 0o7777,
                         uid=st and st.st_uid, gid=st and st.st_gid)
    except (IOError, OSError) as err:
        module.fail_json(msg="writing failed: %s" % err, exception=traceback.format_exc(), **result)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
