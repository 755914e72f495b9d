# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the server.port splice and the JSON-copy helpers (module_utils/yaml_port.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hailo.services.plugins.module_utils import yaml_port
from ansible_collections.hailo.services.plugins.module_utils.yaml_port import (
    MAX_ALIASES,
    MAX_ALIAS_NODES,
    MAX_CONFIG_BYTES,
    PortFileError,
    json_in_step,
    load_yaml,
    locate_server_port,
    parse_port_value,
    read_config_bytes,
    render_json,
    replace_server_port,
)


@pytest.fixture(scope="module", autouse=True, params=["libyaml", "pure"])
def parser(request):
    """Run every test with libyaml's parser (when PyYAML has it) and with the pure-Python one."""
    saved = yaml_port._FastLoader
    if request.param == "pure":
        yaml_port._FastLoader = None
    elif saved is None:
        pytest.skip("PyYAML is built without libyaml")
    yield request.param
    yaml_port._FastLoader = saved


# (name, before, port, after): every "after" is written out in full, byte for byte.
CASES = [
    (
        "block with comments everywhere",
        "# hailo-piper configuration\n"
        "# port: 5002 in a comment is not the port\n"
        "server:  # the HTTP server\n"
        "  # bind address\n"
        "  host: 0.0.0.0\n"
        "  port: 5002   # piper (hailo-face keeps 5002)\n"
        "  # end of server\n"
        "model:\n"
        "  name: en_US-lessac  # voice\n",
        5003,
        "# hailo-piper configuration\n"
        "# port: 5002 in a comment is not the port\n"
        "server:  # the HTTP server\n"
        "  # bind address\n"
        "  host: 0.0.0.0\n"
        "  port: 5003   # piper (hailo-face keeps 5002)\n"
        "  # end of server\n"
        "model:\n"
        "  name: en_US-lessac  # voice\n",
    ),
    (
        "flow mapping",
        "server: {host: 0.0.0.0, port: 11436}\n",
        11439,
        "server: {host: 0.0.0.0, port: 11439}\n",
    ),
    (
        "flow mapping, no spaces, port last before brace",
        "server: {host: 0.0.0.0,port: 11436}\nother: 1\n",
        11440,
        "server: {host: 0.0.0.0,port: 11440}\nother: 1\n",
    ),
    (
        "multi-line flow mapping with comments",
        "server: {\n  host: 0.0.0.0,  # all\n  port: 11436,  # shared\n  debug: false\n}\n",
        11439,
        "server: {\n  host: 0.0.0.0,  # all\n  port: 11439,  # shared\n  debug: false\n}\n",
    ),
    (
        "double-quoted port stays double-quoted",
        'server:\n  host: "0.0.0.0"\n  port: "5002"\n',
        5003,
        'server:\n  host: "0.0.0.0"\n  port: "5003"\n',
    ),
    (
        "single-quoted port stays single-quoted",
        "server:\n  host: '0.0.0.0'\n  port: '5002' # quoted\n",
        5003,
        "server:\n  host: '0.0.0.0'\n  port: '5003' # quoted\n",
    ),
    (
        "document markers and directive",
        "%YAML 1.1\n---\n# leading comment\nserver:\n  port: 11436\n  host: 0.0.0.0\n...\n",
        11440,
        "%YAML 1.1\n---\n# leading comment\nserver:\n  port: 11440\n  host: 0.0.0.0\n...\n",
    ),
    (
        "ollama library.port before and after server is untouched",
        "library: {host: registry.ollama.ai, port: 443}\n"
        "server:\n  host: 0.0.0.0\n  port: 11434\n"
        "mirror:\n  port: 443\n",
        11500,
        "library: {host: registry.ollama.ai, port: 443}\n"
        "server:\n  host: 0.0.0.0\n  port: 11500\n"
        "mirror:\n  port: 443\n",
    ),
    (
        "nested server.tls.port is untouched",
        "server:\n  tls:\n    enabled: false\n    port: 11436\n  host: 0.0.0.0\n  port: 11436\n",
        11439,
        "server:\n  tls:\n    enabled: false\n    port: 11436\n  host: 0.0.0.0\n  port: 11439\n",
    ),
    (
        "extra keys under server",
        "server:\n  host: 0.0.0.0\n  port: 11436\n  log_level: info\n  debug: false\n  workers: 1\n",
        11440,
        "server:\n  host: 0.0.0.0\n  port: 11440\n  log_level: info\n  debug: false\n  workers: 1\n",
    ),
    (
        "CRLF line endings",
        "# c\r\nserver:\r\n  host: 0.0.0.0\r\n  port: 5002\r\n",
        5003,
        "# c\r\nserver:\r\n  host: 0.0.0.0\r\n  port: 5003\r\n",
    ),
    (
        "byte order mark and non-ASCII comments",
        "\ufeff# Konfiguration f\u00fcr Piper \u2014 \u00e9t\u00e9\nserver:\n  host: 0.0.0.0  # \u00fc\u00fc\u00fc\n  port: 5002\n",
        5003,
        "\ufeff# Konfiguration f\u00fcr Piper \u2014 \u00e9t\u00e9\nserver:\n  host: 0.0.0.0  # \u00fc\u00fc\u00fc\n  port: 5003\n",
    ),
    (
        "no trailing newline",
        "server:\n  port: 5002",
        5003,
        "server:\n  port: 5003",
    ),
    (
        "shorter and longer numbers",
        "server:\n  port: 80\n  host: x\n",
        11434,
        "server:\n  port: 11434\n  host: x\n",
    ),
    (
        "hex port is written back in decimal",
        "server:\n  port: 0x138A\n",
        5003,
        "server:\n  port: 5003\n",
    ),
    (
        "quoted key",
        'server:\n  "port": 5002\n',
        5003,
        'server:\n  "port": 5003\n',
    ),
    (
        "anchor on server that nothing refers to",
        "server: &srv\n  port: 5002\n",
        5003,
        "server: &srv\n  port: 5003\n",
    ),
    (
        "indentation of four and sequences around",
        "models:\n    - a\n    - b\nserver:\n    host: 0.0.0.0\n    port: 11437\nlimits: [1, 2]\n",
        11441,
        "models:\n    - a\n    - b\nserver:\n    host: 0.0.0.0\n    port: 11441\nlimits: [1, 2]\n",
    ),
]


