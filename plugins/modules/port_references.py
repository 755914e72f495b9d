#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: port_references
short_description: Rewrite the hard-coded ports of moved Hailo services in a source tree
version_added: 0.1.0
description:
  - Works on a source tree such as C(system_services/) that holds one directory per service.
    For every moved service, every standalone literal of its old port inside that service's
    own directory (recursively) becomes the new port, in every text file (Markdown, YAML,
    shell, Python, JavaScript, plain text, test harnesses, ...).
  - A number counts only when it stands alone. It must not touch a digit, an ASCII letter or
    C(_) on either side, and must not be one part of a dotted decimal or version. So for
    port 5002, C(50020), C(150021), C(v5002), C(0x5002), C(1.5002) and C(5002.5) are left
    alone, while C(:5002/), C("5002"), C(5002/tcp) and C(port 5002.) are rewritten.
  - Inside a moved service's directory, a line that names another service by its full name
    (for example C(hailo-face keeps 5002)) is at least partly about that other service, even
    when it also names the moved service. It is not changed but listed in RV(review).
  - Other services' directories and files outside every moved service's directory are never
    changed. Old ports found there are listed in RV(review) with the service the line most
    likely means. When two services leave the same port (hailo-depth and hailo-pose both
    leave 11436), each is rewritten in its own directory, and a line outside both is listed
    once per move.
  - Binary files (a NUL byte, or not valid UTF-8), files over O(max_size) bytes, special
    files and symlinks (to files or directories) are never read, changed or followed; they
    are listed in RV(skipped). Entries that cannot be read (a directory or file the module
    may not open or list, an entry that vanished) are listed there too, with the error,
    instead of failing the run. Directories of version control, caches and virtual
    environments (C(.git), C(__pycache__), C(node_modules), C(.venv), C(venv), ...) are not
    entered.
  - No symlink below O(path) is ever followed, not even one swapped in while the module runs.
    Every directory is opened from O(path) down, one level at a time, without following a
    symlink, and every file is read and written relative to its directory's open descriptor.
    Before writing, the module opens that chain of directories again the same way and checks
    that the file still holds exactly the bytes it scanned. A directory that became a symlink
    or a file that changed since the scan is not written and is listed in RV(failed_files)
    with a reason that starts with C(changed since scan).
  - Every file is written atomically (a new temporary file in the same directory, synced to
    disk, then renamed over the file) and keeps its mode and owner. Bytes other than the
    rewritten ports, line endings included, are kept.
  - A file that cannot be written does not stop the others. When any file fails, the module
    fails, and its message and the RV(written) and RV(failed_files) lists name exactly which files
    were written (with their replacement counts) and which were not, and why.
author:
  - hailo.services maintainers (@hailo)
