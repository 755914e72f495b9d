# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Change ``server.port`` in a hand-written Hailo service YAML without touching any other byte.

The text is composed with PyYAML's SafeLoader, which records the character offset of every
node.  The new port is spliced in at the exact offsets of the ``server`` mapping's ``port``
value, so comments, quoting, key order, flow style and line endings stay as they were.
Nothing here uses regular expressions on the YAML text.

Every load is bounded.  The composer counts alias hits and the nodes they stand for, and
refuses a document past ``MAX_ALIASES`` aliases or ``MAX_ALIAS_NODES`` aliased nodes (an
alias bomb such as "billion laughs") before anything is constructed; a recursive alias is
refused too.  ``read_config_bytes`` refuses files over ``MAX_CONFIG_BYTES``.

Where libyaml is available (python3-yaml ships it), its scanner and parser produce the
events and PyYAML's Python composer builds the nodes, with the same hooks: pure-Python
scanning is ten to twenty times slower.  Any YAML error, and a text that starts with a byte
order mark (libyaml's offsets skip it), is handled by the pure-Python SafeLoader, which is
what the services themselves load with, so error messages and offsets are the same on every
host.

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

from ansible_collections.hailo.services.plugins.module_utils import rules, safe_files

try:
    import yaml
except ImportError:  # pragma: no cover - exercised only on hosts without python3-yaml
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

PORT_MIN = rules.MIN_PORT
PORT_MAX = rules.MAX_PORT

# Largest service YAML read; real ones are a few KiB.
MAX_CONFIG_BYTES = 256 * 1024
# Most alias events a document may hold.
MAX_ALIASES = 100
# Most nodes all aliases of a document may stand for together (each alias counts the nodes
# of what it refers to, expanded).
MAX_ALIAS_NODES = 10000

_DIGITS = re.compile(r"\A[0-9]+\Z")
_TOO_DEEP = "refused: YAML nests too deeply"
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"


class PortFileError(Exception):
    """The YAML cannot be edited safely; the message says why (without the file name)."""


class _AliasesTooFar(PortFileError):
    """Raised while composing, before anything is constructed."""

    def __init__(self, why):
        super(_AliasesTooFar, self).__init__("refused: YAML aliases expand too far (%s)" % why)


_FastLoader = None

if HAS_YAML:

    class _BoundedComposer(object):
        """Composer hooks: bound the aliases, and remember which nodes carry an anchor or are
        reached by an alias (``locate_server_port`` refuses to edit those)."""

        def _init_bounds(self):
            self.anchored_nodes = set()
            self.aliased_nodes = set()
            self.alias_count = 0
            self.alias_nodes = 0
            self._node_sizes = {}  # id(node) -> nodes it stands for, expanded

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                self.alias_count += 1
                if self.alias_count > MAX_ALIASES:
                    raise _AliasesTooFar("more than %d aliases" % MAX_ALIASES)
                node = super(_BoundedComposer, self).compose_node(parent, index)
                size = self._node_sizes.get(id(node))
                if size is None:
                    # The anchored collection is still being composed: the alias is inside it.
                    raise _AliasesTooFar("alias *%s is recursive" % event.anchor)
                self.alias_nodes += size
                if self.alias_nodes > MAX_ALIAS_NODES:
                    raise _AliasesTooFar("%d aliases stand for more than %d nodes"
                                         % (self.alias_count, MAX_ALIAS_NODES))
                self.aliased_nodes.add(id(node))
                return node
            event = self.peek_event()
            node = super(_BoundedComposer, self).compose_node(parent, index)
            if getattr(event, "anchor", None) is not None:
                self.anchored_nodes.add(id(node))
            sizes = self._node_sizes
            if isinstance(node, yaml.MappingNode):
                size = 1 + sum(sizes.get(id(key), 1) + sizes.get(id(value), 1) for key, value in node.value)
            elif isinstance(node, yaml.SequenceNode):
                size = 1 + sum(sizes.get(id(item), 1) for item in node.value)
            else:
                size = 1
            sizes[id(node)] = size
            return node

    class _PureLoader(_BoundedComposer, yaml.SafeLoader):
        """The pure-Python SafeLoader with the bounds."""

        def __init__(self, stream):
            yaml.SafeLoader.__init__(self, stream)
            self._init_bounds()

    try:
        from yaml.cyaml import CParser as _CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        _CParser = None

    if _CParser is not None:

        class _FastLoader(_BoundedComposer, yaml.composer.Composer, _CParser,
                          yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
            """libyaml events, PyYAML's Python composer (with the bounds) and SafeConstructor."""

            def __init__(self, stream):
                _CParser.__init__(self, stream)
                yaml.composer.Composer.__init__(self)
                yaml.constructor.SafeConstructor.__init__(self)
                yaml.resolver.Resolver.__init__(self)
                self._init_bounds()

            def compose_scalar_node(self, anchor):
                node = super(_FastLoader, self).compose_scalar_node(anchor)
                if not node.style:
                    node.style = None  # libyaml says '' for plain scalars, PyYAML None
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


def _compose(text):
    """Compose the single document of ``text`` within the bounds.

    Returns ``(loader, root)``, root None for an empty document; the caller disposes the
    loader.  Raises PortFileError.
    """
    if not HAS_YAML:
        raise PortFileError("PyYAML is not installed")
    if _FastLoader is not None and not text.startswith("\ufeff"):
        loader = None
        try:
            loader = _FastLoader(text)
            return loader, loader.get_single_node()
        except (yaml.YAMLError, ValueError):
            pass  # the pure-Python loader decides, and words the error
        except RecursionError:
            loader.dispose()
            raise PortFileError(_TOO_DEEP)
        except BaseException:
            if loader is not None:
                loader.dispose()
            raise
        if loader is not None:
            loader.dispose()
    try:
        loader = _PureLoader(text)  # the reader already rejects unprintable characters
    except yaml.YAMLError as err:
        raise PortFileError(_yaml_error_text(err))
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError as err:
        loader.dispose()
        raise PortFileError(_yaml_error_text(err))
    except RecursionError:
        loader.dispose()
        raise PortFileError(_TOO_DEEP)
    except BaseException:
        loader.dispose()
        raise


def _construct(loader, root):
    if root is None:
        return None
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as err:
        raise PortFileError(_yaml_error_text(err))
    except RecursionError:
        raise PortFileError(_TOO_DEEP)


def load_yaml(text):
    """``yaml.safe_load`` within the alias bounds, with errors turned into PortFileError."""
    loader, root = _compose(text)
    try:
        return _construct(loader, root)
    finally:
        loader.dispose()


def config_problem(path, err):
    """The one wording of a config that cannot be edited (a PortFileError), shared by discovery
    and the transaction: ``<path>: <why>``, for example ``duplicate key server.port``."""
    return "%s: %s" % (path, err)


def load_config(text):
    """:func:`load_yaml` of a service config, refusing a second ``server`` or ``server.port`` key.

    A plain load takes the last of two keys, and the edit refuses the file: discovery loads
    with this so that it names the problem in the edit's words.
    """
    loader, root = _compose(text)
    try:
        if isinstance(root, yaml.MappingNode):
            server = _mapping_value(root, "server", "")
            if isinstance(server, yaml.MappingNode):
                _mapping_value(server, "port", "server.")
        return _construct(loader, root)
    finally:
        loader.dispose()


def read_config_bytes(path, limit=MAX_CONFIG_BYTES, allow_root_symlinks=False):
    """The bytes of the regular file ``path``; reads at most ``limit`` + 1 bytes, never blocks
    and follows no symlink unless allowed (``safe_files.read_regular``).

    Raises PortFileError, naming the size, when the file is larger than ``limit``;
    ``safe_files.UnsafePath`` (an OSError) for a symlink, FIFO, directory or device; other
    IOError and OSError pass through.
    """
    try:
        return safe_files.read_regular(path, limit, allow_root_symlinks)[0]
    except safe_files.FileTooLarge as err:
        raise PortFileError(err.why)


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
    loader, root = _compose(text)
    try:
        return _locate(loader, root, text)
    finally:
        loader.dispose()


def _locate(loader, root, text):
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
    if not rules.is_port(port):
        raise PortFileError("port must be an integer from %d to %d, got %r" % (PORT_MIN, PORT_MAX, port))
    where, expected = _locate_and_load(text)
    quote = where["style"] or ""
    new_text = text[:where["start"]] + quote + str(port) + quote + text[where["end"]:]

    # Belt and braces: the splice must not have changed anything but server.port.
    expected["server"]["port"] = str(port) if quote else port
    new_where, new_data = _locate_and_load(new_text)
    if new_data != expected or new_where["port"] != port:
        raise PortFileError("internal error: the edited YAML does not load as expected")
    return new_text, where["port"]


def _locate_and_load(text):
    """``(locate_server_port(text), load_yaml(text))`` from one composition."""
    loader, root = _compose(text)
    try:
        return _locate(loader, root, text), _construct(loader, root)
    finally:
        loader.dispose()


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
