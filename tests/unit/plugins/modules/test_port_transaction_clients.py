# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clients of the services (the web portal's folder) inside port_transaction's change:
literals follow the moves, the folder's owner and modes are kept, the client restarts after
the services and is checked, a rollback restores every byte, backups stay outside the folder."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

# Same directory: the module runner, the stand-ins, the health stub; the fixture `server` is used by name.
from test_port_transaction import (  # noqa: F401 pylint: disable=import-error,unused-import
    COLLECTIONS_DIR, MODULE, RUNNER, calls, free_port, make_device, move_depth, serve_health, server)

# Like test_port_transaction's, and says the client unit runs (it is restarted only then).
FAKE_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$FAKE_LOG"
case " $* " in *" is-active "*) echo active; exit 0;; esac
exit 0
"""

PORTAL_CLIENT = (b'"""Clients of the local Hailo services."""\n'
                 b'class DepthClient:\n'
                 b'    def __init__(self, base_url="http://127.0.0.1:11439", token=None):\n'
                 b'        self.base_url = base_url\n'
                 b'class PoseClient:\n'
                 b'    def __init__(self, base_url="http://127.0.0.1:11440"):\n'
                 b'        self.base_url = base_url\n'
                 b'class OcrClient:\n'
                 b'    def __init__(self, base_url="http://127.0.0.1:11436"):\n'
                 b'        self.base_url = base_url\n')
TROUBLESHOOTING = (b"# Troubleshooting\n\n"
                   b"    curl http://localhost:11439/health\n"
                   b"    curl http://localhost:11440/health\n"
                   b"    ss -lntp | grep :11439\n"
                   b"    curl http://192.168.1.20:11439/health\n")
HAILO_UID = 1000


@pytest.fixture
def device(tmp_path):
    make_device(tmp_path, systemctl=FAKE_SYSTEMCTL, depth=b"server:\n  host: 0.0.0.0\n  port: 11439\n",
                depth_json=b'{\n  "server": {\n    "host": "0.0.0.0",\n    "port": 11439\n  }\n}')
    portal = tmp_path / "opt" / "hailo-web-portal"
    (portal / "venv" / "lib").mkdir(parents=True)
    (portal / "portal_client.py").write_bytes(PORTAL_CLIENT)
    (portal / "TROUBLESHOOTING.md").write_bytes(TROUBLESHOOTING)
    (portal / "venv" / "lib" / "site.py").write_bytes(b'URL = "http://127.0.0.1:11439"\n')
    (portal / "portal_client.py").chmod(0o640)
    for path in [portal] + list(portal.rglob("*")):
        os.lchown(str(path), HAILO_UID, HAILO_UID)
    return tmp_path


@pytest.fixture
def portal_server():
    """The portal's GET /api/status, on a port of its own."""
    yield from serve_health()


def portal(device):
    return device / "opt" / "hailo-web-portal"


def run(device, args, check_mode=False, diff=False, units=None):
    payload = dict(args, journal_dir=str(device / "journal"), unit_dir=str(device / "units"),
                   _ansible_check_mode=check_mode, _ansible_diff=diff)
    args_file = device / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR, PATH="%s:%s" % (device / "bin", os.environ["PATH"]),
               FAKE_LOG=str(device / "calls.log"), FAKE_FAIL_RESTART="",
               HAILO_TEST_PORT_UNITS=json.dumps(units or {}))
    proc = subprocess.run([sys.executable, RUNNER, MODULE, str(args_file)], capture_output=True, env=env,
                          timeout=120, check=False)
    return json.loads(proc.stdout.decode())


def chain_move(device, depth_health, portal_port, **extra):
    """depth 11439 -> 11440 on the device, pose 11440 -> 11441: depth takes pose's old port."""
    args = move_depth(device, 11440, depth_health, previous_ports={"hailo-depth": 11439}, **extra)
    args.update(clients=[{"path": str(portal(device)), "unit": "hailo-web-portal", "check": "/api/status",
                          "port": portal_port, "required": False}],
                client_ports={"11439": 11440, "11440": 11441})
    return args


