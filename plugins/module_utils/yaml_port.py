# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Change ``server.port`` in a hand-written Hailo service YAML without touching any other byte.

The text is composed with PyYAML's pure-Python SafeLoader, which records the character
offset of every node.  The new port is spliced in at the exact offsets of the ``server``
mapping's ``port`` value, so comments, quoting, key order, flow style and line endings
stay as they were.  Nothing here uses regular expressions on the YAML text.

Also holds the JSON-copy helpers shared by the service_port and service_info modules:
the installers render ``/etc/xdg/<service>/<service>.json`` as
``json.dump(yaml.safe_load(f), fp, indent=2)`` and this module does the same.

Runs on the managed host: standard library plus PyYAML only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import traceback

try:
    import yaml
except ImportError:  # pragma: no cover - exercised only on hosts without python3-yaml
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

PORT_MIN = 1
PORT_MAX = 65535

_DIGITS = re.compile(r"\A[0-9]+\Z")
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"


class PortFileError(Exception):
    """The YAML cannot be edited safely; the message says why (without the file name)."""


if HAS_YAML:

    class _TrackingLoader(yaml.SafeLoader):
        """SafeLoader that remembers which nodes carry an anchor or are reached by an alias."""

        def __init__(self, stream):
            super(_TrackingLoader, self).__init__(stream)
            self.anchored_nodes = set()
            self.aliased_nodes = set()

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                node = super(_TrackingLoader, self).compose_node(parent, index)
                self.aliased_nodes.add(id(node))
                return node
            event = self.peek_event()
            node = super(_TrackingLoader, self).compose_node(parent, index)
            if getattr(event, "anchor", None) is not None:
                self.anchored_nodes.add(id(node))
            return node


def _yaml_error_text(err):
    if isinstance(err, yaml.reader.ReaderError):
        return "invalid YAML: character #x%04x at position %d: %s" % (err.character, err.position, err.reason)
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    words = [getattr(err, "context", None), getattr(err, "problem", None)]
    problem = ", ".join(word for word in words if word) or str(err)
    if mark is not None:
        return "invalid YAML at line %d, column %d: %s" % (mark.line + 1, mark.column + 1, problem)
    return "invalid YAML: %s" % problem


def load_yaml(text):
    """``yaml.safe_load`` with errors turned into PortFileError."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PortFileError(_yaml_error_text(err))


def parse_port_value(value):
    """Return the integer port a loaded ``server.port`` value means, or None.

    Integers (not booleans) count as they are; a string of digits (a quoted port such as
    ``"5002"``) counts as its integer value.  The range is not checked.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return None


def _mapping_value(mapping_node, key, where):
    """Return the value node of ``key`` in a MappingNode, or None; fail on a duplicate key."""
    found = None
    for key_node, value_node in mapping_node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR_TAG and key_node.value == key:
            if found is not None:
                raise PortFileError("duplicate key %s%s" % (where, key))
            found = value_node
    return found


def _has_merge_key(mapping_node):
    return any(k.tag == "tag:yaml.org,2002:merge" for k, dummy in mapping_node.value)


def locate_server_port(text):
    """Find the ``server.port`` value in YAML ``text``.

    Returns a dict with ``start`` and ``end`` (character offsets of the value's text),
    ``style`` (None for plain, ``'`` or ``"`` for quoted) and ``port`` (the current integer
    port).  Raises PortFileError for anything that cannot be edited safely.
    """
    if not HAS_YAML:
        raise PortFileError("PyYAML is not installed")
    try:
        loader = _TrackingLoader(text)  # the reader already rejects unprintable characters
    except yaml.YAMLError as err:
        raise PortFileError(_yaml_error_text(err))
    try:
        return _locate(loader, text)
    finally:
        loader.dispose()


def _locate(loader, text):
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as err:
        raise PortFileError(_yaml_error_text(err))
    anchored, aliased = loader.anchored_nodes, loader.aliased_nodes
    if not isinstance(root, yaml.MappingNode):
        raise PortFileError("the document is not a mapping with a server section")
    server = _mapping_value(root, "server", "")
    if server is None:
        raise PortFileError("no server mapping")
    if not isinstance(server, yaml.MappingNode):
        raise PortFileError("server is not a mapping")
    if id(server) in aliased:
        raise PortFileError("the server mapping is shared through a YAML anchor/alias")
    node = _mapping_value(server, "port", "server.")
    if node is None:
        if _has_merge_key(server):
            raise PortFileError("server.port is not set directly (it comes from a merge key)")
        raise PortFileError("server.port is missing")
    if id(node) in aliased or id(node) in anchored:
        raise PortFileError("server.port uses a YAML anchor or alias")
    if not isinstance(node, yaml.ScalarNode):
        raise PortFileError("server.port is not a scalar")

    start, end = node.start_mark.index, node.end_mark.index
    raw = text[start:end]
    if node.style is None:
        if node.tag != _INT_TAG:
            raise PortFileError("server.port is not an integer: %r" % node.value)
        if raw != node.value:
            # An explicit tag (!!int 5002) or some other decoration around the number.
            raise PortFileError("server.port is written in an unsupported form: %r" % raw)
        port = parse_port_value(loader.construct_object(node, deep=True))
    elif node.style in ("'", '"'):
        if raw != node.style + node.value + node.style:
            raise PortFileError("server.port is written in an unsupported form: %r" % raw)
        port = parse_port_value(node.value)
    else:
        raise PortFileError("server.port is a block scalar, which is not supported")
    if port is None:
        raise PortFileError("server.port is not an integer: %r" % raw)
    return {"start": start, "end": end, "style": node.style, "port": port}


def replace_server_port(text, port):
    """Return ``(new_text, previous_port)`` with ``server.port`` set to ``port``.

    Only the characters of the port value change; a quoted port stays quoted with the same
    quote character.  The result is checked: it must load to the same data as ``text``
    except for ``server.port``.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not PORT_MIN <= port <= PORT_MAX:
        raise PortFileError("port must be an integer from %d to %d, got %r" % (PORT_MIN, PORT_MAX, port))
    where = locate_server_port(text)
    quote = where["style"] or ""
    new_text = text[:where["start"]] + quote + str(port) + quote + text[where["end"]:]

    # Belt and braces: the splice must not have changed anything but server.port.
    expected = load_yaml(text)
    expected["server"]["port"] = str(port) if quote else port
    if load_yaml(new_text) != expected or locate_server_port(new_text)["port"] != port:
        raise PortFileError("internal error: the edited YAML does not load as expected")
    return new_text, where["port"]


def render_json(data):
    """Render loaded YAML data the way the installers write the JSON copy (no trailing newline)."""
    try:
        return json.dumps(data, indent=2)
    except (TypeError, ValueError) as err:
        raise PortFileError("the YAML data cannot be rendered as JSON: %s" % err)


def _canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def json_in_step(json_text, data):
    """Whether the JSON copy ``json_text`` holds the same data as the loaded YAML ``data``.

    Compared after parsing, ignoring key order and formatting but not types (``1`` differs
    from ``true`` and from ``1.0``).  Invalid JSON is out of step.  ``data`` goes through the
    same rendering as the installer's ``json.dump``, so non-string keys compare as strings.
    """
    try:
        copy = json.loads(json_text)
    except ValueError:
        return False
    return _canonical(copy) == _canonical(json.loads(render_json(data)))
