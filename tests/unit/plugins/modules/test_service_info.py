# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end tests: run plugins/modules/service_info.py as a subprocess on this machine.

Config trees are fabricated in tmp_path; systemctl is replaced by a script on PATH that logs
its arguments; the listener test starts a real HTTP server and finds it through /proc.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import hashlib
import os
import socket
import subprocess
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "service_info.py")

CONFIGS = {
    # name: (yaml, json or None)
    "hailo-depth": ("server:\n  host: 0.0.0.0\n  port: 11436\n",
                    '{\n  "server": {\n    "host": "0.0.0.0",\n    "port": 11436\n  }\n}'),
    "hailo-pose": ("# pose\nserver: {host: 0.0.0.0, port: 11440}\n",
                   '{"server": {"host": "0.0.0.0", "port": 11436}}'),
    "hailo-ocr": ("server:\n  port: 11436\n  host: 127.0.0.1\n", "{not json"),
    "hailo-piper": ('server:\n  host: "0.0.0.0"\n  port: "5002"\n', None),
    "hailo-broken": ("server: [unclosed\n", '{"server": {"port": 1}}'),
    "hailo-noport": ("server:\n  host: 0.0.0.0\n", None),
    "hailo-text": ("server:\n  port: fast\n", None),
}

SHOW = """Id=hailo-broken.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
NRestarts=0
MainPID=0

Id=hailo-depth.service
LoadState=loaded
ActiveState=activating
SubState=auto-restart
UnitFileState=enabled
NRestarts=17
MainPID=0

"""


def make_tree(tmp_path):
    config_dir = tmp_path / "hailo"
    json_dir = tmp_path / "xdg"
    unit_dir = tmp_path / "units"
    for directory in (config_dir, json_dir, unit_dir):
        directory.mkdir()
    for name, (yaml_text, json_text) in CONFIGS.items():
        (config_dir / (name + ".yaml")).write_text(yaml_text)
        if json_text is not None:
            (json_dir / name).mkdir()
            (json_dir / name / (name + ".json")).write_text(json_text)
    # Not services: wrong extension, invalid names. A directory is one, with its problem.
    (config_dir / "README.md").write_text("server:\n  port: 1\n")
    (config_dir / "hailo-old.yml").write_text("server:\n  port: 1\n")
    (config_dir / "Bad Name.yaml").write_text("server:\n  port: 1\n")
    (config_dir / ".hidden.yaml").write_text("server:\n  port: 1\n")
    (config_dir / "dir.yaml").mkdir()
    (unit_dir / "hailo-depth.service").write_text("[Service]\n")
    return {"config_dir": str(config_dir), "json_dir": str(json_dir), "unit_dir": str(unit_dir)}


