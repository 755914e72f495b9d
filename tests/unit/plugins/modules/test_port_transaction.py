# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run plugins/modules/port_transaction.py as a subprocess on real files.

``systemctl`` and ``systemd-run`` are stand-ins on PATH that log their arguments (the host has
no systemd; the molecule scenario ``faults`` runs the module against real systemd). Health
checks go to real HTTP servers on loopback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "port_transaction.py")
# Reports each health stub's listener as its service's unit (the test process runs in none).
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_with_units.py")

DEPTH = b"# hailo-depth\nserver:\n  host: 0.0.0.0\n  port: 11436  # shared with ocr\nmodel: {name: scdepth}\n"
DEPTH_JSON = b'{\n  "server": {\n    "host": "0.0.0.0",\n    "port": 11436\n  },\n  "model": {\n    "name": "scdepth"\n  }\n}'

FAKE_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$FAKE_LOG"
case " $* " in *" restart $FAKE_FAIL_RESTART "*) echo "Job failed" >&2; exit 1;; esac
exit 0
"""
FAKE_SYSTEMD_RUN = """#!/bin/sh
echo "systemd-run $*" >> "$FAKE_LOG"
exit 0
"""


def sha1(data):
    return hashlib.sha1(data).hexdigest()


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_health():
    """A healthy HTTP stand-in on a port of its own: yields the port, then stops it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


@pytest.fixture
def server():
    yield from serve_health()


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def make_device(tmp_path, systemctl=FAKE_SYSTEMCTL, depth=DEPTH, depth_json=DEPTH_JSON):
    """hailo-depth's files in tmp_path, and stand-ins for systemctl and systemd-run."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("systemctl", systemctl), ("systemd-run", FAKE_SYSTEMD_RUN)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    (tmp_path / "etc-hailo").mkdir()
    (tmp_path / "units").mkdir()
    (tmp_path / "xdg" / "hailo-depth").mkdir(parents=True)
    (tmp_path / "etc-hailo" / "hailo-depth.yaml").write_bytes(depth)
    (tmp_path / "xdg" / "hailo-depth" / "hailo-depth.json").write_bytes(depth_json)
    return tmp_path


@pytest.fixture
def device(tmp_path):
    """A device's files in tmp_path, and stand-ins for systemctl and systemd-run."""
    return make_device(tmp_path)


def run(device, args, check_mode=False, diff=False, fail_restart="", squatted=()):
    payload = dict(args)
    payload.setdefault("journal_dir", str(device / "journal"))
    payload.setdefault("unit_dir", str(device / "units"))
    payload["_ansible_check_mode"] = check_mode
    payload["_ansible_diff"] = diff
    args_file = device / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    units = dict(("%d" % check["port"], check["name"] + ".service")
                 for check in list(args.get("health") or ()) + list(args.get("rollback_health") or ())
                 if check["port"] not in squatted)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR, PATH="%s:%s" % (device / "bin", os.environ["PATH"]),
               FAKE_LOG=str(device / "calls.log"), FAKE_FAIL_RESTART=fail_restart,
               HAILO_TEST_PORT_UNITS=json.dumps(units))
    proc = subprocess.run([sys.executable, RUNNER, MODULE, str(args_file)], capture_output=True, env=env,
                          timeout=120, check=False)
    return json.loads(proc.stdout.decode())


def calls(device):
    path = device / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def move_depth(device, port, health_port, **extra):
    yaml_path = device / "etc-hailo" / "hailo-depth.yaml"
    json_path = device / "xdg" / "hailo-depth" / "hailo-depth.json"
    args = {
        "files": [{"path": str(yaml_path), "port": port, "json_path": str(json_path),
                   "expect": sha1(yaml_path.read_bytes()), "json_expect": sha1(json_path.read_bytes())}],
        "restart": ["hailo-depth"], "rollback_restart": ["hailo-depth"],
        "health": [{"name": "hailo-depth", "port": health_port}],
        "previous_ports": {"hailo-depth": 11436}, "health_timeout": 3, "confirm_timeout": 0,
    }
    args.update(extra)
    return args