options:
  path:
    description:
      - The directory that holds one sub-directory per service, for example
        C(/srv/hailo/system_services).
      - Must exist. Every moved service must have a directory (not a symlink) directly under it.
      - Refused, before anything is read, when it resolves (symlinks and C(..) resolved) to a
        system directory itself - C(/), C(/bin), C(/boot), C(/dev), C(/etc), C(/lib),
        C(/lib64), C(/proc), C(/root), C(/run), C(/sbin), C(/sys), C(/tmp), C(/usr), C(/var)
        and the main directories directly under C(/usr) and C(/var). Directories below them,
        such as C(/var/lib/hailo/system_services), are accepted.
    type: path
    required: true
  moves:
    description:
      - The port moves, in the shape of the C(changes) list that the
        P(hailo.services.reconcile_ports#filter) filter returns, so the filter's output can be
        passed as is, for example C("{{ port_map.changes }}").
      - A move whose O(moves[].from) equals its O(moves[].to) changes nothing.
      - A service may appear twice only with the same ports.
      - An empty list changes nothing.
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description:
          - Name of the service, which is also the name of its directory under O(path).
          - Only lower-case letters, digits, C(.), C(_) and C(-), starting with a letter or a
            digit, and no C(..). The whole value must match, so a trailing newline
            (C("hailo-ocr\n")) is refused.
        type: str
        required: true
      from:
        description: The port the service leaves, 1 to 65535.
        type: int
        required: true
      to:
        description: The port the service moves to, 1 to 65535.
        type: int
        required: true
      reason:
        description: Accepted and ignored, so the filter's output can be passed as is.
        type: str
  max_size:
    description:
      - Files larger than this many bytes are neither read nor changed (they are listed in
        RV(skipped)).
      - Must be at least 1.
    type: int
    default: 1048576
attributes:
  check_mode:
    support: full
    details: Reports what would change (RV(files), RV(replaced), RV(review)) and writes nothing (RV(written) is empty).
  diff_mode:
    support: full
    details: Returns a unified diff per changed file.
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - plugin: hailo.services.reconcile_ports
    plugin_type: filter
notes:
  - Service names are recognised on a line only in full and as a whole word (C(hailo-face),
    not C(face) and not C(hailo-face-v2)), case-insensitively. Known names are the moved
    services and every C(hailo-*) directory directly under O(path).
  - A line in the review list is not changed by this module. Read it and edit by hand if it
    means a moved service.
"""

EXAMPLES = r"""
- name: Compute the port plan
  ansible.builtin.set_fact:
    port_map: "{{ hailo_services_catalog | hailo.services.reconcile_ports(reserved=[5099, 7860]) }}"

- name: Rewrite the stale ports in the source tree
  hailo.services.port_references:
    path: /srv/hailo/system_services
    moves: "{{ port_map.changes }}"
  register: port_refs

- name: Show the lines a human should look at
  ansible.builtin.debug:
    msg: "{{ item.file }}:{{ item.line }} {{ item.port }} ({{ item.moved_service }} moved; line likely means {{ item.likely_service }}): {{ item.text }}"
  loop: "{{ port_refs.review }}"

- name: Spell the moves out by hand
  hailo.services.port_references:
    path: "{{ playbook_dir }}/../system_services"
    moves:
      - {service: hailo-piper, from: 5002, to: 5003}
      - {service: hailo-depth, from: 11436, to: 11439}
      - {service: hailo-pose, from: 11436, to: 11440}
  check_mode: true
  diff: true
"""

RETURN = r"""
changed:
  description: Whether a file was (or, in check mode, would be) changed.
  returned: always
  type: bool
  sample: true
files:
  description: Each changed file to the number of ports rewritten in it.
  returned: always
  type: dict
  sample:
    /srv/hailo/system_services/hailo-piper/API_SPEC.md: 6
    /srv/hailo/system_services/hailo-piper/config.yaml: 1
replaced:
  description: Total number of ports rewritten, over all files.
  returned: always
  type: int
  sample: 7
review:
  description:
    - Lines with the old port of a moved service that were left alone, one entry per line and
      move, sorted by file and line.
  returned: always
  type: list
  elements: dict
  sample:
    - file: /srv/hailo/system_services/README.md
      line: 12
      text: "| hailo-face | 5002 | frozen |"
      port: 5002
      moved_service: hailo-piper
      likely_service: hailo-face
  contains:
    file:
      description: Path of the file.
      type: str
      returned: always
    line:
      description: Line number, counting from 1.
      type: int
      returned: always
    text:
      description:
        - The line without leading and trailing white space, cut to a window around the port
          when it is longer than 240 characters.
      type: str
      returned: always
    port:
      description: The old port found on the line.
      type: int
      returned: always
    moved_service:
      description: The moved service that left this port.
      type: str
      returned: always
    likely_service:
      description:
        - The service the line most likely means. The one service the line names, else the
          service whose directory holds the file, else the one service the file's path
          names, else V(null).
      type: str
      returned: always
skipped:
  description: Entries that were not read, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - file: /srv/hailo/system_services/hailo-piper/models/voice.onnx
      reason: too large
    - file: /srv/hailo/system_services/hailo-piper/shared
      reason: symlink
  contains:
    file:
      description: Path of the entry.
      type: str
      returned: always
    reason:
      description:
        - "One of C(symlink), C(not a regular file), C(too large), C(binary), or
          C(unreadable) followed by the error (for example C(unreadable: Permission denied)
          for a directory or file that cannot be opened or listed)."
      type: str
      returned: always
written:
  description:
    - The files that were written, each completely and atomically, with the number of ports
      rewritten in each, in file order. Empty in check mode.
    - When the module fails because of RV(failed_files), exactly these files were changed.
  returned: always
  type: list
  elements: dict
  sample:
    - file: /srv/hailo/system_services/hailo-piper/API_SPEC.md
      count: 6
  contains:
    file:
      description: Path of the file.
      type: str
      returned: always
    count:
      description: Number of ports rewritten in it.
      type: int
      returned: always
failed_files:
  description:
    - The files that should have been written but were not, with the reason, in file order.
      Each is left as it was (a write is atomic). When this is not empty the module fails.
    - Named so because C(failed) is Ansible's own status key.
    - A reason that starts with C(changed since scan) means the file, or a directory on the
      way to it, changed between the scan and the write (its content differs, it was replaced
      or removed, or a directory became a symlink, which is never followed). Run the module
      again to rescan.
  returned: always
  type: list
  elements: dict
  sample:
    - file: /srv/hailo/system_services/hailo-piper/config.yaml
      reason: "changed since scan: directory /srv/hailo/system_services/hailo-piper is now a symlink (not followed)"
  contains:
    file:
      description: Path of the file.
      type: str
      returned: always
    reason:
      description: Why it was not written.
      type: str
      returned: always
msg:
  description:
    - A one-line summary.
    - On a failed write, which files were written (with their replacement counts) and which
      failed, and why.
  returned: always
  type: str
  sample: rewrote 7 port reference(s) in 2 file(s); 1 line(s) to review
diff:
  description: A unified diff per changed file, rendered by C(--diff).
  returned: when diff mode is on
  type: list
  elements: dict
  contains:
    before_header:
      description: Path of the file.
      type: str
      returned: always
    after_header:
      description: Path of the file.
      type: str
      returned: always
    prepared:
      description: The unified diff.
      type: str
      returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hailo.services.plugins.module_utils.port_references import (
    DEFAULT_MAX_SIZE,
    PortReferenceError,
    apply_edits,
    check_root,
    failure_message,
    scan,
    unified_diff,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            moves=dict(
                type="list",
                elements="dict",
                required=True,
                options={
                    "service": dict(type="str", required=True),
                    "from": dict(type="int", required=True),
                    "to": dict(type="int", required=True),
                    "reason": dict(type="str"),
                },
            ),
            max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
        ),
        supports_check_mode=True,
    )
    root = module.params["path"]

    try:
        # Before anything else: a system directory is never scanned (scan checks it too).
        check_root(root)
        plan = scan(root, module.params["moves"], module.params["max_size"])
    except PortReferenceError as exc:
        module.fail_json(msg="port_references: %s" % exc)

    edits = plan["edits"]
    files = dict((name, edits[name]["count"]) for name in sorted(edits))
    result = dict(
        changed=bool(edits),
        files=files,
        replaced=sum(files.values()),
        review=plan["review"],
        skipped=plan["skipped"],
        written=[],
        failed_files=[],
    )
    if module._diff:
        result["diff"] = [
            unified_diff(edits[name]["before"], edits[name]["after"], name) for name in sorted(edits)
        ]

    if not module.check_mode and edits:
        outcome = apply_edits(root, edits)
        result["written"] = outcome["written"]
        result["failed_files"] = outcome["failed"]
        if outcome["failed"]:
            result["changed"] = bool(outcome["written"])
            module.fail_json(msg=failure_message(outcome["written"], outcome["failed"]), **result)

    result["msg"] = "%s %d port reference(s) in %d file(s); %d line(s) to review" % (
        "would rewrite" if module.check_mode else "rewrote",
        result["replaced"], len(files), len(plan["review"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
