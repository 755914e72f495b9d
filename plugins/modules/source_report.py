# -*- coding: utf-8 -*-
# Copyright: contributors to hailo.services
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: source_report
short_description: Internal step, not for direct use (hailo.services.source_tree role - checks its settings, builds its report)
version_added: 0.1.0
author:
  - hailo.services maintainers (@hailo)
description:
  - Runs on the controller and changes nothing. It has two jobs, one per task.
  - With O(settings), checks the settings of the C(hailo.services.source_tree) role before the
    source tree is touched, and fails naming every problem (RV(problems)). It also says where
    the tree is, RV(local) and RV(root), the path to give M(hailo.services.port_references).
  - With O(result), turns the result of M(hailo.services.port_references) into the role's
    report, RV(report), with paths relative to the tree, the moves that changed a port and, for
    each line left for review, one line saying why a human must look at it; renders it as the
    Markdown section RV(markdown); and gives the one-line RV(summary) of the run.
options:
  settings:
    description:
      - The role's settings to check. Mutually exclusive with O(result); one of them is required.
    type: dict
    suboptions:
      max_size:
        description: C(source_tree_max_size); must be at least 1.
        type: raw
        required: true
      path:
        description:
          - C(source_tree_path).
          - On the controller a relative path is taken from the directory ansible-playbook was
            started in; on another host it must be absolute.
        type: str
        required: true
      host:
        description:
          - C(source_tree_host), the inventory host that holds the tree.
          - C(localhost), C(127.0.0.1) and C(::1) are the controller.
        type: str
        required: true
      connection:
        description:
          - The C(ansible_connection) of O(settings.host), empty when it has none.
          - C(local) means the tree is on the controller.
        type: str
        default: ""
      report:
        description: C(source_tree_report); when true, O(settings.report_dir) must be set.
        type: bool
        required: true
      report_dir:
        description: C(source_tree_report_dir).
        type: str
  result:
    description:
      - The registered result of M(hailo.services.port_references), with paths under O(root).
      - Requires O(root) and O(host).
    type: dict
  root:
    description: The path M(hailo.services.port_references) got, RV(root) of the settings check.
    type: str
  moves:
    description:
      - The moves given to M(hailo.services.port_references), each C({service, from, to}) with an
        optional C(reason) shown in the report. Moves that keep their port are left out.
    type: list
    elements: dict
    default: []
  host:
    description: The host that holds the tree, shown in the report.
    type: str
  managed:
    description:
      - The text of the report's first line, an HTML comment; pass C(ansible_managed) there.
      - Default is the C(ansible_managed) setting of the configuration, C(Ansible managed)
        unless changed.
    type: str
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Changes nothing either way; the report says whether the run was a check run.
  connection:
    support: none
  delegation:
    support: none
    details: Always runs on the controller.
  diff_mode:
    support: none
  platform:
    platforms: all
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
seealso:
  - module: hailo.services.port_references
notes:
  - The role C(hailo.services.source_tree) writes RV(markdown) to C(source-references.md) and
    RV(report) to C(source-references.json).
"""

EXAMPLES = r"""
- name: Check the settings before touching the source tree
  hailo.services.source_report:
    settings:
      max_size: "{{ source_tree_max_size }}"
      path: "{{ source_tree_path }}"
      host: localhost
      report: true
      report_dir: reports
  register: refs_settings

- name: Rewrite the stale ports in the source tree
  hailo.services.port_references:
    path: "{{ refs_settings.root }}"
    moves: "{{ port_map.changes }}"
  register: port_refs

- name: Build the report
  hailo.services.source_report:
    result: "{{ port_refs }}"
    root: "{{ refs_settings.root }}"
    moves: "{{ port_map.changes }}"
    host: localhost
    managed: "{{ ansible_managed | default(omit) }}"
  register: refs_report

- name: Write the Markdown report
  ansible.builtin.copy:
    content: "{{ refs_report.markdown }}"
    dest: reports/source-references.md
    mode: "0644"
"""

RETURN = r"""
problems:
  description: With O(settings), what is wrong with them, one sentence each; the task fails unless empty.
  returned: with O(settings)
  type: list
  elements: str
  sample:
    - source_tree_max_size must be at least 1, not 0
local:
  description: With O(settings), whether the tree is on the controller.
  returned: with O(settings)
  type: bool
  sample: true
root:
  description:
    - With O(settings), the tree as M(hailo.services.port_references) should get it. On the
      controller O(settings.path) with C(~) expanded, made absolute and with symlinks resolved;
      on another host O(settings.path) as given.
  returned: with O(settings)
  type: str
  sample: /srv/hailo/system_services
report:
  description: With O(result), the report's data.
  returned: with O(result)
  type: dict
  contains:
    check_mode:
      description: Whether the run was a check run (nothing was written).
      type: bool
    host:
      description: O(host).
      type: str
    path:
      description: O(root).
      type: str
    moves:
      description: The moves that change a port, each C({service, from, to, reason}).
      type: list
      elements: dict
    replaced:
      description: Number of ports rewritten (or, in check mode, to rewrite).
      type: int
    files_changed:
      description: Number of files changed (or to change).
      type: int
    files:
      description: Each changed file, relative to the tree, to its number of rewritten ports.
      type: dict
    review:
      description:
        - The lines left for review, each C({file, line, port, moved_service, likely_service,
          why, text}), C(file) relative to the tree and C(why) one line saying why a human must
          look at it.
      type: list
      elements: dict
    skipped:
      description: The entries not read, each C({file, reason}), C(file) relative to the tree.
      type: list
      elements: dict
  sample:
    check_mode: false
    host: localhost
    path: /srv/hailo/system_services
    moves:
      - {service: hailo-piper, from: 5002, to: 5003, reason: ""}
    replaced: 1
    files_changed: 1
    files:
      hailo-piper/config.yaml: 1
    review:
      - file: hailo-face/config.yaml
        line: 3
        port: 5002
        moved_service: hailo-piper
        likely_service: hailo-face
        why: "Seems to mean hailo-face, which does not leave 5002: most likely right as it is; confirm."
        text: "port: 5002"
    skipped: []
markdown:
  description: With O(result), RV(report) as the Markdown section C(## Source references).
  returned: with O(result)
  type: str
summary:
  description: With O(result), the run's one-line summary.
  returned: with O(result)
  type: str
  sample: "source_tree: 1 reference in 1 file updated; 1 occurrence outside moved services listed for review."
"""
