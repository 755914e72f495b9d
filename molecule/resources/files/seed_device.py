"""Seed a test device into the state of a Hailo device BEFORE port reconciliation.

TEST FIXTURE, run on the device by molecule/resources/prepare.yml
(``ansible.builtin.script``) with one argument: the path of a JSON spec the play built from
seed.yml, its variables, the installers' unit files (files/units/) and the config templates.
Doing the whole seeding in one process keeps the prepare step to a handful of connections
(a podman exec costs about a second).

What it does, in order (idempotent; a second run reseeds from scratch):
  1. stops and resets every unit it is about to (re)write, removes skipped services;
  2. creates the device group and, per service, a system user/group named like the service
     (member of the device group), what the unit's ExecStart= runs (see install_program:
     the stand-in at the script path, the last argument ending in .py, or at the service's
     ``binary`` path for ``/usr/bin/env NAME``; a venv interpreter /opt/<service>/venv/bin/
     python* as a symlink to /usr/bin/python3, like a real venv), the source and target
     directories of the unit's BindPaths=/BindReadOnlyPaths=, /var/lib/<service>,
     /etc/hailo/<service>.yaml (root 0644), /etc/xdg/<service>/ (owned by the service) and,
     for the JSON readers, the installer's JSON copy json.dump(yaml.safe_load(...), indent=2)
     (owned by the service, 0644);
  3. writes the units and drop-ins byte for byte as the installers left them (no
     templating), the fault files of the stand-in, and the stand-in's model load time in
     the manager environment;
  4. starts the unrelated listeners, then the services one by one in the given order,
     waiting for each expected winner to hold its port before starting the next, so the
     winners of shared ports are deterministic; the standby service is disabled + stopped;
  5. waits until the seeded state is reached: winners answer their health path with 200,
     losers crash-loop (NRestarts >= 1, not active) or sit `failed` at the start limit
     (units whose RestartSec= is short enough to trip StartLimitBurst= within
     StartLimitIntervalSec=, read from the unit and its drop-ins), the standby unit is
     inactive;
  6. prints a JSON summary on stdout.
"""

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

SYSTEMD_DIR = "/etc/systemd/system"
HAILO_DIR = "/etc/hailo"
XDG_DIR = "/etc/xdg"
FAULTS_DIR = os.path.join(HAILO_DIR, "standin-faults")
# systemd's defaults: StartLimitBurst=5 within StartLimitIntervalSec=10s.
START_LIMIT_BURST = 5
START_LIMIT_INTERVAL = 10.0
# What a crash costs on top of RestartSec (interpreter start, failed bind).
CRASH_OVERHEAD = 0.3
# Comment line that marks the unrelated listener units this script writes.
LISTENER_MARK = "# hailo-seed: unrelated listener"


def log(message):
    sys.stderr.write("seed: %s\n" % message)
    sys.stderr.flush()


def run(*argv, check=True):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        raise SystemExit("seed: command failed (%d): %s\n%s%s" % (
            proc.returncode, " ".join(argv), proc.stdout, proc.stderr))
    return proc


def write_file(path, content, mode=0o644, owner="root", group="root"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".seed-tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    os.chown(tmp, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
    os.replace(tmp, path)


def make_dir(path, mode=0o755, owner="root", group="root"):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)


def unit_exists(unit):
    return os.path.exists(os.path.join(SYSTEMD_DIR, unit))


def unit_props(unit):
    out = run("systemctl", "show", unit, "--property",
              "ActiveState,SubState,Result,NRestarts,MainPID,UnitFileState", check=False).stdout
    props = {}
    for line in out.splitlines():
        key, _sep, value = line.partition("=")
        props[key] = value
    props["NRestarts"] = int(props.get("NRestarts") or 0)
    return props


def connect_host(host):
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def port_open(host, port):
    try:
        with socket.create_connection((connect_host(host), port), timeout=0.5):
            return True
    except OSError:
        return False


