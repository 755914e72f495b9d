"""seed-check: the device that molecule/resources/prepare.yml leaves behind.

testinfra's podman backend is the transport. Each `podman exec` costs ~0.1-0.2 s, so one
collector script gathers everything (unit states, files, users, health answers, sockets,
journals, mount tables) in a single exec and the tests assert on its JSON. HTTP requests
are made inside the container on 127.0.0.1.
"""

import json
import os

import pytest
import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

RESOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources")
with open(os.path.join(RESOURCES, "seed.yml")) as _handle:
    SEED = yaml.safe_load(_handle)["seed_default_services"]

SERVICES = sorted(SEED)
JSON_READERS = sorted(n for n, s in SEED.items() if s["reads"] == "json")
# The pre-reconciliation facts the scenarios start from.
WINNERS = {
    "hailo-ollama": 11434, "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437,
    "hailo-florence": 11438, "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002,
}
CRASH_LOOPING = {"hailo-piper": 5002, "hailo-depth": 11436}
FAILED = {"hailo-pose": 11436}
STANDBY = "hailo-standby-test"
FREE_PORTS = [5003, 5010, 11439, 11440]
RESERVED = {"pi-device-manager": "127.0.0.1:5099", "pi-web-portal": "0.0.0.0:7860"}

COLLECTOR = r"""
import grp, json, os, pwd, stat, subprocess, sys, urllib.error, urllib.request

spec = json.loads(sys.argv[1])

def sh(*argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout

def props(unit):
    out = sh("systemctl", "show", unit, "--property",
             "ActiveState,SubState,Result,NRestarts,UnitFileState,MainPID")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

def fileinfo(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    info = {"mode": stat.S_IMODE(st.st_mode), "owner": pwd.getpwuid(st.st_uid).pw_name,
            "group": grp.getgrgid(st.st_gid).gr_name,
            "type": "link" if stat.S_ISLNK(st.st_mode) else
                    "dir" if stat.S_ISDIR(st.st_mode) else "file"}
    if info["type"] == "link":
        info["target"] = os.readlink(path)
    elif info["type"] == "file" and st.st_size < 65536:
        with open(path, encoding="utf-8", errors="replace") as handle:
            info["content"] = handle.read()
    return info

def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return [resp.status, resp.read().decode()]
    except urllib.error.HTTPError as exc:
        return [exc.code, exc.read().decode()]

def user(name):
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return {"group": grp.getgrgid(pw.pw_gid).gr_name, "shell": pw.pw_shell,
            "groups": sorted(g.gr_name for g in grp.getgrall() if name in g.gr_mem)}

out = {
    "units": {u: props(u) for u in spec["units"]},
    "files": {p: fileinfo(p) for p in spec["files"]},
    "users": {u: user(u) for u in spec["users"]},
    "http": {u: get(u) for u in spec["urls"]},
    "listening": sh("ss", "-H", "-ltn"),
    "journals": {u: sh("journalctl", "-b", "-u", u, "--no-pager", "-o", "cat")
                 for u in spec["journals"]},
}
face_pid = out["units"]["hailo-face.service"]["MainPID"]
out["face_mountinfo"] = open("/proc/%s/mountinfo" % face_pid).read()
out["face_status"] = open("/proc/%s/status" % face_pid).read()
out["pid1_mountinfo"] = open("/proc/1/mountinfo").read()
print(json.dumps(out))
"""


def _hosts():
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if inventory:
        return AnsibleRunner(inventory).get_hosts("all")
    return os.environ.get("SEED_CHECK_HOSTS", "seed-check-pi1").split(",")


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _paths(name):
    paths = ["/etc/hailo/%s.yaml" % name, "/etc/xdg/%s" % name,
             "/etc/xdg/%s/%s.json" % (name, name), "/var/lib/%s" % name,
             "/etc/systemd/system/%s.service" % name]
    if name == "hailo-ollama":
        paths += ["/usr/local/bin/hailo-ollama",
                  "/etc/systemd/system/hailo-ollama.service.d/override.conf"]
    else:
        paths += ["/opt/%s/venv/bin/python" % name, "/opt/%s/server.py" % name]
    return paths


@pytest.fixture(scope="module", params=_hosts())
def device(request):
    return testinfra.get_host("podman://" + request.param)