def test_applies_edits_restarts_and_checks_in_one_call(device, server):
    result = run(device, move_depth(device, 11439, server))
    assert result["changed"] and not result.get("failed"), result
    yaml_text = (device / "etc-hailo" / "hailo-depth.yaml").read_bytes()
    assert yaml_text == DEPTH.replace(b"port: 11436", b"port: 11439")
    assert json.loads((device / "xdg" / "hailo-depth" / "hailo-depth.json").read_text())["server"]["port"] == 11439
    assert result["restarted"] == ["hailo-depth"]
    assert result["health"]["healthy"] == ["hailo-depth"]
    assert "systemctl restart hailo-depth.service" in calls(device)
    assert not (device / "journal" / "journal.json").exists()  # confirm_timeout 0: confirmed at once
    assert result["invocation"]["module_args"]["files"][0]["content"] is None  # edit mode sends no contents


def test_a_failed_health_check_restores_every_byte(device):
    paths = (device / "etc-hailo" / "hailo-depth.yaml", device / "xdg" / "hailo-depth" / "hailo-depth.json")
    before = {p: p.read_bytes() for p in paths}
    result = run(device, move_depth(device, 11439, free_port(), backup=False))
    assert result["failed"] and result["rolled_back"], result
    assert "hailo-depth" in result["msg"]
    for path, data in before.items():
        assert path.read_bytes() == data
    log = calls(device)
    assert log.index("systemctl stop -- hailo-depth.service") > log.index("systemctl restart hailo-depth.service")
    stop = log.index("systemctl stop -- hailo-depth.service")
    assert "systemctl restart hailo-depth.service" in log[stop + 1:]  # brought back on its restored files
    assert sorted(result["rollback"]["restored"]) == sorted(str(p) for p in before)
    assert not (device / "journal" / "journal.json").exists()
    assert not list((device / "etc-hailo").glob("*~"))  # backup false: no copies, still restored


def test_a_failed_restart_rolls_back(device, server):
    result = run(device, move_depth(device, 11439, server), fail_restart="hailo-depth.service")
    assert result["rolled_back"] and "restarting hailo-depth failed" in result["msg"]
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH


def test_a_symlinked_config_is_refused_unless_allowed_then_keeps_its_link(device, server):
    real = device / "real-depth.yaml"
    real.write_bytes(DEPTH)
    link = device / "etc-hailo" / "hailo-depth.yaml"
    link.unlink()
    link.symlink_to(real)
    refused = run(device, move_depth(device, 11439, server))
    assert refused["failed"] and not refused.get("rolled_back")
    assert refused["msg"].startswith("%s: refused: it is a symlink (to %s, the link owned by root)" % (link, real))
    assert calls(device) == [] and not (device / "journal").exists()
    result = run(device, move_depth(device, 11439, free_port(), allow_root_symlinks=True))
    assert result.get("rolled_back"), result["msg"]
    assert link.is_symlink() and real.read_bytes() == DEPTH
    result = run(device, move_depth(device, 11439, server, allow_root_symlinks=True))
    assert not result.get("failed"), result["msg"]
    assert link.is_symlink() and b"port: 11439" in real.read_bytes()


def test_a_file_changed_since_discovery_is_refused_before_any_write(device, server):
    args = move_depth(device, 11439, server)
    (device / "xdg" / "hailo-depth" / "hailo-depth.json").write_bytes(DEPTH_JSON + b"\n")
    result = run(device, args)
    assert result["failed"] and "changed since it was discovered" in result["msg"]
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    assert calls(device) == []


def test_check_mode_shows_the_diff_and_writes_nothing(device, server):
    result = run(device, move_depth(device, 11439, server), check_mode=True, diff=True)
    assert result["changed"]
    assert "port: 11439" in result["diff"][0]["after"]
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    assert calls(device) == []


def test_backups_are_pruned_to_backup_keep(device, server):
    for index in range(5):
        port = 11439 + index
        result = run(device, move_depth(device, port, server, backup=True, backup_keep=3))
        assert not result.get("failed"), result
        time.sleep(1.05)  # the copies are named by the second
    assert len(list((device / "etc-hailo").glob("hailo-depth.yaml.*~"))) == 3
    assert len(list((device / "xdg" / "hailo-depth").glob("hailo-depth.json.*~"))) == 3


