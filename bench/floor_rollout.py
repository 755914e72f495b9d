"""The floor of a device rollout: only the work the rollout cannot avoid, in one process.

On a device (bench/floor.yml runs it there with ansible.builtin.script):
    floor_rollout.py '{"moves": [...], "restart": [...], "probe": [...], "timeout": 90}'
  0. with a change to make, the durable work of the rollout's transaction: the journal
     directory's lock (flock), a journal of every file's old bytes (written and fsynced, then
     the directory), and a revert timer armed with systemd-run (disarmed at the end);
  1. for each move {service, from, to}: rewrite server.port in /etc/hailo/<service>.yaml (a
     text substitution of the port value) and in /etc/xdg/<service>/<service>.json when it
     exists (json load/dump, indent=2), each written to a temporary file, fsynced, renamed
     over the old one, and its directory fsynced;
  2. systemctl reset-failed + systemctl restart of the `restart` services (one call each; a
     loser of a shared port may sit at its start limit, and the rollout resets it too);
  3. GET each `probe` {name, port, path} on 127.0.0.1, all at once, every 0.5 s, until each
     answers 200 or the one deadline passes.
  4. with a change, the journal is removed (the confirmation) and the timer stopped.
  Prints a JSON summary; exits 1 when an edit, the restart or a probe fails.

On the controller (bench/bench_fleet.sh), with the venv's python (PyYAML):
    floor_rollout.py args PLAN.json CATALOG.yml [--noop]
  prints {host: argument} from a plan written by playbooks/plan.yml: per device the plan's
  moves and restarts (none with --noop: the devices are already on the map) and the services
  the rollout health-checks (every service found on the device but stopped standby ones, at
  its fleet-map port, on the catalog's health_path).
    floor_rollout.py check ARGS.json REPORT.json
  compares those arguments with a rollout's fleet report (moves, restarts, health checks)
  and exits 1 naming each difference: the floor must do what the rollout did.
"""

import fcntl
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CONFIG_DIR = "/etc/hailo"
JSON_DIR = "/etc/xdg"
HOST = "127.0.0.1"
INTERVAL = 0.5
DEFAULT_PATHS = {"hailo-ollama": "/api/version"}
JOURNAL_DIR = "/var/lib/hailo-services/floor"
TIMER = "hailo-floor-revert"


def fsync_dir(path):
    handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_durably(path, text):
    """As the transaction writes: a temporary file, fsynced, renamed over, the directory fsynced."""
    temporary = "%s.floor-%d" % (path, os.getpid())
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temporary, path)
    fsync_dir(os.path.dirname(path))


def journal(paths):
    """The old bytes of every file the change writes, on disk before the first write."""
    entries = []
    for path in paths:
        try:
            with open(path) as handle:
                entries.append({"path": path, "old": handle.read()})
        except FileNotFoundError:
            pass
    write_durably(os.path.join(JOURNAL_DIR, "journal.json"), json.dumps(entries))


# --- on the device -------------------------------------------------------------------------

def move_port(service, old, new):
    """Rewrite server.port from old to new in the YAML and in its JSON copy, if any."""
    path = "%s/%s.yaml" % (CONFIG_DIR, service)
    with open(path) as handle:
        text = handle.read()
    # The first `port:` holding the old value; other port keys (a registry's 443) differ.
    text, count = re.subn(r"(\bport\s*:\s*[\"']?)%d\b" % old, r"\g<1>%d" % new, text, count=1)
    if count != 1:
        raise RuntimeError("%s: no port %d to move" % (path, old))
    write_durably(path, text)
    json_path = "%s/%s/%s.json" % (JSON_DIR, service, service)
    try:
        with open(json_path) as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return [path]
    data["server"]["port"] = new
    write_durably(json_path, json.dumps(data, indent=2))
    return [path, json_path]


def probe(service, port, path, deadline, out):
    url = "http://%s:%d%s" % (HOST, port, path)
    attempts, last = 0, None
    while True:
        attempts += 1
        remaining = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=max(remaining, 0.1)) as answer:
                last = answer.status
        except urllib.error.HTTPError as exc:
            last = exc.code
        except (OSError, ValueError) as exc:
            last = str(exc)
        if last == 200:
            out[service] = {"ok": True, "attempts": attempts}
            return
        if time.monotonic() + INTERVAL > deadline:
            out[service] = {"ok": False, "attempts": attempts, "last": last, "url": url}
            return
        time.sleep(INTERVAL)