@pytest.fixture(scope="module")
def facts(device):
    spec = {
        "units": ["%s.service" % n for n in SERVICES] + ["%s.service" % n for n in RESERVED],
        "files": [p for n in SERVICES for p in _paths(n)],
        "users": SERVICES,
        "urls": ["http://127.0.0.1:%d/health" % p for n, p in sorted(WINNERS.items())
                 if n != "hailo-ollama"]
                + ["http://127.0.0.1:11434/api/version", "http://127.0.0.1:11434/health",
                   "http://127.0.0.1:11436/health/ready"],
        "journals": ["%s.service" % n for n in list(CRASH_LOOPING) + list(FAILED)],
    }
    return json.loads(device.check_output("python3 -c %s %s" % (
        _quote(COLLECTOR), _quote(json.dumps(spec)))))


def unit(facts, name):
    return facts["units"][name + ".service"]


def listening(facts, address):
    return any(line.split()[3] == address for line in facts["listening"].splitlines())


# --------------------------------------------------------------------------- ports
def test_winners_hold_their_ports(facts):
    for name, port in sorted(WINNERS.items()):
        assert listening(facts, "0.0.0.0:%d" % port), name
        props = unit(facts, name)
        assert props["ActiveState"] == "active", (name, props)
        assert props["NRestarts"] == "0", (name, props)
        assert props["UnitFileState"] == "enabled", (name, props)


def test_reconciled_ports_are_still_free(facts):
    for port in FREE_PORTS:
        assert ":%d " % port not in facts["listening"] + " ", port


def test_reserved_listeners_run(facts):
    for name, address in RESERVED.items():
        assert listening(facts, address), address
        assert unit(facts, name)["ActiveState"] == "active"


# --------------------------------------------------------------------------- health
def test_health_bodies(facts):
    got = facts["http"]
    bodies = {}
    for name, port in WINNERS.items():
        if name == "hailo-ollama":
            continue
        status, body = got["http://127.0.0.1:%d/health" % port]
        assert status == 200, (name, body)
        bodies[name] = json.loads(body)
        assert bodies[name]["model_loaded"] is True
    # Some bodies name their service (hailo-scrfd only as "scrfd"), others do not.
    assert bodies["hailo-face"]["service"] == "hailo-face"
    assert bodies["hailo-face"]["status"] == "healthy"
    assert bodies["hailo-scrfd"]["service"] == "scrfd"
    assert bodies["hailo-ocr"]["service"] == "hailo-ocr"
    for name in ("hailo-vision", "hailo-whisper"):
        assert bodies[name]["status"] == "ok" and "service" not in bodies[name]
        assert "uptime_seconds" in bodies[name]
    assert "service" not in bodies["hailo-florence"]
    status, body = got["http://127.0.0.1:11434/api/version"]
    assert status == 200 and "version" in json.loads(body)
    assert got["http://127.0.0.1:11434/health"][0] == 404
    assert got["http://127.0.0.1:11436/health/ready"] == [200, json.dumps({"ready": True})]


# --------------------------------------------------------------------------- losers
def test_losers_crash_loop(facts):
    for name, port in sorted(CRASH_LOOPING.items()):
        props = unit(facts, name)
        # Mostly "activating (auto-restart)"; for the ~0.1 s between a restart and the
        # failed bind a Type=simple unit reads "active", so that is no proof of health.
        assert props["ActiveState"] in ("activating", "active", "failed"), (name, props)
        assert int(props["NRestarts"]) >= 1, (name, props)
        assert props["UnitFileState"] == "enabled"
        journal = facts["journals"][name + ".service"]
        assert "('0.0.0.0', %d): address already in use" % port in journal


def test_pose_is_failed_at_the_start_limit(facts):
    props = unit(facts, "hailo-pose")
    assert props["ActiveState"] == "failed", props
    assert props["UnitFileState"] == "enabled"
    assert "Start request repeated too quickly" in facts["journals"]["hailo-pose.service"]


def test_pose_restart_is_refused_until_reset_failed(device, facts):
    # Runs after the collector (module fixture), so the other checks saw the seeded state.
    refused = device.run("systemctl restart hailo-pose.service")
    assert refused.rc != 0, refused.stdout
    state = device.check_output("systemctl show hailo-pose.service -P ActiveState")
    assert state == "failed"