def test_an_unconfirmed_change_is_reverted_by_the_timer_script(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    assert not result.get("failed"), result
    journal_dir = device / "journal"
    # Armed for the whole change, then re-armed for the confirmation window once applied.
    assert any(line.startswith("systemd-run --unit=port-reconcile-revert-%s " % result["id"])
               for line in calls(device)), calls(device)
    assert any(line.startswith("systemd-run --unit=port-reconcile-revert-%s-1 --on-active=30s" % result["id"])
               for line in calls(device)), calls(device)
    journal = json.loads((journal_dir / "journal.json").read_text())
    assert journal["stage"] == "applied"
    # The timer fires once confirm_by has passed.
    journal["confirm_by"] = time.time() - 1
    (journal_dir / "journal.json").write_text(json.dumps(journal))
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), "--timer"], env=env,
                   check=True, timeout=30)
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    assert (device / "xdg" / "hailo-depth" / "hailo-depth.json").read_bytes() == DEPTH_JSON
    assert not (journal_dir / "journal.json").exists()
    # A late confirmation is refused, naming the revert; the next change reports it once.
    late = run(device, {"state": "confirmed", "id": result["id"]})
    assert late["failed"] and "reverted by the device" in late["msg"]
    again = run(device, move_depth(device, 11439, server))
    assert again["found"]["reason"] == "not confirmed within 30 s"
    assert "found" not in run(device, move_depth(device, 11439, server))


def test_a_timer_that_fires_early_rearms(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    journal_dir = device / "journal"
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), "--timer"], env=env,
                   check=True, timeout=30)
    assert b"port: 11439" in (device / "etc-hailo" / "hailo-depth.yaml").read_bytes()
    assert calls(device)[-1].startswith("systemd-run --unit=port-reconcile-revert-%s-2 " % result["id"])
    confirmed = run(device, {"state": "confirmed", "id": result["id"]})
    assert confirmed["changed"]
    # Every timer of the change is stopped, under today's names and the first release's.
    first_stop = "systemctl stop -- port-reconcile-revert-%s.timer" % result["id"]
    stop = [line for line in calls(device) if line.startswith(first_stop)][-1].split()
    for prefix in ("port-reconcile-revert", "hailo-services-revert"):
        for suffix in ("", "-1", "-2"):
            assert "%s-%s%s.timer" % (prefix, result["id"], suffix) in stop
    assert not (journal_dir / "journal.json").exists()


def test_a_leftover_change_is_refused_then_reverted(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    refused = run(device, move_depth(device, 11440, server))
    assert refused["failed"] and "unfinished change (%s" % result["id"] in refused["msg"]
    reverted = run(device, {"state": "reverted"})
    assert reverted["changed"] and reverted["rollback"]["restored"]
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    assert not run(device, {"state": "reverted"})["changed"]


def test_a_rendered_unit_is_written_and_restored(device):
    unit = device / "hailo-depth.service"
    unit.write_bytes(b"[Service]\nExecStart=/bin/true\n")
    args = move_depth(device, 11439, free_port())
    args["files"].append({"path": str(unit), "kind": "unit", "content": "[Service]\nExecStart=/bin/false\n",
                          "expect": sha1(unit.read_bytes())})
    result = run(device, args)
    assert result["rolled_back"]
    assert "systemctl daemon-reload" in calls(device)
    assert unit.read_bytes() == b"[Service]\nExecStart=/bin/true\n"
    assert "ExecStart=/bin/false" not in json.dumps(result["invocation"])


SERVICE_INFO = os.path.join(REPO_ROOT, "plugins", "modules", "service_info.py")


def discover(device):
    """``service_info``'s entry for hailo-depth on the device."""
    args_file = device / "discover.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "config_dir": str(device / "etc-hailo"), "json_dir": str(device / "xdg"), "unit_dir": str(device),
        "services": ["hailo-depth"]}}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR, PATH="%s:%s" % (device / "bin", os.environ["PATH"]),
               FAKE_LOG=str(device / "discover.log"))
    proc = subprocess.run([sys.executable, SERVICE_INFO, str(args_file)], capture_output=True, env=env, timeout=60,
                          check=False)
    return json.loads(proc.stdout.decode())["services"]["hailo-depth"]