def fake_systemctl(tmp_path, output, rc=0, stderr=""):
    """Put a ``systemctl`` on PATH that logs its argv (one JSON line per call) and answers."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "systemctl.log"
    script = bindir / "systemctl"
    script.write_text(
        "#!%s\nimport json, sys\n"
        "open(%r, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "sys.stdout.write(%r)\nsys.stderr.write(%r)\nsys.exit(%d)\n"
        % (sys.executable, str(log), output, stderr, rc))
    script.chmod(0o755)
    return {"PATH": str(bindir) + os.pathsep + os.environ.get("PATH", "")}, log


def calls(log):
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def run(tmp_path, args, env=None, check_mode=False):
    payload = dict(args)
    if check_mode:
        payload["_ansible_check_mode"] = True
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    full_env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], capture_output=True,
                          env=full_env, timeout=60, check=False)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from module: %r %r" % (proc.stdout, proc.stderr))
    return proc.returncode, result


def test_services_from_fabricated_tree(tmp_path):
    tree = make_tree(tmp_path)
    env, log = fake_systemctl(tmp_path, SHOW.replace("hailo-depth", "hailo-xx"))
    rc, result = run(tmp_path, tree, env=env)
    assert rc == 0, result
    assert result["changed"] is False
    assert "results" not in result and "ansible_facts" not in result
    services = result["services"]
    # A config that is a directory is named with its problem, in port_transaction's words.
    assert sorted(services) == sorted(list(CONFIGS) + ["dir"])
    assert services["dir"]["error"] == "%s: refused: it is a directory (owned by root), not a regular file" % (
        tmp_path / "hailo" / "dir.yaml")
    assert services["dir"]["port"] is None and services["dir"]["checksum"] is None

    depth = services["hailo-depth"]
    assert depth["config_path"] == os.path.join(tree["config_dir"], "hailo-depth.yaml")
    assert depth["json_path"] == os.path.join(tree["json_dir"], "hailo-depth", "hailo-depth.json")
    assert (depth["host"], depth["port"], depth["error"]) == ("0.0.0.0", 11436, None)
    assert (depth["json_exists"], depth["json_in_step"], depth["json_port"]) == (True, True, 11436)

    pose = services["hailo-pose"]
    assert (pose["port"], pose["json_in_step"], pose["json_port"]) == (11440, False, 11436)

    ocr = services["hailo-ocr"]
    assert (ocr["host"], ocr["port"], ocr["json_exists"], ocr["json_in_step"], ocr["json_port"]) == (
        "127.0.0.1", 11436, True, False, None)

    piper = services["hailo-piper"]
    assert (piper["port"], piper["error"]) == (5002, None)
    assert (piper["json_exists"], piper["json_in_step"], piper["json_port"]) == (False, False, None)

    broken = services["hailo-broken"]
    assert broken["port"] is None
    assert "invalid YAML at line 2" in broken["error"]
    assert broken["config_path"] in broken["error"]
    assert (broken["json_exists"], broken["json_in_step"], broken["json_port"]) == (True, None, 1)

    assert "server.port is missing" in services["hailo-noport"]["error"]
    assert services["hailo-noport"]["host"] == "0.0.0.0"
    assert "server.port is not an integer" in services["hailo-text"]["error"]

    # One systemctl call for all units, in name order.
    assert calls(log) == [[
        "show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,NRestarts,MainPID", "--",
        "dir.service", "hailo-broken.service", "hailo-depth.service", "hailo-noport.service", "hailo-ocr.service",
        "hailo-piper.service", "hailo-pose.service", "hailo-text.service"]]
    assert result["systemctl_error"] is None
    # The fake answered for hailo-broken and hailo-xx only; the rest are unknown.
    assert broken["unit"] == {
        "name": "hailo-broken.service",
        "path": os.path.join(tree["unit_dir"], "hailo-broken.service"), "file_exists": False,
        "checksum": None, "known": True, "exists": False, "load_state": "not-found", "active": "inactive",
        "sub_state": "dead", "enabled": None, "n_restarts": 0, "main_pid": None,
        "directives": None, "dropins": [],
        "parse_error": "%s does not exist" % os.path.join(tree["unit_dir"], "hailo-broken.service")}
    assert depth["unit"]["known"] is False
    assert depth["unit"]["file_exists"] is True
    with open(os.path.join(tree["unit_dir"], "hailo-depth.service"), "rb") as unit_file:
        assert depth["unit"]["checksum"] == hashlib.sha1(unit_file.read()).hexdigest()
    assert depth["unit"]["exists"] is True  # falls back to the unit file


def test_parsed_data_and_checksums_of_configs(tmp_path):
    """The controller compares parsed data and sends only files whose SHA-1 differs."""
    tree = make_tree(tmp_path)
    env, _log = fake_systemctl(tmp_path, SHOW)
    rc, result = run(tmp_path, dict(tree, return_data=True), env=env)
    assert rc == 0, result
    services = result["services"]
    pose = services["hailo-pose"]
    assert pose["data"] == {"server": {"host": "0.0.0.0", "port": 11440}}
    assert list(pose["data"]["server"]) == ["host", "port"]  # key order kept
    assert list(services["hailo-ocr"]["data"]["server"]) == ["port", "host"]
    assert services["hailo-noport"]["data"] == {"server": {"host": "0.0.0.0"}}
    assert services["hailo-broken"]["data"] is None
    for name, (yaml_text, json_text) in CONFIGS.items():
        found = services[name]
        assert found["checksum"] == hashlib.sha1(yaml_text.encode("utf-8")).hexdigest()
        expected = None if json_text is None else hashlib.sha1(json_text.encode("utf-8")).hexdigest()
        assert found["json_checksum"] == expected


def test_owned_configs_are_recognised_by_their_leading_comments(tmp_path):
    marker = "Owned by hailo.services (config_mode template)"
    (tmp_path / "hailo-a.yaml").write_text("#\n# Ansible managed\n#\n\n# %s\nserver: {port: 1}\n" % marker)
    (tmp_path / "hailo-b.yaml").write_text("server: {port: 1}\n# %s\n" % marker)
    (tmp_path / "hailo-c.yaml").write_text("# hand-written\nserver: {port: 1}\n")
    env, _log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, {"config_dir": str(tmp_path)}, env=env)
    assert rc == 0, result
    owned = dict((name, found["owned"]) for name, found in result["services"].items())
    assert owned == {"hailo-a": True, "hailo-b": False, "hailo-c": False}
    rc, result = run(tmp_path, {"config_dir": str(tmp_path), "owned_marker": "hand-written"}, env=env)
    assert result["services"]["hailo-c"]["owned"] is True


def test_requested_service_without_config_has_no_data(tmp_path):
    env, _log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, {"config_dir": str(tmp_path), "services": ["hailo-gone"], "return_data": True},
                     env=env)
    assert rc == 0, result
    gone = result["services"]["hailo-gone"]
    assert (gone["data"], gone["checksum"], gone["json_checksum"]) == (None, None, None)


def test_config_contents_stay_out_of_results_by_default(tmp_path):
    secret = "s3cr3t-token-value"
    (tmp_path / "hailo-vision.yaml").write_text("server: {host: 0.0.0.0, port: 11438}\napi_key: %s\n" % secret)
    env, _log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, {"config_dir": str(tmp_path)}, env=env)
    assert rc == 0, result
    vision = result["services"]["hailo-vision"]
    assert "data" not in vision
    assert (vision["port"], vision["host"], vision["error"]) == (11438, "0.0.0.0", None)
    assert secret not in json.dumps(result)
    rc, result = run(tmp_path, {"config_dir": str(tmp_path), "return_data": False}, env=env)
    assert "data" not in result["services"]["hailo-vision"]
    rc, result = run(tmp_path, {"config_dir": str(tmp_path), "return_data": True}, env=env)
    assert result["services"]["hailo-vision"]["data"]["api_key"] == secret


def billion_laughs():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for level in range(1, 9):
        name, prev = "abcdefghi"[level], "abcdefghi"[level - 1]
        lines.append("%s: &%s [%s]" % (name, name, ",".join(["*" + prev] * 9)))
    return "\n".join(lines) + "\n"


def test_alias_bomb_and_oversized_config_are_refused_quickly(tmp_path):
    bomb = tmp_path / "hailo-bomb.yaml"
    bomb.write_text(billion_laughs())
    big = tmp_path / "hailo-big.yaml"
    big.write_text("server: {port: 5002}\n" + "# padding\n" * 146800)  # about 1.4 MB
    fine = tmp_path / "hailo-fine.yaml"
    fine.write_text("server: {port: 5003}\n")
    env, _log = fake_systemctl(tmp_path, "")
    start = time.monotonic()
    rc, result = run(tmp_path, {"config_dir": str(tmp_path), "return_data": True}, env=env)
    elapsed = time.monotonic() - start
    assert rc == 0, result
    assert elapsed < 10
    services = result["services"]
    assert services["hailo-bomb"]["error"] == (
        "%s: refused: YAML aliases expand too far (28 aliases stand for more than 10000 nodes)" % bomb)
    assert services["hailo-big"]["error"] == (
        "%s: refused: the file is %d bytes, more than the 262144-byte limit" % (big, big.stat().st_size))
    for name in ("hailo-bomb", "hailo-big"):
        assert (services[name]["data"], services[name]["port"], services[name]["json_in_step"]) == (None, None, None)
        assert services[name]["checksum"] is (None if name == "hailo-big" else services[name]["checksum"])
        assert services[name]["owned"] is False
    assert services["hailo-bomb"]["checksum"] is not None
    assert (services["hailo-fine"]["port"], services["hailo-fine"]["error"]) == (5003, None)


CLIP_UNIT = """\
# written by the hailo-clip installer
[Unit]
Description=Hailo CLIP service
After=network.target