def test_standby_is_installed_disabled_and_stopped(facts):
    props = unit(facts, STANDBY)
    assert props["ActiveState"] == "inactive", props
    assert props["UnitFileState"] == "disabled", props
    assert props["NRestarts"] == "0"
    assert facts["files"]["/etc/hailo/%s.yaml" % STANDBY] is not None


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("name", SERVICES)
def test_installed_like_the_installers_do(facts, name):
    files = facts["files"]
    user = facts["users"][name]
    assert user and user["group"] == name and "hailo" in user["groups"], user
    assert user["shell"] == "/usr/sbin/nologin"
    cfg = files["/etc/hailo/%s.yaml" % name]
    assert (cfg["owner"], cfg["group"], cfg["mode"]) == ("root", "root", 0o644)
    assert yaml.safe_load(cfg["content"])["server"]["port"] == SEED[name]["port"]
    xdg = files["/etc/xdg/%s" % name]
    assert xdg["type"] == "dir" and xdg["owner"] == name
    assert files["/var/lib/%s" % name]["owner"] == name
    if name == "hailo-ollama":
        assert files["/usr/local/bin/hailo-ollama"]["mode"] == 0o755
    else:
        assert files["/opt/%s/venv/bin/python" % name]["target"] == "/usr/bin/python3"
        assert files["/opt/%s/server.py" % name]["type"] == "file"
    text = files["/etc/systemd/system/%s.service" % name]["content"]
    for line in ("Type=simple", "User=%s" % name, "Group=%s" % name,
                 "WorkingDirectory=/var/lib/%s" % name, "StateDirectory=%s" % name,
                 "XDG_CONFIG_HOME=/etc/xdg", "PYTHONUNBUFFERED=1", "Restart=always",
                 "RestartSec=%s\n" % SEED[name]["restart_sec"], "TimeoutStopSec=30",
                 "MemoryMax=", "CPUQuota=", "PrivateTmp=true", "NoNewPrivileges=true",
                 "ProtectSystem=strict", "ProtectHome=true",
                 "ReadWritePaths=/var/lib/%s /etc/xdg/%s" % (name, name)):
        assert line in text, (name, line)
    assert "port" not in text.lower()  # units carry no port


def test_config_files_keep_their_comments_and_second_ports(facts):
    content = {p: i["content"] for p, i in facts["files"].items() if i and "content" in i}
    ollama = content["/etc/hailo/hailo-ollama.yaml"]
    assert "server: {host: 0.0.0.0, port: 11434}" in ollama
    assert "library: {host: registry.example, port: 443}" in ollama
    assert 'host: "0.0.0.0"' in content["/etc/hailo/hailo-ocr.yaml"]
    assert "port: 11436       # TODO: conflict with hailo-ocr" in content["/etc/hailo/hailo-depth.yaml"]
    assert "[Service]" in content["/etc/systemd/system/hailo-ollama.service.d/override.conf"]
    assert "ExecStart=/usr/bin/env hailo-ollama" in content["/etc/systemd/system/hailo-ollama.service"]


@pytest.mark.parametrize("name", SERVICES)
def test_json_copies_are_rendered_the_installers_way(facts, name):
    copy = facts["files"]["/etc/xdg/%s/%s.json" % (name, name)]
    if name not in JSON_READERS:
        assert copy is None
        return
    assert (copy["owner"], copy["group"], copy["mode"]) == (name, name, 0o644)
    data = yaml.safe_load(facts["files"]["/etc/hailo/%s.yaml" % name]["content"])
    # render_config.py: json.dump(yaml.safe_load(...), f, indent=2) -- no trailing newline.
    assert copy["content"] == json.dumps(data, indent=2)
    # Ansible's filter gives the same bytes, but only with sort_keys=False.
    from ansible.plugins.filter.core import to_nice_json
    assert to_nice_json(data, indent=2, sort_keys=False) == copy["content"]


# --------------------------------------------------------------------------- hardening
def _mount_options(mountinfo, mount_point):
    rows = [line.split() for line in mountinfo.splitlines() if line.split()[4] == mount_point]
    return rows[-1][5].split(",") if rows else None


def test_hardening_is_enforced(facts):
    assert "NoNewPrivs:\t1" in facts["face_status"]
    face = facts["face_mountinfo"]
    assert _mount_options(face, "/")[0] == "ro", "ProtectSystem=strict not applied"
    assert _mount_options(face, "/var/lib/hailo-face")[0] == "rw", "ReadWritePaths not applied"
    assert _mount_options(face, "/etc/xdg/hailo-face")[0] == "rw", "ReadWritePaths not applied"
    assert _mount_options(face, "/home") is not None, "ProtectHome not applied"
    assert _mount_options(facts["pid1_mountinfo"], "/")[0] == "rw"
    assert _mount_options(facts["pid1_mountinfo"], "/var/lib/hailo-face") is None