def run_device(arg):
    start = time.monotonic()
    written = []
    moves = arg.get("moves", [])
    lock = None
    if moves:
        os.makedirs(JOURNAL_DIR, mode=0o700, exist_ok=True)
        lock = os.open(JOURNAL_DIR, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(lock, fcntl.LOCK_EX)
        journal(["%s/%s.yaml" % (CONFIG_DIR, m["service"]) for m in moves]
                + ["%s/%s/%s.json" % (JSON_DIR, m["service"], m["service"]) for m in moves])
        subprocess.run(["systemd-run", "--quiet", "--unit", TIMER, "--on-active=600", "/bin/true"], check=True)
    for move in moves:
        written += move_port(move["service"], move["from"], move["to"])
    restart = arg.get("restart", [])
    if restart:
        subprocess.run(["systemctl", "reset-failed"] + restart, check=True)
        subprocess.run(["systemctl", "restart"] + restart, check=True)
    restarted_at = time.monotonic()
    deadline = restarted_at + float(arg.get("timeout", 90))
    health = {}
    threads = [threading.Thread(target=probe, args=(p["name"], p["port"], p["path"], deadline, health))
               for p in arg.get("probe", [])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unhealthy = sorted(name for name, result in health.items() if not result["ok"])
    if lock is not None:  # the confirmation: the journal goes, the timer is stopped
        os.unlink(os.path.join(JOURNAL_DIR, "journal.json"))
        fsync_dir(JOURNAL_DIR)
        subprocess.run(["systemctl", "stop", TIMER + ".timer"], check=False)
        os.close(lock)
    print(json.dumps({
        "written": written,
        "restarted": restart,
        "healthy": sorted(name for name, result in health.items() if result["ok"]),
        "unhealthy": {name: health[name] for name in unhealthy},
        "edit_restart_seconds": round(restarted_at - start, 2),
        "probe_seconds": round(time.monotonic() - restarted_at, 2),
    }))
    return 1 if unhealthy else 0


# --- on the controller ---------------------------------------------------------------------

def floor_args(plan_file, catalog_file, noop):
    import yaml  # the controller's venv has it; the device mode needs none

    with open(plan_file) as handle:
        plan = json.load(handle)
    with open(catalog_file) as handle:
        catalog = yaml.safe_load(handle)["reconcile_default_services"]
    fleet_map = plan["fleet_map"]
    args = {}
    for host, device in sorted(plan["devices"].items()):
        probes = []
        for name in sorted(device["seen"]):
            spec = catalog.get(name) or {}
            # A standby service is checked only when it runs; the bench seeds none that runs.
            if spec.get("state") == "standby":
                continue
            probes.append({"name": name, "port": fleet_map[name],
                           "path": spec.get("health_path") or DEFAULT_PATHS.get(name, "/health")})
        args[host] = {
            "moves": [] if noop else device["moves"],
            "restart": [] if noop else device["restart"],
            "probe": probes,
            "timeout": 90,
        }
    return args


def check(args_file, report_file):
    with open(args_file) as handle:
        args = json.load(handle)
    with open(report_file) as handle:
        report = json.load(handle)
    problems = []
    for host, device in sorted(report["devices"].items()):
        floor = args.get(host)
        if floor is None:
            problems.append("%s: in the rollout, not in the floor" % host)
            continue
        moves = sorted((p["service"], p["old"], p["new"]) for p in device.get("ports") or ()
                       if p["old"] != p["new"])
        pairs = [
            ("moves", moves, sorted((m["service"], m["from"], m["to"]) for m in floor["moves"])),
            ("restarts", sorted(device.get("restarted") or ()), sorted(floor["restart"])),
            ("health checks", sorted(device.get("health") or ()), sorted(p["name"] for p in floor["probe"])),
        ]
        for what, rollout, ours in pairs:
            if rollout != ours:
                problems.append("%s: %s differ: rollout %s, floor %s" % (host, what, rollout, ours))
    for host in sorted(set(args) - set(report["devices"])):
        problems.append("%s: in the floor, not in the rollout" % host)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "args":
        print(json.dumps(floor_args(argv[1], argv[2], "--noop" in argv[3:]), indent=2))
        return 0
    if len(argv) == 3 and argv[0] == "check":
        return check(argv[1], argv[2])
    if len(argv) == 1:
        return run_device(json.loads(argv[0]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