[Service]
Type=simple
User=hailo-clip
Environment=XDG_CONFIG_HOME=/etc/xdg
Environment="HAILO_PRINT_TO_SYSLOG=1" PYTHONUNBUFFERED=1
ExecStart=/opt/hailo-clip/venv/bin/python3 \\
    /opt/hailo-clip/hailo_clip_service.py
TimeoutStartSec = 120

[Install]
WantedBy=multi-user.target
"""


def test_unit_directives_and_dropins(tmp_path):
    """The controller renders each unit from the directives the device's unit has."""
    tree = make_tree(tmp_path)
    unit_dir = tmp_path / "units"
    (unit_dir / "hailo-ocr.service").write_text(CLIP_UNIT.replace("clip", "ocr").replace("CLIP", "OCR"))
    (unit_dir / "hailo-piper.service").write_text("[Service]\nType=simple\nnot an assignment\n")
    (unit_dir / "hailo-pose.service").write_bytes(b"[Service]\nDescription=\xff\n")
    (unit_dir / "hailo-text.service").mkdir()  # a directory, not a unit file
    dropins = unit_dir / "hailo-ocr.service.d"
    dropins.mkdir()
    for entry in ("zz-limits.conf", "monitor.conf", "notes.txt"):
        (dropins / entry).write_text("[Service]\nMemoryMax=3G\n")
    (dropins / "dir.conf").mkdir()
    env, _log = fake_systemctl(tmp_path, "")
    # return_data: a play that renders units needs the environment values (else NAME=***).
    rc, result = run(tmp_path, dict(tree, return_data=True), env=env)
    assert rc == 0, result
    services = result["services"]

    ocr = services["hailo-ocr"]["unit"]
    assert ocr["parse_error"] is None
    assert ocr["directives"] == [
        ["Unit", "Description", "Hailo OCR service"],
        ["Unit", "After", "network.target"],
        ["Service", "Type", "simple"],
        ["Service", "User", "hailo-ocr"],
        ["Service", "Environment", "XDG_CONFIG_HOME=/etc/xdg"],
        ["Service", "Environment", '"HAILO_PRINT_TO_SYSLOG=1" PYTHONUNBUFFERED=1'],
        ["Service", "ExecStart", "/opt/hailo-ocr/venv/bin/python3  /opt/hailo-ocr/hailo_ocr_service.py"],
        ["Service", "TimeoutStartSec", "120"],
        ["Install", "WantedBy", "multi-user.target"],
    ]
    assert ocr["dropins"] == [str(dropins / "monitor.conf"), str(dropins / "zz-limits.conf")]
    assert all(os.path.isabs(path) for path in ocr["dropins"])
    # Existing keys are kept.
    with open(str(unit_dir / "hailo-ocr.service"), "rb") as unit_file:
        assert ocr["checksum"] == hashlib.sha1(unit_file.read()).hexdigest()
    assert ocr["file_exists"] is True

    depth = services["hailo-depth"]["unit"]
    assert (depth["directives"], depth["parse_error"], depth["dropins"]) == ([], None, [])

    piper = services["hailo-piper"]["unit"]
    assert piper["directives"] is None
    assert piper["parse_error"].startswith(str(unit_dir / "hailo-piper.service") + ": line 3:")
    assert piper["checksum"] is not None

    pose = services["hailo-pose"]["unit"]
    assert pose["directives"] is None and "not UTF-8" in pose["parse_error"]

    text = services["hailo-text"]["unit"]
    assert text["directives"] is None and text["file_exists"] is False
    assert text["parse_error"] == "%s: refused: it is a directory (owned by root), not a regular file" % (
        unit_dir / "hailo-text.service")

    noport = services["hailo-noport"]["unit"]
    assert (noport["directives"], noport["dropins"]) == (None, [])
    assert noport["parse_error"] == "%s does not exist" % (unit_dir / "hailo-noport.service")