def _as_directory(path):
    path.unlink()
    path.mkdir()


def _json_elsewhere(device):
    victim = device / "victim.json"
    victim.write_bytes(DEPTH_JSON)
    copy = device / "xdg" / "hailo-depth" / "hailo-depth.json"
    copy.unlink()
    copy.symlink_to(victim)


def _no_json_dir(device):
    copy = device / "xdg" / "hailo-depth" / "hailo-depth.json"
    copy.unlink()
    copy.parent.rmdir()


@pytest.mark.parametrize("fault, field, problem", [
    (lambda d: (d / "etc-hailo" / "hailo-depth.yaml").write_bytes(DEPTH.replace(b"model:", b"  port: 11437\nmodel:")),
     "error", "{yaml}: duplicate key server.port"),
    (lambda d: _as_directory(d / "etc-hailo" / "hailo-depth.yaml"),
     "error", "{yaml}: refused: it is a directory (owned by root), not a regular file"),
    (lambda d: _as_directory(d / "xdg" / "hailo-depth" / "hailo-depth.json"),
     "error", "{json}: refused: it is a directory (owned by root), not a regular file"),
    (_no_json_dir, "json_problem", "{json}: refused: its directory {json_dir} does not exist"),
    (_json_elsewhere, "error", "{json}: refused: it is a symlink (to {victim}, the link owned by root); root does not "
                               "write through links (allow_root_symlinks follows links inside root's directories)"),
    (lambda d: os.chown(str(d / "etc-hailo"), 1000, 1000),
     "error", "{yaml}: refused: its directory {etc} is owned by "),
])
def test_discovery_and_the_transaction_name_a_problem_in_the_same_words(device, server, fault, field, problem):
    yaml_path = device / "etc-hailo" / "hailo-depth.yaml"
    json_path = device / "xdg" / "hailo-depth" / "hailo-depth.json"
    fault(device)
    problem = problem.format(yaml=yaml_path, json=json_path, json_dir=json_path.parent, victim=device / "victim.json",
                             etc=device / "etc-hailo")
    found = discover(device)
    assert found[field].startswith(problem), found
    args = {"files": [{"path": str(yaml_path), "port": 11439, "json_path": str(json_path)}],
            "restart": ["hailo-depth"], "health": [{"name": "hailo-depth", "port": server}], "confirm_timeout": 0}
    before = dict((p, p.read_bytes()) for p in (yaml_path, json_path, device / "victim.json")
                  if p.is_file() and not p.is_symlink())
    result = run(device, args)
    assert result["failed"] and result["msg"].startswith(found[field]), (result["msg"], found)
    assert calls(device) == [] and not (device / "journal").exists()
    for path, data in before.items():
        assert path.read_bytes() == data
    if json_path.is_symlink():
        assert (device / "victim.json").read_bytes() == DEPTH_JSON  # not followed


def test_a_fifo_config_is_refused_without_blocking(device, server):
    yaml_path = device / "etc-hailo" / "hailo-depth.yaml"
    yaml_path.unlink()
    os.mkfifo(str(yaml_path))  # nobody writes: a plain open() blocks forever (run() times out)
    found = discover(device)
    assert found["error"] == "%s: refused: it is a FIFO (owned by root), not a regular file" % yaml_path
    args = {"files": [{"path": str(yaml_path), "port": 11439}], "confirm_timeout": 0}
    result = run(device, args)
    assert result["failed"] and result["msg"] == found["error"] + "; nothing was written"