def test_the_portal_follows_a_chain_move_once_keeps_its_owner_and_restarts_after_the_services(
        device, server, portal_server):
    units = {str(server): "hailo-depth.service", str(portal_server): "hailo-web-portal.service"}
    result = run(device, chain_move(device, server, portal_server), units=units)
    assert not result.get("failed"), result
    client = (portal(device) / "portal_client.py").read_bytes()
    assert b'"http://127.0.0.1:11440", token=None' in client  # depth's literal, moved once
    assert b'base_url="http://127.0.0.1:11441"' in client     # pose's, not shifted again
    assert b'"http://127.0.0.1:11436"' in client              # ocr did not move
    text = (portal(device) / "TROUBLESHOOTING.md").read_bytes()
    assert b"localhost:11440/health\n    curl http://localhost:11441/health" in text
    assert b"grep :11439" in text and b"192.168.1.20:11439" in text  # review, unchanged
    assert (portal(device) / "venv" / "lib" / "site.py").read_bytes() == b'URL = "http://127.0.0.1:11439"\n'
    st = os.stat(str(portal(device) / "portal_client.py"))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (HAILO_UID, HAILO_UID, 0o640)
    assert result["restarted"] == ["hailo-depth", "hailo-web-portal"]
    assert "hailo-web-portal" in result["health"]["services"]
    (report,) = result["clients"]
    assert report["restart"] and report["unit"] == "hailo-web-portal"
    lines = dict((entry["path"].rsplit("/", 1)[1], entry["changes"]) for entry in report["files"])
    assert lines["portal_client.py"] == [
        {"line": 3, "old": "http://127.0.0.1:11439", "new": "http://127.0.0.1:11440"},
        {"line": 6, "old": "http://127.0.0.1:11440", "new": "http://127.0.0.1:11441"}]
    assert sorted((item["line"], item["port"]) for item in report["review"]) == [(5, 11439), (6, 11439)]
    assert "token" not in json.dumps(report)  # the literal only, never the rest of the line


def test_check_mode_shows_the_client_diff_and_writes_nothing(device, server):
    before = (portal(device) / "portal_client.py").read_bytes()
    result = run(device, chain_move(device, server, server), check_mode=True, diff=True)  # checks nothing
    assert result["changed"] and not result.get("failed"), result
    assert (portal(device) / "portal_client.py").read_bytes() == before
    diffs = dict((d["after_header"], d) for d in result["diff"])
    client = diffs[str(portal(device) / "portal_client.py")]
    assert "11441" in client["after"] and "11441" not in client["before"]
    assert result["restarted"] == ["hailo-depth", "hailo-web-portal"]


def test_a_failed_change_restores_the_client_files_byte_for_byte_with_their_owner(device):
    files = [portal(device) / "portal_client.py", portal(device) / "TROUBLESHOOTING.md"]
    before = dict((path, path.read_bytes()) for path in files)
    result = run(device, chain_move(device, free_port(), free_port(), backup=True))
    assert result["failed"] and result["rolled_back"], result
    for path, data in before.items():
        assert path.read_bytes() == data
        assert os.stat(str(path)).st_uid == HAILO_UID
    assert set(str(p) for p in files) <= set(result["rollback"]["restored"])
    # The failed change still says which client lines it had changed (the report: undone).
    assert sorted(entry["path"] for entry in result["clients"][0]["files"]) == sorted(str(p) for p in files)
    log = calls(device)
    stop = log.index("systemctl stop -- hailo-depth.service hailo-web-portal.service")
    assert "systemctl restart hailo-web-portal.service" in log[stop:]
    # Backups outside the client's folder: root leaves no file of its own in hailo's folder.
    assert sorted(os.listdir(str(portal(device)))) == ["TROUBLESHOOTING.md", "portal_client.py", "venv"]
    copies = list((device / "client-backups").rglob("portal_client.py.*~"))
    assert len(copies) == 1 and copies[0].read_bytes() == before[files[0]]


