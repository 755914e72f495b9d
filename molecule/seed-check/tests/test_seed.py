"""seed-check: the device that molecule/resources/prepare.yml leaves behind.

testinfra's podman backend is the transport. Each `podman exec` costs ~0.1-0.2 s, so one
collector script gathers everything (unit states, files, users, health answers, sockets,
journals, mount tables, the command lines of the main processes) in a single exec and the
tests assert on its JSON. HTTP requests are made inside the container on 127.0.0.1.

The units are the installers' own files (molecule/resources/files/units/): the device must
hold them byte for byte, no two alike, and each must really run what its ExecStart= names.
"""

import glob
import hashlib
import importlib.util
import json
import os
import shlex

import pytest
import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

RESOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources")
with open(os.path.join(RESOURCES, "seed.yml")) as _handle:
    SEED = yaml.safe_load(_handle)["seed_default_services"]

SERVICES = sorted(SEED)
UNITS_DIR = os.path.join(RESOURCES, "files", "units")


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


# The installers' files: {service: bytes}, {service: {drop-in path on the device: bytes}}.
UNIT_FILES = {n: _read(os.path.join(UNITS_DIR, n + ".service")) for n in SERVICES}
DROPINS = {n: {"/etc/systemd/system/%s.service.d/%s" % (n, os.path.basename(p)): _read(p)
               for p in sorted(glob.glob(os.path.join(UNITS_DIR, n + ".service.d", "*.conf")))}
           for n in SERVICES}