def test_a_unit_diff_masks_environment_values(device):
    unit = device / "hailo-depth.service"
    unit.write_bytes(b"[Service]\nEnvironment=TOKEN=old-secret\nExecStart=/bin/true\n")
    args = {"files": [{"path": str(unit), "kind": "unit", "content": "[Service]\nEnvironment=TOKEN=new-secret\n"
                       "ExecStart=/bin/true\n", "expect": sha1(unit.read_bytes())}], "confirm_timeout": 0}
    result = run(device, args, check_mode=True, diff=True)
    shown = json.dumps(result)
    assert "old-secret" not in shown and "new-secret" not in shown, shown
    assert "Environment=TOKEN=***" in result["diff"][0]["before"]


def test_a_mover_whose_new_port_is_held_is_not_started_and_the_change_rolls_back(device, server):
    # The test process holds the new port (in no unit): a program that took it after discovery.
    result = run(device, move_depth(device, 11439, server, health_timeout=1), squatted=[server])
    assert result["failed"] and result["rolled_back"], result
    assert result["msg"].startswith("hailo-depth was not started: its port %d is still held by " % server)
    assert "(pid %d) after 1 s" % os.getpid() in result["msg"]
    log = calls(device)
    stop = log.index("systemctl stop -- hailo-depth.service")
    assert "systemctl restart hailo-depth.service" not in log[:stop]  # never started on the held port
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH


def test_the_journal_names_the_ports_before_and_after_and_the_keepers(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30,
                                    previous_ports={"hailo-depth": 11436, "hailo-clip": server}))
    assert not result.get("failed"), result
    journal = json.loads((device / "journal" / "journal.json").read_text())
    assert journal["ports_before"] == {"hailo-depth": 11436, "hailo-clip": server}
    assert journal["ports_after"] == {"hailo-depth": server}
    assert journal["keepers"] == {}  # read before the change: no listener here runs in a unit
    assert journal["health_timeout"] == 3
    library = device / "journal" / "lib" / "ansible_collections" / "hailo" / "services" / "plugins" / "module_utils"
    for module in ("transaction.py", "port_order.py", "health.py", "listeners.py", "safe_files.py"):
        assert (library / module).is_file()  # the revert script imports them from its own copy


def test_a_journal_of_the_previous_release_is_reverted_in_its_order(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30,
                                    rollback_restart=["hailo-depth", "hailo-ocr"]))
    journal_dir = device / "journal"
    journal = json.loads((journal_dir / "journal.json").read_text())
    for key in ("ports_before", "ports_after", "keepers", "health_timeout"):
        del journal[key]
    journal["confirm_by"] = time.time() - 1
    (journal_dir / "journal.json").write_text(json.dumps(journal))
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), "--timer"], env=env,
                   check=True, timeout=30)
    log = calls(device)
    assert log[-2:] == ["systemctl restart hailo-depth.service", "systemctl restart hailo-ocr.service"], log
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    last = json.loads((journal_dir / "last-revert.json").read_text())
    assert last["restarted"] == ["hailo-depth", "hailo-ocr"] and "keepers" not in last
    assert result["id"] == last["id"]


def test_the_revert_script_holds_back_the_services_of_a_keeper_that_never_binds(device, server):
    # The stand-in systemctl starts nothing, so hailo-ocr never listens on 11436.
    run(device, move_depth(device, 11439, server, confirm_timeout=30,
                           rollback_restart=["hailo-ocr", "hailo-depth"]))
    journal_dir = device / "journal"
    journal = json.loads((journal_dir / "journal.json").read_text())
    journal.update(confirm_by=time.time() - 1, keepers={"11436": "hailo-ocr"}, health_timeout=1,
                   ports_before={"hailo-ocr": 11436, "hailo-depth": 11436})
    (journal_dir / "journal.json").write_text(json.dumps(journal))
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), "--timer"], env=env,
                   check=True, timeout=30)
    log = calls(device)
    assert "systemctl restart hailo-ocr.service" in log
    assert "systemctl restart hailo-depth.service" not in log[log.index("systemctl restart hailo-ocr.service"):]
    last = json.loads((journal_dir / "last-revert.json").read_text())
    assert last["restarted"] == ["hailo-ocr"]
    assert last["unbound"] == [{"name": "hailo-ocr", "port": 11436, "holder": None}]
    assert last["held_back"] == [{"name": "hailo-depth", "port": 11436, "keeper": "hailo-ocr"}]
