# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the /proc and systemctl parsing (module_utils/listeners.py), on fabricated trees."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import sys

import pytest

from ansible_collections.hailo.services.plugins.module_utils.listeners import (
    decode_address,
    parse_cgroup,
    parse_proc_net_tcp,
    parse_systemctl_show,
    process_info,
    read_listeners,
    socket_owners,
    summarize_listeners,
    systemctl_show_args,
    unit_states,
)

TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
              "timeout inode\n")
TCP6_HEADER = ("  sl  local_address                         remote_address                        st "
               "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")


def tcp_line(n, local, remote, state, inode):
    return ("  %d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 "
            "0000000000000000 100 0 0 10 0\n" % (n, local, remote, state, inode))


# Little-endian (x86, Raspberry Pi) renderings, as the kernel prints them.
TCP = TCP_HEADER + "".join([
    tcp_line(0, "0100007F:13DB", "00000000:0000", "0A", 1001),   # 127.0.0.1:5083 LISTEN
    tcp_line(1, "00000000:2CAC", "00000000:0000", "0A", 1002),   # 0.0.0.0:11436 LISTEN
    tcp_line(2, "0100007F:13DB", "0100007F:9C40", "01", 1003),   # established: skipped
    tcp_line(3, "0101A8C0:1EB4", "00000000:0000", "0a", 1004),   # 192.168.1.1:7860, lower-case state
    tcp_line(4, "0100007F:13DC", "00000000:0000", "06", 1005),   # TIME_WAIT: skipped
])
TCP6 = TCP6_HEADER + "".join([
    tcp_line(0, "00000000000000000000000000000000:2CAA", "00000000000000000000000000000000:0000", "0A", 2001),
    tcp_line(1, "00000000000000000000000001000000:13DB", "00000000000000000000000000000000:0000", "0A", 2002),
    tcp_line(2, "0000000000000000FFFF00000100007F:1389", "00000000000000000000000000000000:0000", "0A", 2003),
    tcp_line(3, "000080FE00000000000000003412ADDE:0050", "00000000000000000000000000000000:0000", "0A", 2004),
    tcp_line(4, "00000000000000000000000001000000:13DB", "00000000000000000000000001000000:A000", "01", 2005),
])


def test_decode_ipv4_both_byte_orders():
    assert decode_address("0100007F", "little") == "127.0.0.1"
    assert decode_address("7F000001", "big") == "127.0.0.1"
    assert decode_address("0101A8C0", "little") == "192.168.1.1"
    assert decode_address("00000000", "little") == "0.0.0.0"


def test_decode_ipv6_word_order():
    assert decode_address("00000000000000000000000001000000", "little") == "::1"
    assert decode_address("00000000000000000000000000000001", "big") == "::1"
    assert decode_address("000080FE00000000000000003412ADDE", "little") == "fe80::dead:1234"
    assert decode_address("0000000000000000FFFF00000100007F", "little") == "::ffff:127.0.0.1"


def test_decode_uses_host_byte_order_by_default():
    packed = socket.inet_aton("10.1.2.3")
    assert decode_address("%08X" % int.from_bytes(packed, sys.byteorder)) == "10.1.2.3"


def test_decode_rejects_odd_lengths():
    with pytest.raises(ValueError):
        decode_address("0100007", "little")


def test_parse_proc_net_tcp_keeps_only_listeners():
    assert parse_proc_net_tcp(TCP, "tcp", "little") == [
        {"address": "127.0.0.1", "port": 5083, "family": "tcp", "inode": 1001},
        {"address": "0.0.0.0", "port": 11436, "family": "tcp", "inode": 1002},
        {"address": "192.168.1.1", "port": 7860, "family": "tcp", "inode": 1004},
    ]


def test_parse_proc_net_tcp6():
    assert parse_proc_net_tcp(TCP6, "tcp6", "little") == [
        {"address": "::", "port": 11434, "family": "tcp6", "inode": 2001},
        {"address": "::1", "port": 5083, "family": "tcp6", "inode": 2002},
        {"address": "::ffff:127.0.0.1", "port": 5001, "family": "tcp6", "inode": 2003},
        {"address": "fe80::dead:1234", "port": 80, "family": "tcp6", "inode": 2004},
    ]