def _settings(text):
    """{key: [values]} of a unit's [Service] and [Unit] sections (no continuation lines)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#;[" and "=" in line:
            key, _sep, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


SETTINGS = {n: _settings(UNIT_FILES[n].decode()) for n in SERVICES}
ARGV = {n: shlex.split(SETTINGS[n]["ExecStart"][0]) for n in SERVICES}
# The stand-in's path per service: the script (last *.py argument) or, for
# `/usr/bin/env NAME`, seed.yml's binary.
PROGRAM = {n: SEED[n].get("binary") or [a for a in ARGV[n] if a.endswith(".py")][-1]
           for n in SERVICES}
HARDENING = ("PrivateTmp=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes")
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
import grp, hashlib, json, os, pwd, stat, subprocess, sys, urllib.error, urllib.request

spec = json.loads(sys.argv[1])

def sh(*argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout

def props(unit):
    out = sh("systemctl", "show", unit, "--property",
             "ActiveState,SubState,Result,NRestarts,UnitFileState,MainPID,DropInPaths,"
             "Environment,FragmentPath")
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
        info["realpath"] = os.path.realpath(path)
    elif info["type"] == "file" and st.st_size < 65536:
        with open(path, "rb") as handle:
            data = handle.read()
        info["content"] = data.decode("utf-8", errors="replace")
        info["sha256"] = hashlib.sha256(data).hexdigest()
    return info

def process(pid):
    if pid in ("", "0"):
        return None
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().decode().rstrip("\0").split("\0")
        with open("/proc/%s/comm" % pid) as handle:
            comm = handle.read().strip()
    except OSError:
        return None
    try:  # needs CAP_SYS_PTRACE for another user's process; the container may lack it
        exe = os.readlink("/proc/%s/exe" % pid)
    except OSError:
        exe = None
    return {"cmdline": cmdline, "comm": comm, "exe": exe}

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
out["processes"] = {u: process(p["MainPID"]) for u, p in out["units"].items()}
out["python3"] = os.path.realpath("/usr/bin/python3")
face_pid = out["units"]["hailo-face.service"]["MainPID"]
out["face_mountinfo"] = open("/proc/%s/mountinfo" % face_pid).read()
ollama_pid = out["units"]["hailo-ollama.service"]["MainPID"]
out["ollama_mountinfo"] = open("/proc/%s/mountinfo" % ollama_pid).read()
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
             "/etc/systemd/system/%s.service" % name, "/etc/systemd/system/%s.service.d" % name,
             "/opt/%s/venv" % name, ARGV[name][0], PROGRAM[name]]
    paths += sorted(DROPINS[name])
    for value in SETTINGS[name].get("BindReadOnlyPaths", []) + SETTINGS[name].get("BindPaths", []):
        for item in value.split():
            paths += item.lstrip("-").split(":")[:2]
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
        "urls": (["http://127.0.0.1:%d/health" % p for n, p in sorted(WINNERS.items())
                  if n != "hailo-ollama"]
                 + ["http://127.0.0.1:11434/api/version", "http://127.0.0.1:11434/health",
                    "http://127.0.0.1:11436/health/ready"]),
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
    assert (xdg["type"], xdg["owner"], xdg["mode"]) == ("dir", "root", 0o755)  # the installers run as root
    assert files["/var/lib/%s" % name]["owner"] == name
    # What ExecStart= runs exists: the stand-in at the script (or binary) path, and the
    # interpreter: a venv's python is a symlink to the system python, like a real venv's.
    program = files[PROGRAM[name]]
    assert (program["type"], program["owner"], program["mode"]) == ("file", "root", 0o755)
    assert program["content"].startswith("#!/usr/bin/env python3")
    interpreter = files[ARGV[name][0]]
    if ARGV[name][0].startswith("/opt/%s/venv/bin/python" % name):
        assert interpreter["type"] == "link", interpreter
        assert interpreter["realpath"] == facts["python3"], interpreter
    else:
        assert files["/opt/%s/venv" % name] is None  # no venv invented for it
        assert interpreter["type"] in ("file", "link")


@pytest.mark.parametrize("name", SERVICES)
def test_units_are_the_installers_files_byte_for_byte(facts, name):
    installed = facts["files"]["/etc/systemd/system/%s.service" % name]
    assert installed["sha256"] == hashlib.sha256(UNIT_FILES[name]).hexdigest(), (
        name, installed["content"])
    assert (installed["owner"], installed["group"], installed["mode"]) == ("root", "root", 0o644)
    assert unit(facts, name)["FragmentPath"] == "/etc/systemd/system/%s.service" % name
    dropin_dir = facts["files"]["/etc/systemd/system/%s.service.d" % name]
    if not DROPINS[name]:
        assert dropin_dir is None
    for path, data in DROPINS[name].items():
        assert facts["files"][path]["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert path in unit(facts, name)["DropInPaths"].split()


@pytest.mark.parametrize("name", SERVICES)
def test_units_have_the_installers_common_shape(name):
    text = UNIT_FILES[name].decode()
    assert "ansible" not in text.lower()  # no ansible_managed header: installers wrote them
    assert "port" not in text.lower()  # units carry no port
    for line in ("Type=simple", "User=%s" % name, "Group=%s" % name,
                 "WorkingDirectory=/var/lib/%s" % name, "StateDirectory=%s" % name,
                 "XDG_CONFIG_HOME=/etc/xdg", "Restart=always", "TimeoutStopSec=30",
                 "MemoryMax=", "CPUQuota=", "[Install]\nWantedBy=multi-user.target\n"):
        assert line in text, (name, line)
    hardening = [h for h in HARDENING if h in text.splitlines()]
    assert hardening in ([], list(HARDENING)), (name, hardening)
    if hardening:
        assert "ReadWritePaths=/var/lib/%s /etc/xdg/%s" % (name, name) in text
    else:
        assert "ReadWritePaths=" not in text and "=true" not in text


def test_no_two_units_are_alike():
    # Not even with the service's name taken out: each installer wrote its own unit.
    def generic(name):
        text = UNIT_FILES[name].decode()
        return text.replace(name, "SVC").replace(name.replace("-", "_"), "SVC")
    assert len(set(UNIT_FILES.values())) == len(SERVICES)
    assert len(set(generic(n) for n in SERVICES)) == len(SERVICES)
    # The facts of the notes: own interpreters (venv python/python3, the system python,
    # env), hardening on about half, various limits, some one-line Environment= lines.
    assert len(set(ARGV[n][0].rsplit("/", 1)[-1] for n in SERVICES)) >= 3
    hardened = [n for n in SERVICES if SETTINGS[n].get("ProtectSystem") == ["strict"]]
    assert 4 <= len(hardened) <= 8, hardened
    assert len(set(SETTINGS[n]["MemoryMax"][0] for n in SERVICES)) >= 3
    assert len(set(SETTINGS[n]["CPUQuota"][0] for n in SERVICES)) >= 3
    assert any(v.startswith('"') and '" "' in v for n in SERVICES
               for v in SETTINGS[n].get("Environment", []))
    assert SETTINGS["hailo-pose"]["RestartSec"] == ["1"]
    assert SETTINGS["hailo-pose"]["StartLimitIntervalSec"] == ["600"]


@pytest.mark.parametrize("name", sorted(WINNERS))
def test_main_process_runs_what_execstart_names(facts, name):
    proc = facts["processes"][name + ".service"]
    assert proc, (name, unit(facts, name))
    argv = ARGV[name]
    if proc["exe"] is not None:
        assert proc["exe"] == facts["python3"], proc  # the stand-in, whatever the unit says
    if os.path.basename(argv[0]) == "env":
        # /usr/bin/env NAME -> PATH lookup -> the script's #!/usr/bin/env python3.
        assert proc["cmdline"] == ["python3", PROGRAM[name]], proc
        assert proc["comm"] == "python3", proc
    else:
        # systemd execs the interpreter named in the unit (venv symlink or system python)
        # with the script: the process is exactly that command line.
        assert proc["cmdline"] == argv, proc
        assert proc["comm"] == os.path.basename(argv[0]), proc


def test_ollama_drop_in_and_bind_mount_are_in_effect(facts):
    props = unit(facts, "hailo-ollama")
    assert "/etc/systemd/system/hailo-ollama.service.d/monitor.conf" in props["DropInPaths"]
    env = props["Environment"].split()
    assert "HAILO_MONITOR=1" in env and "HAILO_TRACE=scheduler" in env, env
    source = "/usr/share/hailo-ollama/models/manifests"
    target = "/var/lib/hailo-ollama/models/manifests"
    files = facts["files"]
    assert (files[source]["type"], files[source]["owner"]) == ("dir", "root")
    assert (files[target]["type"], files[target]["owner"]) == ("dir", "hailo-ollama")
    options = _mount_options(facts["ollama_mountinfo"], target)
    assert options is not None, "BindReadOnlyPaths not applied"
    assert options[0] == "ro"
    assert _mount_options(facts["pid1_mountinfo"], target) is None


def test_config_files_keep_their_comments_and_second_ports(facts):
    content = {p: i["content"] for p, i in facts["files"].items() if i and "content" in i}
    ollama = content["/etc/hailo/hailo-ollama.yaml"]
    assert "server: {host: 0.0.0.0, port: 11434}" in ollama
    assert "library: {host: registry.example, port: 443}" in ollama
    assert 'host: "0.0.0.0"' in content["/etc/hailo/hailo-ocr.yaml"]
    assert "port: 11436       # TODO: conflict with hailo-ocr" in content["/etc/hailo/hailo-depth.yaml"]
    assert "[Service]" in content["/etc/systemd/system/hailo-ollama.service.d/monitor.conf"]
    assert "ExecStart=/usr/bin/env hailo-ollama" in content["/etc/systemd/system/hailo-ollama.service"]


@pytest.mark.parametrize("name", SERVICES)
def test_json_copies_are_rendered_the_installers_way(facts, name):
    copy = facts["files"]["/etc/xdg/%s/%s.json" % (name, name)]
    if name not in JSON_READERS:
        assert copy is None
        return
    assert (copy["owner"], copy["group"], copy["mode"]) == ("root", "root", 0o644)
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


# --------------------------------------------------------------------------- the directive table
def _directive_table():
    """The collection's table of unit sections and directives (plugin_utils/systemd_directives.py),
    loaded by path: it imports nothing, and this test runs outside the collection's namespace."""
    path = os.path.join(RESOURCES, "..", "..", "plugins", "plugin_utils", "systemd_directives.py")
    spec = importlib.util.spec_from_file_location("hailo_systemd_directives", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SECTIONS


def test_every_table_entry_is_known_to_the_devices_systemd(device):
    """The inventory's unit settings are refused unless the table has them; so every entry must
    be a section or directive that systemd on the device knows: a unit using them all draws no
    "Unknown section" or "Unknown key" warning from systemd-analyze verify."""
    table = _directive_table()
    lines = []
    for section, directives in table.items():
        lines.append("[%s]" % section)
        # An empty value resets a setting; the key is still parsed, which is all this checks.
        lines += ["%s=" % name for name in sorted(directives)]
        if section == "Service":
            lines.append("ExecStart=/bin/true")
    path = "/tmp/hailo-directive-table.service"
    device.check_output("printf %%s %s > %s" % (_quote("\n".join(lines) + "\n"), path))
    result = device.run("systemd-analyze verify %s" % path)
    unknown = [line for line in (result.stdout + result.stderr).splitlines()
               if "Unknown section" in line or "Unknown key" in line or "Unknown lvalue" in line]
    assert unknown == []
    assert sum(len(d) for d in table.values()) > 300  # the whole table was written
    device.run("rm -f %s" % path)