@pytest.mark.parametrize("before, port, after", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_replace_is_byte_exact(before, port, after):
    new_text, previous = replace_server_port(before, port)
    assert new_text == after
    assert previous == locate_server_port(before)["port"]
    data = yaml.safe_load(new_text)
    assert parse_port_value(data["server"]["port"]) == port


def test_previous_port_values():
    assert replace_server_port("server: {port: 11436}", 1)[1] == 11436
    assert replace_server_port('server: {port: "5002"}', 1)[1] == 5002
    assert replace_server_port("server: {port: 0x138A}", 1)[1] == 5002
    # YAML 1.1 (what PyYAML and so the services use): a leading 0 means octal.
    assert replace_server_port("server: {port: 010}", 1)[1] == 8


def test_same_port_gives_same_text():
    text = "server:\n  port: 5002  # x\n"
    assert replace_server_port(text, 5002) == (text, 5002)


def test_quoted_port_stays_a_string_in_data():
    new_text, dummy = replace_server_port('server: {port: "5002"}\n', 5003)
    assert yaml.safe_load(new_text) == {"server": {"port": "5003"}}


@pytest.mark.parametrize("text, problem", [
    ("server: [unclosed\n", "invalid YAML at line 2"),
    ("server:\n  port: 5002\n bad: indent\n", "invalid YAML at line 3"),
    ("", "not a mapping"),
    ("# only a comment\n", "not a mapping"),
    ("- server\n", "not a mapping"),
    ("just a string\n", "not a mapping"),
    ("service:\n  port: 5002\n", "no server mapping"),
    ("library: {port: 443}\n", "no server mapping"),
    ("server: 5002\n", "server is not a mapping"),
    ("server:\n", "server is not a mapping"),
    ("server:\n  - port: 5002\n", "server is not a mapping"),
    ("server:\n  host: 0.0.0.0\n", "server.port is missing"),
    ("server:\n  tls: {port: 443}\n", "server.port is missing"),
    ("base: &b {port: 5002}\nserver:\n  <<: *b\n", "comes from a merge key"),
    ("server:\n  port: http\n", "not an integer"),
    ("server:\n  port: 50.2\n", "not an integer"),
    ("server:\n  port: true\n", "not an integer"),
    ("server:\n  port: ~\n", "not an integer"),
    ("server:\n  port:\n", "not an integer"),
    ("server:\n  port: '50a2'\n", "not an integer"),
    ('server:\n  port: "-1"\n', "not an integer"),
    ("server:\n  port: [5002]\n", "not a scalar"),
    ("server:\n  port: &p 5002\n", "anchor or alias"),
    ("p: &p 5002\nserver:\n  port: *p\n", "anchor or alias"),
    ("base: &b {host: x, port: 5002}\nserver: *b\n", "shared through a YAML anchor/alias"),
    ("server: &s {port: 5002}\nother: *s\n", "shared through a YAML anchor/alias"),
    ("server:\n  port: !!int 5002\n", "unsupported form"),
    ('server:\n  port: "50\\\n02"\n', "unsupported form"),
    ("server:\n  port: |\n    5002\n", "block scalar"),
    ("server:\n  port: 5002\n  port: 5003\n", "duplicate key server.port"),
    ("server: {port: 1}\nserver: {port: 2}\n", "duplicate key server"),
    ("server: {port: 1}\n---\nserver: {port: 2}\n", "invalid YAML"),
    ("server: {port: 1}\x00\n", "invalid YAML"),
])
def test_refuses_what_it_cannot_edit(text, problem):
    with pytest.raises(PortFileError) as err:
        replace_server_port(text, 5003)
    assert problem in str(err.value)


@pytest.mark.parametrize("port", [0, -1, 65536, True, "5003", None])
def test_rejects_bad_new_port(port):
    with pytest.raises(PortFileError, match="port must be an integer"):
        replace_server_port("server: {port: 5002}\n", port)


def test_boundary_ports_accepted():
    assert replace_server_port("server: {port: 5002}\n", 1)[0] == "server: {port: 1}\n"
    assert replace_server_port("server: {port: 5002}\n", 65535)[0] == "server: {port: 65535}\n"


@pytest.mark.parametrize("value, expected", [
    (5002, 5002), ("5002", 5002), ("05002", 5002), (0, 0), (True, None), (False, None),
    (50.0, None), ("50.0", None), ("", None), (" 5002", None), ("-5", None), (None, None),
    ([5002], None),
])
def test_parse_port_value(value, expected):
    assert parse_port_value(value) == expected


def test_render_json_matches_the_installers():
    data = yaml.safe_load("server:\n  host: 0.0.0.0\n  port: 5003\nname: \u00e9\n")
    assert render_json(data) == json.dumps(data, indent=2)
    assert render_json(data) == (
        '{\n  "server": {\n    "host": "0.0.0.0",\n    "port": 5003\n  },\n  "name": "\\u00e9"\n}')


def test_render_json_refuses_non_json_data():
    data = yaml.safe_load("server: {port: 1}\nwhen: 2024-01-01\n")
    with pytest.raises(PortFileError, match="cannot be rendered as JSON"):
        render_json(data)


DATA = {"server": {"host": "0.0.0.0", "port": 5003, "debug": False}, "name": "x"}


@pytest.mark.parametrize("text, expected", [
    (json.dumps(DATA, indent=2), True),
    (json.dumps(DATA), True),
    (json.dumps(DATA, indent=4, sort_keys=True) + "\n", True),
    ('{"name": "x", "server": {"debug": false, "port": 5003, "host": "0.0.0.0"}}', True),
    (json.dumps(dict(DATA, server=dict(DATA["server"], port=5002))), False),
    (json.dumps(dict(DATA, server=dict(DATA["server"], port="5003"))), False),
    (json.dumps(dict(DATA, server=dict(DATA["server"], port=5003.0))), False),
    (json.dumps(dict(DATA, server=dict(DATA["server"], debug=0))), False),
    (json.dumps(dict(DATA, extra=1)), False),
    (json.dumps({"server": DATA["server"]}), False),
    ("", False),
    ("{not json", False),
    ("null", False),
])
def test_json_in_step(text, expected):
    assert json_in_step(text, DATA) is expected


def test_json_in_step_with_non_string_keys():
    # json.dump turns the int key into "1"; the installer's copy must count as in step.
    data = yaml.safe_load("server: {port: 1}\n1: one\n")
    assert json_in_step(json.dumps(data, indent=2), data) is True


# Property: whatever the comments and the old and new ports are, only the port text changes.
COMMENT = st.text(st.characters(whitelist_categories=("L", "M", "N", "P", "S", "Zs")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    old=st.integers(min_value=1, max_value=65535),
    new=st.integers(min_value=1, max_value=65535),
    quote=st.sampled_from(["", "'", '"']),
    flow=st.booleans(),
    comments=st.lists(COMMENT, min_size=4, max_size=4),
)
def test_splice_property(old, new, quote, flow, comments):
    head = (
        "# %s\n---\nlibrary: {host: example.invalid, port: 443}  # %s\n" % (comments[0], comments[1])
    )
    if flow:
        head += "server: {host: 0.0.0.0, port: "
        tail = ", log_level: info}  # %s\n# %s\n" % (comments[2], comments[3])
    else:
        head += "server:  # %s\n  host: \"0.0.0.0\"\n  tls: {port: 8443}\n  port: " % comments[2]
        tail = "  # %s\n  debug: false\n" % comments[3]
    before = head + quote + str(old) + quote + tail
    after, previous = replace_server_port(before, new)
    assert previous == old
    assert after == head + quote + str(new) + quote + tail
    data = yaml.safe_load(after)
    assert data["server"]["port"] == (quote and str(new) or new)
    assert data["library"]["port"] == 443


# Bounds: alias bombs and oversized files.
def billion_laughs(levels=9, width=9):
    lines = ['a: &a [%s]' % ",".join(['"x"'] * width)]
    for level in range(1, levels):
        name, prev = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append("%s: &%s [%s]" % (name, name, ",".join(["*" + prev] * width)))
    return "\n".join(lines) + "\nserver: {port: 5002}\n"


def test_billion_laughs_is_refused_fast():
    bomb = billion_laughs()
    assert len(bomb) < 400
    for call in (load_yaml, locate_server_port, lambda text: replace_server_port(text, 5003)):
        start = time.monotonic()
        with pytest.raises(PortFileError) as err:
            call(bomb)
        assert time.monotonic() - start < 0.5
        assert str(err.value) == ("refused: YAML aliases expand too far (28 aliases stand for more than %d nodes)"
                                  % MAX_ALIAS_NODES)


def test_alias_count_limit():
    many = "base: &b x\nitems: [%s]\nserver: {port: 5002}\n"
    assert len(load_yaml(many % ", ".join(["*b"] * MAX_ALIASES))["items"]) == MAX_ALIASES
    with pytest.raises(PortFileError, match=r"\Arefused: YAML aliases expand too far \(more than 100 aliases\)\Z"):
        load_yaml(many % ", ".join(["*b"] * (MAX_ALIASES + 1)))


def test_alias_expansion_limit_counts_nodes():
    # One alias to a big anchored list: the list's nodes count once per alias.
    count = MAX_ALIAS_NODES * 2 // 5  # 4000 items, 4001 nodes
    big = "big: &big [%s]\n" % ", ".join(str(i) for i in range(count))
    assert load_yaml(big + "one: *big\ntwo: *big\nserver: {port: 5002}\n")["two"][-1] == count - 1
    with pytest.raises(PortFileError, match=r"\(3 aliases stand for more than 10000 nodes\)"):
        load_yaml(big + "one: *big\ntwo: *big\nthree: *big\n")


def test_recursive_alias_is_refused():
    with pytest.raises(PortFileError, match=r"\Arefused: YAML aliases expand too far \(alias \*loop is recursive\)\Z"):
        load_yaml("loop: &loop [1, *loop]\n")
    with pytest.raises(PortFileError, match="alias \\*m is recursive"):
        replace_server_port("server: &m {port: 5002, self: *m}\n", 5003)


def test_ordinary_anchors_and_merge_keys_still_load():
    text = ("defaults: &d {host: 0.0.0.0, workers: 2, log: {level: info}}\n"
            "server:\n  <<: *d\n  port: 5002\n"
            "other:\n  <<: *d\n  port: 5003\n")
    data = load_yaml(text)
    assert data["server"] == {"host": "0.0.0.0", "workers": 2, "log": {"level": "info"}, "port": 5002}
    assert replace_server_port(text, 5004)[0] == text.replace("port: 5002", "port: 5004")


def big_config(target):
    """A realistic service YAML of just under ``target`` bytes."""
    parts = ["# hailo-ocr configuration, f\u00fcr alle\n", "server:\n  host: 0.0.0.0\n  port: 11436  # ocr\n",
             "models:\n"]
    size = sum(len(part.encode("utf-8")) for part in parts)
    index = 0
    while True:
        block = ('  model_%d:\n    name: "en-%d"  # comment %d\n    path: /opt/models/m%d.hef\n'
                 "    threshold: 0.%d\n    labels: [a, b, c, d]\n    enabled: true\n" % ((index,) * 5))
        if size + len(block) > target:
            return "".join(parts)
        parts.append(block)
        size += len(block)
        index += 1


def test_config_just_under_the_limit_is_fast(parser):
    text = big_config(MAX_CONFIG_BYTES - 100)
    assert MAX_CONFIG_BYTES - 300 < len(text.encode("utf-8")) <= MAX_CONFIG_BYTES
    start = time.monotonic()
    new_text, previous = replace_server_port(text, 11439)
    elapsed = time.monotonic() - start
    assert previous == 11436
    assert new_text == text.replace("port: 11436", "port: 11439", 1)
    if parser == "libyaml":
        assert elapsed < 2, "replace_server_port took %.2f s on %d bytes" % (elapsed, len(text))


def test_read_config_bytes(tmp_path):
    path = tmp_path / "hailo-ocr.yaml"
    path.write_bytes(b"x" * MAX_CONFIG_BYTES)
    assert len(read_config_bytes(str(path))) == MAX_CONFIG_BYTES
    path.write_bytes(b"x" * 1468006)
    with pytest.raises(PortFileError) as err:
        read_config_bytes(str(path))
    assert str(err.value) == "refused: the file is 1468006 bytes, more than the 262144-byte limit"
    path.write_bytes(b"x" * 11)
    with pytest.raises(PortFileError, match="the file is 11 bytes, more than the 10-byte limit"):
        read_config_bytes(str(path), limit=10)
    with pytest.raises(OSError):
        read_config_bytes(str(tmp_path / "missing.yaml"))


def test_fast_and_pure_parsers_agree_on_offsets():
    texts = [case[1] for case in CASES] + [big_config(20000)]
    saved = yaml_port._FastLoader
    try:
        fast = [locate_server_port(text) for text in texts]
        yaml_port._FastLoader = None
        pure = [locate_server_port(text) for text in texts]
    finally:
        yaml_port._FastLoader = saved
    assert fast == pure


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000 + "\n",
    "server: {port: 5002}\ndeep:\n" + "".join("  " * i + "k:\n" for i in range(1, 3000)),
], ids=["flow", "block"])
def test_deep_nesting_is_refused(text):
    for call in (load_yaml, lambda t: replace_server_port(t, 5003)):
        with pytest.raises(PortFileError, match=r"\Arefused: YAML nests too deeply\Z"):
            call(text)
    assert load_yaml("[" * 100 + "]" * 100) is not None


def test_errors_read_the_same_with_both_parsers():
    # Errors always come from the pure-Python loader, the one the services use.
    for text in ("server: [unclosed\n", "server: {port: 1}\x00\n", "a: 1\n  b: 2\n", "\ufeffserver: [\n"):
        with pytest.raises(PortFileError) as err:
            load_yaml(text)
        saved = yaml_port._FastLoader
        yaml_port._FastLoader = None
        try:
            with pytest.raises(PortFileError) as pure:
                load_yaml(text)
        finally:
            yaml_port._FastLoader = saved
        assert str(err.value) == str(pure.value)