def http_status(host, port, path):
    host = connect_host(host)
    if ":" in host:
        host = "[%s]" % host
    try:
        with urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def wait_for(what, predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit("seed: timed out after %gs waiting for %s" % (timeout, what))


def fault_blocks(fault, port):
    if fault is None:
        return False
    tokens = str(fault).replace(",", " ").split()
    return "*" in tokens or str(port) in tokens


# --------------------------------------------------------------------------- unit files
def unit_settings(*texts):
    """``{(section, key): [values]}`` of a unit file and its drop-ins, in order (later texts
    win for single-valued keys; an empty assignment resets a list, as systemd does)."""
    settings = {}
    for text in texts:
        section, lines = None, text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + " " + lines[i].strip()
                i += 1
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            if not sep:
                continue
            values = settings.setdefault((section, key.strip()), [])
            if value.strip():
                values.append(value.strip())
            else:
                del values[:]
    return settings


def setting(settings, section, key, default=None):
    values = settings.get((section, key))
    return values[-1] if values else default


_TIME_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "": 1.0, "s": 1.0,
               "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0,
               "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hour": 3600.0,
               "hours": 3600.0}


def timespan(text):
    """systemd time span (``5``, ``100ms``, ``10min``, ``1min 30s``) in seconds."""
    total, found = 0.0, False
    for number, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", text.strip().lower()):
        if unit not in _TIME_UNITS:
            raise SystemExit("seed: cannot read time span %r" % text)
        total += float(number) * _TIME_UNITS[unit]
        found = True
    if not found:
        raise SystemExit("seed: cannot read time span %r" % text)
    return total


def exec_start_argv(settings, name):
    values = settings.get(("Service", "ExecStart")) or []
    if len(values) != 1:
        raise SystemExit("seed: %s.service needs exactly one ExecStart=, has %d"
                         % (name, len(values)))
    argv = shlex.split(values[0])
    while argv and argv[0][:1] in "-@+!:" and not argv[0].startswith("/"):
        argv[0] = argv[0][1:] or argv.pop(0)
    if not argv or not argv[0].startswith("/"):
        raise SystemExit("seed: %s.service: ExecStart= must start with an absolute path: %r"
                         % (name, values[0]))
    return argv


def bind_paths(settings):
    """(source, target, read_only) of the unit's BindPaths= and BindReadOnlyPaths=."""
    out = []
    for key, read_only in (("BindPaths", False), ("BindReadOnlyPaths", True)):
        for value in settings.get(("Service", key)) or []:
            for item in shlex.split(value):
                item = item.lstrip("-")
                source, _sep, rest = item.partition(":")
                target = rest.partition(":")[0] or source
                out.append((source, target, read_only))
    return out


def start_limit(svc):
    return svc["start_limit_burst"], svc["start_limit_interval"]


def trips_start_limit(svc):
    """Whether a unit that crashes at once ends up failed at its start limit."""
    burst, interval = start_limit(svc)
    if burst <= 0 or interval <= 0:
        return False
    return (svc["restart_sec"] + CRASH_OVERHEAD) * (burst - 1) < interval


def read_unit(svc):
    """Facts the seeder needs from the unit as its installer wrote it (plus drop-ins)."""
    name = svc["name"]
    dropins = svc.get("dropins") or {}
    settings = unit_settings(svc["unit"], *[dropins[f] for f in sorted(dropins)])
    svc["argv"] = exec_start_argv(settings, name)
    svc["binds"] = bind_paths(settings)
    svc["restart_sec"] = timespan(setting(settings, "Service", "RestartSec", "100ms"))
    svc["start_limit_interval"] = timespan(setting(
        settings, "Unit", "StartLimitIntervalSec", str(START_LIMIT_INTERVAL)))
    svc["start_limit_burst"] = int(setting(settings, "Unit", "StartLimitBurst",
                                           str(START_LIMIT_BURST)))