def test_unit_directives_relative_unit_dir_gives_absolute_dropins(tmp_path):
    tree = make_tree(tmp_path)
    (tmp_path / "units" / "hailo-depth.service.d").mkdir()
    (tmp_path / "units" / "hailo-depth.service.d" / "a.conf").write_text("[Service]\n")
    env, _log = fake_systemctl(tmp_path, "")
    env["PWD"] = str(tmp_path)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(tree, unit_dir="units")}))
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], capture_output=True, cwd=str(tmp_path),
                          env=dict(os.environ, PYTHONPATH=COLLECTIONS_DIR, **env), timeout=60, check=False)
    result = json.loads(proc.stdout)
    assert proc.returncode == 0, result
    assert result["services"]["hailo-depth"]["unit"]["dropins"] == [
        str(tmp_path / "units" / "hailo-depth.service.d" / "a.conf")]


def test_unit_states_from_systemctl(tmp_path):
    tree = make_tree(tmp_path)
    env, log = fake_systemctl(tmp_path, SHOW)
    rc, result = run(tmp_path, dict(tree, services=["hailo-depth", "hailo-broken"]), env=env)
    assert rc == 0, result
    assert len(calls(log)) == 1
    assert calls(log)[0][3:] == ["hailo-broken.service", "hailo-depth.service"]
    assert sorted(result["services"]) == ["hailo-broken", "hailo-depth"]
    unit = result["services"]["hailo-depth"]["unit"]
    assert (unit["known"], unit["exists"], unit["active"], unit["sub_state"], unit["enabled"],
            unit["n_restarts"], unit["main_pid"]) == (
        True, True, "activating", "auto-restart", "enabled", 17, None)