def test_parse_proc_net_tcp_skips_garbage():
    text = TCP_HEADER + "garbage\n  0: XYZ:0050 00000000:0000 0A 0 0 0 0 0 0 77\n" + tcp_line(
        1, "00000000:0050", "00000000:0000", "0A", 5)
    assert parse_proc_net_tcp(text, "tcp", "little") == [
        {"address": "0.0.0.0", "port": 80, "family": "tcp", "inode": 5}]
    assert parse_proc_net_tcp("", "tcp") == []


@pytest.mark.parametrize("text, unit", [
    ("0::/system.slice/hailo-ollama.service\n", "hailo-ollama.service"),
    ("12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/hailo-ocr.service\n", "hailo-ocr.service"),
    ("1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n", "b.service"),
    ("0::/system.slice/hailo-pose.service/payload\n", "hailo-pose.service"),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n", "foo.service"),
    ("0::/system.slice/getty@tty1.service\n", "getty@tty1.service"),
    ("0::/init.scope\n", None),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ("0::/\n", None),
    ("4:memory:/system.slice/x.service\n0::/\n", None),
    ("", None),
    ("not a cgroup file\n", None),
])
def test_parse_cgroup(text, unit):
    assert parse_cgroup(text) == unit


def _process(proc, pid, comm=None, cgroup=None, fds=None):
    base = proc / str(pid)
    (base / "fd").mkdir(parents=True)
    if comm is not None:
        (base / "comm").write_text(comm + "\n")
    if cgroup is not None:
        (base / "cgroup").write_text(cgroup)
    for fd, target in (fds or {}).items():
        os.symlink(target, str(base / "fd" / str(fd)))


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    (root / "net").mkdir(parents=True)
    (root / "net" / "tcp").write_text(TCP)
    (root / "net" / "tcp6").write_text(TCP6)
    _process(root, 501, "hailo-ollama", "0::/system.slice/hailo-ollama.service\n",
             {0: "/dev/null", 3: "socket:[2001]", 4: "pipe:[99]", 5: "socket:[1003]"})
    _process(root, 620, "device-manager", "0::/user.slice/user-1000.slice/session-2.scope\n",
             {7: "socket:[1001]", 8: "socket:[2002]"})
    # Socket activation: PID 1 and the service hold the same socket.
    _process(root, 1, "systemd", "0::/init.scope\n", {40: "socket:[1002]"})
    _process(root, 733, "python3", "0::/system.slice/hailo-ocr.service\n", {3: "socket:[1002]"})
    # Forked workers without a unit: the lowest pid wins.
    _process(root, 900, "portal", "0::/\n", {3: "socket:[1004]"})
    _process(root, 899, "portal", "0::/\n", {3: "socket:[1004]"})
    # A process that vanished between listdir and readlink leaves an empty fd dir and no comm.
    _process(root, 950)
    (root / "self").mkdir()
    return root


def test_socket_owners(proc):
    assert socket_owners(str(proc)) == {
        2001: [501], 1003: [501], 1001: [620], 2002: [620], 1002: [1, 733], 1004: [899, 900]}
    assert socket_owners(str(proc), inodes={1002, 4242}) == {1002: [1, 733]}
    assert socket_owners(str(proc / "missing")) == {}


def test_process_info(proc):
    assert process_info(501, str(proc)) == ("hailo-ollama", "hailo-ollama.service")
    assert process_info(620, str(proc)) == ("device-manager", None)
    assert process_info(950, str(proc)) == (None, None)
    assert process_info(12345, str(proc)) == (None, None)


def test_read_listeners(proc):
    assert read_listeners(str(proc), "little") == [
        {"port": 80, "address": "fe80::dead:1234", "family": "tcp6", "pid": None, "pids": [],
         "program": None, "unit": None},
        {"port": 5001, "address": "::ffff:127.0.0.1", "family": "tcp6", "pid": None, "pids": [],
         "program": None, "unit": None},
        {"port": 5083, "address": "127.0.0.1", "family": "tcp", "pid": 620, "pids": [620],
         "program": "device-manager", "unit": None},
        {"port": 5083, "address": "::1", "family": "tcp6", "pid": 620, "pids": [620],
         "program": "device-manager", "unit": None},
        {"port": 7860, "address": "192.168.1.1", "family": "tcp", "pid": 899, "pids": [899, 900],
         "program": "portal", "unit": None},
        {"port": 11434, "address": "::", "family": "tcp6", "pid": 501, "pids": [501],
         "program": "hailo-ollama", "unit": "hailo-ollama.service"},
        {"port": 11436, "address": "0.0.0.0", "family": "tcp", "pid": 733, "pids": [1, 733],
         "program": "python3", "unit": "hailo-ocr.service"},
    ]