def test_a_symlink_in_the_folder_is_not_followed(device, server, portal_server):
    secret = device / "elsewhere.py"
    secret.write_bytes(b'URL = "http://127.0.0.1:11439"\n')
    os.symlink(str(secret), str(portal(device) / "linked.py"))
    result = run(device, chain_move(device, server, portal_server),
                 units={str(server): "hailo-depth.service", str(portal_server): "hailo-web-portal.service"})
    assert not result.get("failed"), result
    assert secret.read_bytes() == b'URL = "http://127.0.0.1:11439"\n'
    assert os.path.islink(str(portal(device) / "linked.py"))


def test_a_missing_optional_client_is_reported_and_a_required_one_refused(device, server):
    args = chain_move(device, server, server)
    args["clients"][0]["path"] = str(device / "opt" / "none")
    result = run(device, args, units={str(server): "hailo-depth.service"})
    assert not result.get("failed") and result["clients"][0]["missing"], result
    args = chain_move(device, server, server, files=[])
    args["clients"][0].update(path=str(device / "opt" / "none"), required=True)
    result = run(device, args, units={str(server): "hailo-depth.service"})
    assert result["failed"] and "no such file or folder; nothing was written" in result["msg"]


def test_a_rerun_changes_nothing(device, server, portal_server):
    units = {str(server): "hailo-depth.service", str(portal_server): "hailo-web-portal.service"}
    assert not run(device, chain_move(device, server, portal_server), units=units).get("failed")
    after = (portal(device) / "portal_client.py").read_bytes()
    # The re-run's plan moves nothing, so it sends no client ports.
    args = chain_move(device, server, portal_server)
    args.update(files=[], restart=[], rollback_restart=[], client_ports={})
    result = run(device, args, units=units)
    assert not result["changed"] and result["restarted"] == [], result
    assert (portal(device) / "portal_client.py").read_bytes() == after


def test_a_boot_revert_restores_the_client_files_with_their_owner(device, server, portal_server):
    """Power cut before the change was confirmed: at boot the portal's files come back too."""
    files = [portal(device) / "portal_client.py", portal(device) / "TROUBLESHOOTING.md"]
    before = dict((path, path.read_bytes()) for path in files)
    units = {str(server): "hailo-depth.service", str(portal_server): "hailo-web-portal.service"}
    result = run(device, chain_move(device, server, portal_server, confirm_timeout=30), units=units)
    assert not result.get("failed") and result["confirm_by"], result
    assert files[0].read_bytes() != before[files[0]]
    journal_dir = device / "journal"
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    proc = subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), "--boot"], env=env,
                          check=False, timeout=30, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    for path, data in before.items():
        assert path.read_bytes() == data
        st = os.stat(str(path))
        assert (st.st_uid, st.st_gid) == (HAILO_UID, HAILO_UID)
    assert (os.stat(str(files[0])).st_mode & 0o7777) == 0o640
    last = json.loads((journal_dir / "last-revert.json").read_text())
    assert last["at_boot"] and set(str(p) for p in files) <= set(last["restored"])


@pytest.mark.skipif(os.path.exists("/usr/sbin/ufw") or os.path.exists("/sbin/ufw"), reason="ufw is installed here")
def test_without_ufw_the_firewall_part_says_so_and_changes_nothing(device, server, portal_server):
    """The molecule scenario `fleet` covers an active ufw; here the machine has none."""
    units = {str(server): "hailo-depth.service", str(portal_server): "hailo-web-portal.service"}
    args = chain_move(device, server, portal_server, firewall=True,
                      service_ports={"hailo-depth": 11440, "hailo-pose": 11441})
    args["previous_ports"] = {"hailo-depth": 11439, "hailo-pose": 11440}
    result = run(device, args, units=units)
    assert not result.get("failed"), result
    assert result["firewall"] == {"ufw": "absent", "added": [], "deleted": [], "kept": [], "review": []}
    assert not any("ufw" in line for line in calls(device))
    # Nothing moves: no firewall part at all.
    args.update(service_ports={"hailo-depth": 11439, "hailo-pose": 11440}, files=[], restart=[],
                rollback_restart=[], client_ports={})
    assert "firewall" not in run(device, args, units=units)