# --------------------------------------------------------------------------- steps
def reset(spec):
    units = [s["name"] + ".service" for s in spec["services"]]
    units += [r + ".service" for r in spec.get("remove", [])]
    units += [l["name"] + ".service" for l in spec["listeners"]]
    units += [name + ".service" for name in TODAY_UNITS]
    # Listener units of an earlier seeding that this one does not want any more.
    wanted = set(l["name"] + ".service" for l in spec["listeners"])
    stale = []
    for unit in sorted(os.listdir(SYSTEMD_DIR)):
        path = os.path.join(SYSTEMD_DIR, unit)
        if unit.endswith(".service") and unit not in wanted and os.path.isfile(path):
            with open(path, "r", encoding="utf-8", errors="replace") as handle:
                if LISTENER_MARK in handle.read():
                    stale.append(unit)
    units += stale
    present = [u for u in units if unit_exists(u)]
    if present:
        run("systemctl", "stop", *present, check=False)
        run("systemctl", "reset-failed", *present, check=False)
    for name in spec.get("remove", []):
        unit = name + ".service"
        if unit_exists(unit):
            run("systemctl", "disable", unit, check=False)
            os.remove(os.path.join(SYSTEMD_DIR, unit))
        shutil.rmtree(os.path.join(SYSTEMD_DIR, unit + ".d"), ignore_errors=True)
        shutil.rmtree(os.path.join(XDG_DIR, name), ignore_errors=True)
        shutil.rmtree(os.path.join("/opt", name), ignore_errors=True)
        shutil.rmtree(os.path.join("/usr/share", name), ignore_errors=True)
        for path in (os.path.join(HAILO_DIR, name + ".yaml"), "/usr/local/bin/" + name):
            if os.path.lexists(path):
                os.remove(path)
    for unit in stale:
        run("systemctl", "disable", unit, check=False)
        os.remove(os.path.join(SYSTEMD_DIR, unit))