def test_read_listeners_without_tcp6(proc):
    os.unlink(str(proc / "net" / "tcp6"))
    assert [item["port"] for item in read_listeners(str(proc), "little")] == [5083, 7860, 11436]


def test_read_listeners_of_this_process():
    """The real /proc: a socket this test opens shows up with this pid."""
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("needs Linux /proc")
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        found = [item for item in read_listeners() if item["port"] == port]
    finally:
        sock.close()
    assert len(found) == 1
    assert found[0]["address"] == "127.0.0.1"
    assert found[0]["family"] == "tcp"
    assert found[0]["pid"] == os.getpid()
    with open("/proc/self/comm") as handle:
        assert found[0]["program"] == handle.read().strip()


def test_summarize_listeners(proc):
    listeners = read_listeners(str(proc), "little")
    in_use, owners = summarize_listeners(listeners, ["hailo-ollama.service", "hailo-ocr.service"])
    assert in_use == [80, 5001, 5083, 7860]
    assert owners == {
        "80": "unknown", "5001": "unknown", "5083": "device-manager", "7860": "portal",
        "11434": "hailo-ollama.service", "11436": "hailo-ocr.service"}
    in_use, dummy = summarize_listeners(listeners, [])
    assert in_use == [80, 5001, 5083, 7860, 11434, 11436]


def test_summarize_joins_different_owners():
    listeners = [
        {"port": 5000, "unit": "hailo-clip.service", "program": "python3"},
        {"port": 5000, "unit": None, "program": "piper"},
        {"port": 5000, "unit": "hailo-clip.service", "program": "python3"},
    ]
    in_use, owners = summarize_listeners(listeners, ["hailo-clip.service"])
    assert in_use == [5000]  # piper holds it too
    assert owners == {"5000": "hailo-clip.service, piper"}


def test_systemctl_show_args():
    assert systemctl_show_args(["a.service", "b.service"]) == [
        "show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,NRestarts,MainPID",
        "--", "a.service", "b.service"]


SHOW = """Id=hailo-ocr.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
NRestarts=0
MainPID=733

MainPID=0
Id=hailo-pose.service
LoadState=loaded
ActiveState=failed
SubState=failed
UnitFileState=enabled
NRestarts=5

Id=hailo-gone.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
NRestarts=0
MainPID=0

"""


def test_parse_systemctl_show():
    blocks = parse_systemctl_show(SHOW)
    assert len(blocks) == 3
    assert blocks[0]["Id"] == "hailo-ocr.service"
    assert blocks[1]["MainPID"] == "0"
    assert blocks[2]["UnitFileState"] == ""
    assert parse_systemctl_show("") == []


def test_unit_states():
    states = unit_states(SHOW, ["hailo-ocr.service", "hailo-pose.service", "hailo-gone.service"])
    assert states["hailo-ocr.service"] == {
        "known": True, "exists": True, "load_state": "loaded", "active": "active",
        "sub_state": "running", "enabled": "enabled", "n_restarts": 0, "main_pid": 733}
    assert states["hailo-pose.service"] == {
        "known": True, "exists": True, "load_state": "loaded", "active": "failed",
        "sub_state": "failed", "enabled": "enabled", "n_restarts": 5, "main_pid": None}
    assert states["hailo-gone.service"] == {
        "known": True, "exists": False, "load_state": "not-found", "active": "inactive",
        "sub_state": "dead", "enabled": None, "n_restarts": 0, "main_pid": None}


def test_unit_states_matches_aliases_by_position_and_reports_missing_blocks():
    text = "Id=real.service\nLoadState=loaded\nActiveState=active\n"
    assert unit_states(text, ["alias.service"])["alias.service"]["active"] == "active"
    states = unit_states(text, ["a.service", "real.service"])
    assert states["real.service"]["active"] == "active"
    assert states["a.service"]["known"] is False
    assert states["a.service"]["active"] is None