def test_systemd_not_running(tmp_path):
    tree = make_tree(tmp_path)
    message = "System has not been booted with systemd as init system (PID 1). Can't operate."
    env, log = fake_systemctl(tmp_path, "", rc=1, stderr=message + "\n")
    rc, result = run(tmp_path, tree, env=env, check_mode=True)
    assert rc == 0, result
    assert len(calls(log)) == 1
    assert result["systemctl_error"] == message
    for name, entry in result["services"].items():
        unit = entry["unit"]
        assert unit["known"] is False
        assert unit["active"] is None and unit["enabled"] is None
        assert unit["exists"] is (name == "hailo-depth")


def test_requested_service_without_config(tmp_path):
    tree = make_tree(tmp_path)
    env, log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, dict(tree, services=["hailo-clip", "hailo-ocr", "hailo-ocr"]), env=env)
    assert rc == 0, result
    assert sorted(result["services"]) == ["hailo-clip", "hailo-ocr"]
    clip = result["services"]["hailo-clip"]
    assert clip["port"] is None
    assert clip["error"] == "%s does not exist" % os.path.join(tree["config_dir"], "hailo-clip.yaml")
    assert clip["json_in_step"] is None


def test_invalid_service_names_are_rejected(tmp_path):
    tree = make_tree(tmp_path)
    env, log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, dict(tree, services=["hailo-ocr", "../etc/passwd", "-x"]), env=env)
    assert rc != 0
    assert "../etc/passwd" in result["msg"] and "-x" in result["msg"]
    assert calls(log) == []


def test_missing_config_dir_gives_no_services(tmp_path):
    env, log = fake_systemctl(tmp_path, "")
    rc, result = run(tmp_path, {"config_dir": str(tmp_path / "nothing")}, env=env)
    assert rc == 0, result
    assert result["services"] == {}
    assert calls(log) == []  # nothing to ask systemd about
    assert result["systemctl_error"] is None


def _free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def http_server():
    """A real ``python -m http.server`` on 127.0.0.1, in its own process."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("http.server did not start on port %d" % port)
            time.sleep(0.05)
    yield proc, port
    proc.terminate()
    proc.wait(10)


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc")
def test_real_listener_found_through_proc(tmp_path, http_server):
    proc, port = http_server
    tree = make_tree(tmp_path)
    rc, result = run(tmp_path, tree)
    assert rc == 0, result
    found = [item for item in result["listeners"] if item["port"] == port]
    assert len(found) == 1, result["listeners"]
    listener = found[0]
    assert listener["address"] == "127.0.0.1"
    assert listener["family"] == "tcp"
    assert listener["pid"] == proc.pid
    assert listener["pids"] == [proc.pid]
    assert listener["program"].startswith("python")
    with open("/proc/%d/cgroup" % proc.pid) as handle:
        in_a_service = ".service" in handle.read()
    if not in_a_service:  # this machine runs no systemd
        assert listener["unit"] is None
        assert result["port_owners"][str(port)] == listener["program"]
    assert port in result["in_use"]
    # No unit of the tree's services holds a socket here, so none of them is serving.
    assert result["services"] and not any(s["serving"] for s in result["services"].values())
    assert result["in_use"] == sorted(set(result["in_use"]))
    assert all(isinstance(p, int) for p in result["in_use"])
