"""Read a test device's state for the testinfra verifiers, in ONE call.

Each call through the podman connection costs about a second, so the scenarios' tests ask for
everything they check at once and then assert on the returned data.
"""
import json
import shlex

# Runs on the device with its python3; the spec comes as argv[1], one JSON document goes out.
_SCRIPT = r'''
import glob, json, os, subprocess, sys, urllib.request
spec = json.loads(sys.argv[1])
def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True)
out = {"ss": run("ss", "-Hltnp").stdout, "units": {}, "backups": {}, "files": {}, "health": {}}
for name in spec["services"]:
    show = run("systemctl", "show", "-p", "MainPID,ActiveState,SubState,User,NRestarts", name).stdout
    out["units"][name] = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    out["backups"][name] = [open(b).read() for b in sorted(glob.glob("/etc/hailo/%s.yaml.*" % name))]
for path in spec["files"]:
    out["files"][path] = open(path).read() if os.path.exists(path) else None
for name, (port, path) in spec["health"].items():
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10).read()
        out["health"][name] = json.loads(body)
    except Exception as exc:
        out["health"][name] = {"error": str(exc)}
if spec["snapshot"]:
    # What snapshot.yml recorded before the run, and how the files compare with it now.
    sums = run("sha256sum", "--quiet", "-c", "/root/hailo-files.sha256")
    out["snapshot"] = {
        "mismatches": sums.stdout, "intact": sums.returncode == 0,
        "seeded": open("/root/hailo-files.list").read().split(),
        "now": run("sh", "-c", "{ find /etc/hailo /etc/xdg /etc/systemd/system /opt -path '*hailo*'"
                               " -not -path '*/__pycache__/*' -type f;"
                               " find /etc/ufw -maxdepth 1 -name 'user*.rules' -type f 2>/dev/null; } | sort").stdout.split()}
    pids = {}
    for block in open("/root/hailo-pids.txt").read().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id", "").endswith(".service"):
            pids[props["Id"][:-len(".service")]] = int(props.get("MainPID") or 0)
    out["snapshot"]["pids"] = pids
print(json.dumps(out))
'''


def health_paths(ports):
    """name -> (port, health path) for the services in ``ports`` (name -> port)."""
    return {name: (port, "/api/version" if name == "hailo-ollama" else "/health")
            for name, port in ports.items()}


def read_device(host, services=(), files=(), health=None, snapshot=False):
    """Units, config backups, file contents, health bodies, listeners (port -> set of pids) and,
    with ``snapshot``, how the service files compare with the scenario's snapshot and the main
    PIDs it recorded (``snapshot["pids"]``, service -> pid)."""
    spec = {"services": list(services), "files": list(files), "health": health or {},
            "snapshot": snapshot}
    with host.sudo():  # a scenario may connect as a normal user, as to a real device
        state = json.loads(host.check_output(
            "python3 -c %s %s" % (shlex.quote(_SCRIPT), shlex.quote(json.dumps(spec)))))
    state["listeners"] = {}
    for line in state["ss"].splitlines():
        port = int(line.split()[3].rsplit(":", 1)[1])
        for part in line.split("pid=")[1:]:
            state["listeners"].setdefault(port, set()).add(int(part.split(",")[0]))
    return state