def ensure_group(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        run("groupadd", "--system", name)


def ensure_user(name, device_group):
    try:
        pwd.getpwnam(name)
    except KeyError:
        run("useradd", "--system", "--user-group", "--home-dir", "/var/lib/" + name,
            "--no-create-home", "--shell", "/usr/sbin/nologin",
            "--comment", name + " service", name)
    run("usermod", "--append", "--groups", device_group, name)


def install_program(svc, spec):
    """Make the unit's ExecStart= run the stand-in, whatever the installer wrote there."""
    name, argv = svc["name"], svc["argv"]
    scripts = [arg for arg in argv[1:] if arg.endswith(".py")]
    if os.path.basename(argv[0]) == "env" and len(argv) > 1 and not scripts:
        # /usr/bin/env NAME: a program found on systemd's PATH (hailo-ollama).
        if not svc.get("binary"):
            raise SystemExit("seed: %s runs `%s` but seed.yml gives no binary path"
                             % (name, " ".join(argv)))
        if os.path.basename(svc["binary"]) != argv[1]:
            raise SystemExit("seed: %s: binary %s is not what `%s` runs"
                             % (name, svc["binary"], " ".join(argv)))
        write_file(svc["binary"], spec["standin_source"], mode=0o755)
        return
    if not scripts:
        raise SystemExit("seed: %s: no script (*.py) in ExecStart=%s" % (name, " ".join(argv)))
    script, interpreter = scripts[-1], argv[0]
    make_dir(os.path.dirname(script))
    write_file(script, spec["standin_source"], mode=0o755)
    if re.match(r"^/opt/[^/]+/venv/bin/python[0-9.]*$", interpreter):
        # A real venv: python3 -> /usr/bin/python3, python -> python3.
        bindir = os.path.dirname(interpreter)
        make_dir(os.path.dirname(bindir))
        make_dir(bindir)
        links = {"python3": "/usr/bin/python3", "python": "python3"}
        links.setdefault(os.path.basename(interpreter), "python3")
        for link, target in sorted(links.items()):
            path = os.path.join(bindir, link)
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(target, path)
    elif not os.access(interpreter, os.X_OK):
        raise SystemExit("seed: %s: interpreter %s is missing on the device" % (name, interpreter))


def install_binds(svc):
    """Source (packaged data, root) and target (under the service's state, its own) of
    each bind mount, so systemd can set up the unit's namespace."""
    name = svc["name"]
    for source, target, _read_only in svc["binds"]:
        make_dirs(source)
        make_dirs(target, owner=name, group=name, below="/var/lib/" + name)


def make_dirs(path, owner="root", group="root", below=None):
    """mkdir -p; the new directories (those under ``below`` when given) get owner/group."""
    missing = []
    cur = path
    while not os.path.isdir(cur):
        missing.append(cur)
        cur = os.path.dirname(cur)
    for directory in reversed(missing):
        if below and not (directory + "/").startswith(below.rstrip("/") + "/"):
            make_dir(directory)
        else:
            make_dir(directory, owner=owner, group=group)
    if below and (path + "/").startswith(below.rstrip("/") + "/"):
        make_dir(path, owner=owner, group=group)


def install_service(svc, spec):
    name = svc["name"]
    ensure_user(name, spec["device_group"])
    install_program(svc, spec)
    make_dir("/var/lib/" + name, owner=name, group=name)
    install_binds(svc)
    make_dir(HAILO_DIR)
    yaml_path = os.path.join(HAILO_DIR, name + ".yaml")
    write_file(yaml_path, svc["yaml"])
    xdg = os.path.join(XDG_DIR, name)
    make_dir(xdg)  # root's, 0755, as the installers (running as root) leave it
    json_path = os.path.join(xdg, name + ".json")
    if svc["json_copy"]:
        # Exactly what the installers' render_config.py does.
        with open(yaml_path, "r", encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        tmp = json_path + ".seed-tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(tmp, 0o644)
        os.chown(tmp, 0, 0)
        os.replace(tmp, json_path)
    elif os.path.exists(json_path):
        os.remove(json_path)
    unit = name + ".service"
    write_file(os.path.join(SYSTEMD_DIR, unit), svc["unit"])
    dropin_dir = os.path.join(SYSTEMD_DIR, unit + ".d")
    shutil.rmtree(dropin_dir, ignore_errors=True)
    for fname, content in sorted((svc.get("dropins") or {}).items()):
        write_file(os.path.join(dropin_dir, fname), content)


# --------------------------------------------------------------------------- today's installs
TODAY_UNITS = ("hailo-device-manager", "hailo-web-portal")
PORTAL_DIR = "/opt/hailo-web-portal"
MANAGER_DIR = "/opt/hailo-device-manager"
# What the portal's installer lets its user do (see the notes): any unit named hailo-*.
PORTAL_SUDOERS = "".join("hailo ALL=(root) NOPASSWD: /usr/bin/systemctl %s hailo-*\n" % verb
                         for verb in ("start", "stop", "restart", "enable", "disable"))


def make_venv(bindir):
    """A venv's bin directory: python3 -> /usr/bin/python3, python -> python3."""
    make_dir(os.path.dirname(bindir))
    make_dir(bindir)
    for link, target in (("python", "python3"), ("python3", "/usr/bin/python3")):
        path = os.path.join(bindir, link)
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(target, path)


def install_today(spec):
    """The device manager and the web portal as their installers leave them (root runs them):
    the manager's user and venv, the portal's folder copied whole and `chown -R hailo:hailo`,
    its sudoers file, and both units."""
    today = spec["today"]
    try:
        pwd.getpwnam("hailo-device-mgr")
    except KeyError:
        run("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
            "hailo-device-mgr")
    ensure_group("hailo")
    try:
        pwd.getpwnam("hailo")
    except KeyError:
        run("useradd", "--system", "--gid", "hailo", "--home-dir", PORTAL_DIR, "--no-create-home",
            "--shell", "/usr/sbin/nologin", "hailo")
    make_dir(MANAGER_DIR)
    write_file(os.path.join(MANAGER_DIR, "hailo_device_manager.py"), today["device_manager"])
    make_venv(os.path.join(MANAGER_DIR, "venv", "bin"))
    shutil.rmtree(PORTAL_DIR, ignore_errors=True)
    make_dir(PORTAL_DIR)
    for rel, content in sorted(today["web_portal"].items()):
        write_file(os.path.join(PORTAL_DIR, rel), content)
    make_venv(os.path.join(PORTAL_DIR, "venv", "bin"))
    run("chown", "-R", "-h", "hailo:hailo", PORTAL_DIR)
    write_file("/etc/sudoers.d/hailo-web-portal", PORTAL_SUDOERS, mode=0o440)
    for name, text in sorted(today["units"].items()):
        write_file(os.path.join(SYSTEMD_DIR, name + ".service"), text)


def start_today():
    run("systemctl", "enable", "--now", *[name + ".service" for name in TODAY_UNITS])
    wait_for("the device manager on 127.0.0.1:5099", lambda: port_open("127.0.0.1", 5099), 30)
    wait_for("the web portal to answer GET /api/status on 7860",
             lambda: http_status("0.0.0.0", 7860, "/api/status") == 200, 30)


def seed_firewall(spec):
    """ufw as a user who followed the services' docs leaves it: `ufw allow PORT/tcp` for each
    port, then enabled (the device needs the NET_ADMIN capability; the rules stay in its own
    network namespace, and loopback is always allowed by ufw's own rules)."""
    ports = spec.get("firewall_allow") or []
    if not ports:
        return None
    run("ufw", "--force", "reset")
    for port in ports:
        run("ufw", "allow", "%d/tcp" % int(port))
    run("ufw", "--force", "enable")
    return run("ufw", "show", "added").stdout.splitlines()[1:]


def write_faults(spec):
    # Only present when faults are wanted: a real device has no such directory.
    shutil.rmtree(FAULTS_DIR, ignore_errors=True)
    if not spec["faults"]:
        return
    make_dir(FAULTS_DIR)
    for name, fault in sorted(spec["faults"].items()):
        if isinstance(fault, list):
            fault = " ".join(str(f) for f in fault)
        write_file(os.path.join(FAULTS_DIR, name), "%s\n" % fault)


def set_load_seconds(spec):
    env = run("systemctl", "show-environment").stdout.split("\n")
    stale = [line.split("=", 1)[0] for line in env
             if line.startswith("HAILO_STANDIN_LOAD_SECONDS")]
    if stale:
        run("systemctl", "unset-environment", *stale)
    assignments = ["HAILO_STANDIN_LOAD_SECONDS=%s" % spec["load_seconds"]]
    for name, seconds in sorted(spec["load_seconds_per_service"].items()):
        var = "HAILO_STANDIN_LOAD_SECONDS_" + "".join(
            c if c.isalnum() else "_" for c in name.upper())
        assignments.append("%s=%s" % (var, seconds))
    run("systemctl", "set-environment", *assignments)


def expected_states(spec):
    """Decide, from the start order, which service ends up holding which port."""
    claimed = {l["port"]: l["name"] for l in spec["listeners"]}
    expect = {}
    for svc in spec["services"]:
        if svc["role"] == "standby":
            expect[svc["name"]] = {"state": "stopped"}
    for name in spec["start_order"]:
        svc = spec["by_name"][name]
        if fault_blocks(spec["faults"].get(name), svc["port"]):
            reason = "fault file"
        elif svc["port"] in claimed:
            reason = "port %d held by %s" % (svc["port"], claimed[svc["port"]])
        else:
            claimed[svc["port"]] = name
            expect[name] = {"state": "running"}
            continue
        state = "failed" if trips_start_limit(svc) else "crashloop"
        expect[name] = {"state": state, "reason": reason}
    return expect


def check_state(svc, expected):
    props = unit_props(svc["name"] + ".service")
    state = expected["state"]
    if state == "running":
        if props["ActiveState"] != "active":
            return False, props, "not active"
        code = http_status(svc["host"], svc["port"], svc["health"])
        return code == 200, props, "health %s -> %s" % (svc["health"], code)
    if state == "failed":
        # After the last automatic restart systemd logs "Start request repeated too quickly"
        # and leaves Result=exit-code; a refused manual start would say start-limit-hit.
        burst = start_limit(svc)[0]
        ok = props["ActiveState"] == "failed" and props["NRestarts"] >= burst - 1 and (
            props["Result"] in ("exit-code", "start-limit-hit"))
        return ok, props, "wants failed at the start limit (%d starts)" % burst
    if state == "crashloop":
        ok = props["NRestarts"] >= 1 and props["ActiveState"] != "active"
        return ok, props, "wants NRestarts>=1 and not active"
    ok = props["ActiveState"] in ("inactive", "failed") and props["NRestarts"] == 0
    return ok, props, "wants stopped"


def main(spec_path):
    with open(spec_path, "r", encoding="utf-8") as handle:
        spec = json.load(handle)
    spec["by_name"] = {s["name"]: s for s in spec["services"]}
    for svc in spec["services"]:
        server = (yaml.safe_load(svc["yaml"]) or {}).get("server") or {}
        svc["host"] = str(server.get("host") or "0.0.0.0")
        read_unit(svc)
    started = time.monotonic()

    reset(spec)
    ensure_group(spec["device_group"])
    for svc in spec["services"]:
        install_service(svc, spec)
    if spec.get("today"):
        install_today(spec)
    for listener in spec["listeners"]:
        write_file(os.path.join(SYSTEMD_DIR, listener["name"] + ".service"), listener["unit"])
    firewall = seed_firewall(spec)
    write_faults(spec)
    set_load_seconds(spec)
    run("systemctl", "daemon-reload")

    expect = expected_states(spec)
    if spec["listeners"]:
        units = [l["name"] + ".service" for l in spec["listeners"]]
        run("systemctl", "enable", "--now", *units)
        for listener in spec["listeners"]:
            wait_for("%s on port %d" % (listener["name"], listener["port"]),
                     lambda l=listener: port_open(l["host"], l["port"]), 30)
    if spec.get("today"):
        start_today()
    standby = [s["name"] + ".service" for s in spec["services"] if s["role"] == "standby"]
    if standby:
        run("systemctl", "disable", "--now", *standby)
    active = [name + ".service" for name in spec["start_order"]]
    if active:
        run("systemctl", "enable", *active)
    for name in spec["start_order"]:
        svc = spec["by_name"][name]
        run("systemctl", "start", name + ".service")
        if expect[name]["state"] == "running":
            wait_for("%s to bind port %d" % (name, svc["port"]),
                     lambda s=svc: port_open(s["host"], s["port"]), 30)
    log("started %d services in %.1fs; waiting for the seeded state"
        % (len(spec["start_order"]), time.monotonic() - started))

    deadline = time.monotonic() + float(spec["wait_timeout"])
    while True:
        report, pending = {}, []
        for svc in spec["services"]:
            ok, props, detail = check_state(svc, expect[svc["name"]])
            report[svc["name"]] = dict(expect[svc["name"]], port=svc["port"], ok=ok,
                                       active_state=props["ActiveState"],
                                       sub_state=props["SubState"], result=props["Result"],
                                       restarts=props["NRestarts"])
            if not ok:
                pending.append("%s (%s; %s/%s result=%s restarts=%d)" % (
                    svc["name"], detail, props["ActiveState"], props["SubState"],
                    props["Result"], props["NRestarts"]))
        if not pending:
            break
        if time.monotonic() > deadline:
            raise SystemExit("seed: the seeded state was not reached within %ss:\n  %s"
                             % (spec["wait_timeout"], "\n  ".join(pending)))
        time.sleep(0.5)

    listeners = run("ss", "-H", "-ltn", check=False).stdout
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "services": report,
        "listeners": sorted(set(line.split()[3] for line in listeners.splitlines() if line.split())),
        "firewall": firewall,
    }
    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    log("seeded state reached in %.1fs" % summary["seconds"])
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: seed_device.py SPEC.json")
    sys.exit(main(sys.argv[1]))
