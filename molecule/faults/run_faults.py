"""Drive the fault cases of the ``faults`` scenario against its one device.

    run_faults.py INVENTORY_DIR OUT_DIR

Every case runs ``playbooks/reconcile.yml`` as a user would, with one fault injected. After it
the device is left alone until it holds no journal (its revert timer has fired, or nothing was
pending), then its files, links and listeners are recorded. The cases run in order on the same
device: each starts from the old map, since each fault must end there or on the new map, and
the last one (a change left by a killed module, re-run before its timer fires) must converge.
Writes OUT_DIR/results.json (read by tests/test_faults.py) and prints the table of faults.
"""
import json
import os
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEVICE = "hailo-faults-pi1"
JOURNAL_DIR = "/var/lib/hailo-services/transaction"
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SETTINGS = {
    # The test-only standby service of the group vars, and a unit setting, so that each change
    # also writes a unit (hailo-ollama's) and has a units_written stage.
    "reconcile_services": {"hailo-standby-test": {"port": 5010, "state": "standby"},
                           "hailo-ollama": {"unit": {"Service": {"MemoryMax": "6G"}}}},
    "reconcile_health_timeout": 15,
    "reconcile_confirm_timeout": 5,
    "reconcile_transaction_timeout": 40,
    # hailo-pose's config is linked into /opt/hailo-configs (root's): follow that link.
    "reconcile_allow_root_symlinks": True,
}
POSE_LINK, POSE_TARGET = "/etc/hailo/hailo-pose.yaml", "/opt/hailo-configs/hailo-pose.yaml"

# Runs on the device: every Hailo file's SHA-256, the symlinks, the journal, and which unit
# listens on which TCP port (from /proc, as the collection's own discovery is not the judge).
STATE = r'''
import hashlib, json, os, re
out = {"files": {}, "links": {}, "listeners": {}, "journal": os.path.exists("%(journal)s/journal.json")}
roots = ["/etc/hailo", "/etc/xdg", "/etc/systemd/system", "/opt/hailo-configs"]
for root in roots:
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != "standin-faults"]
        for f in files:
            p = os.path.join(d, f)
            if root == "/etc/systemd/system" and "hailo" not in p:
                continue
            if os.path.islink(p):
                out["links"][p] = os.readlink(p)
            with open(p, "rb") as h:
                out["files"][p] = hashlib.sha256(h.read()).hexdigest()
inodes = {}
for name in ("tcp", "tcp6"):
    with open("/proc/net/" + name) as h:
        for line in h.readlines()[1:]:
            f = line.split()
            if f[3] == "0A":
                inodes[f[9]] = int(f[1].split(":")[1], 16)
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fds = os.listdir("/proc/%%s/fd" %% pid)
        with open("/proc/%%s/cgroup" %% pid) as h:
            unit = (re.findall(r"/([^/]+\.service)", h.read()) or ["?"])[-1]
    except OSError:
        continue
    for fd in fds:
        try:
            link = os.readlink("/proc/%%s/fd/%%s" %% (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m and m.group(1) in inodes:
            out["listeners"][str(inodes[m.group(1)])] = unit
print(json.dumps(out))
''' % {"journal": JOURNAL_DIR}

TRICKLER = r'''
import socket, threading, time
def serve(conn):
    try:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100000:
            conn.send(bytes([byte])); time.sleep(0.5)
    except OSError:
        pass
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 11439)); s.listen(16)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
'''


def device(command, check=True, stdin=None):
    proc = subprocess.run(["podman", "exec", "-i", DEVICE, "sh", "-c", command], input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s: %s %s" % (command, proc.stdout, proc.stderr))
    return proc.stdout


def state():
    return json.loads(device("python3 -", stdin=STATE))


def hailo_listeners(snapshot):
    return dict((port, unit) for port, unit in snapshot["listeners"].items() if unit.startswith("hailo-"))


def wait_for(command, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if subprocess.run(["podman", "exec", DEVICE, "sh", "-c", command], capture_output=True,
                          check=False).returncode == 0:
            return True
        time.sleep(0.5)
    return False


def settle():
    """Until the device holds no journal (its revert timer fired) and its services settled."""
    settled = wait_for("! test -e %s/journal.json" % JOURNAL_DIR, 180)
    time.sleep(6)  # a crash-looping loser restarts every 5 s
    return settled


def run(out_dir, case, extra=None, fault=None, on_fault=None, args=()):
    """Run the rollout with one fault; return what happened, before the device settles."""
    report_dir = os.path.join(out_dir, case)
    settings = dict(SETTINGS, reconcile_report_dir=report_dir, **(extra or {}))
    device("rm -f %s/fault-reached; mkdir -p %s" % (JOURNAL_DIR, JOURNAL_DIR))
    if fault:
        device("echo '%s' > %s/.fault-injection" % (fault, JOURNAL_DIR))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    log = open(os.path.join(out_dir, case + ".log"), "w")
    start = time.time()
    proc = subprocess.Popen([PLAYBOOK, "-i", INVENTORY, os.path.join(REPO, "playbooks", "reconcile.yml"),
                             "-e", json.dumps(settings)] + list(args), cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    acted = None
    if on_fault:
        if wait_for("test -e %s/fault-reached" % JOURNAL_DIR, 180):
            acted = on_fault(proc)
        else:
            acted = "the fault stage was never reached"
    rc = proc.wait(timeout=900)
    log.close()
    elapsed = time.time() - start
    with open(os.path.join(out_dir, case + ".log")) as handle:
        output = handle.read()
    report = None
    path = os.path.join(report_dir, "fleet-rollout.json")
    if os.path.exists(path):
        with open(path) as handle:
            report = json.load(handle)
    return {"case": case, "rc": rc, "seconds": round(elapsed, 1), "acted": acted, "report": report,
            "output_tail": output[-3000:]}


def kill_controller(proc):
    os.killpg(proc.pid, signal.SIGKILL)  # ansible-playbook, its workers and their podman clients
    return "controller killed"


def pause_device(proc):
    subprocess.run(["podman", "pause", DEVICE], check=True)
    proc.wait(timeout=600)  # the controller gives up: task timeout, revert timed out
    time.sleep(10)  # and the confirmation window passes while the device is cut off
    subprocess.run(["podman", "unpause", DEVICE], check=True)
    return "device paused until the controller gave up"


def main():
    global INVENTORY
    INVENTORY, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    # hailo-pose's config is a symlink in every case (a rollback must keep the link).
    device("mkdir -p /opt/hailo-configs && mv %s %s && ln -s %s %s" % (POSE_LINK, POSE_TARGET, POSE_TARGET, POSE_LINK))
    settle()
    old = state()
    cases = []

    def record(result, fault_name, settled=None):
        settled = settle() if settled is None else settled
        result["after"] = state()
        result["settled"] = settled
        result["fault"] = fault_name
        cases.append(result)
        print("%-16s rc=%-3s %6.1f s  %s" % (result["case"], result["rc"], result["seconds"], fault_name), flush=True)

    def look(after_case):
        """A plan-only run: it changes nothing and reports what the device did by itself."""
        record(run(out_dir, "look-" + after_case, args=["--tags", "plan"]), "none: --tags plan after " + after_case)

    for stage in ("configs_written", "units_written", "restarted-1", "checking"):
        record(run(out_dir, "kill-" + stage, fault="%s 12" % stage, on_fault=kill_controller),
               "controller killed (SIGKILL) at stage " + stage)
        look("kill-" + stage)

    record(run(out_dir, "connection-lost", extra={"reconcile_transaction_timeout": 25},
               fault="units_written 8", on_fault=pause_device),
           "connection lost (podman pause) at stage units_written, resumed after the confirm timeout")
    look("connection-lost")

    device("mkdir -p /etc/hailo/standin-faults && echo 11439 > /etc/hailo/standin-faults/hailo-depth")
    record(run(out_dir, "cannot-bind"), "hailo-depth cannot bind its new port")

    record(run(out_dir, "backup-false", extra={"reconcile_backup": False}),
           "reconcile_backup false, hailo-depth cannot bind")

    def start_trickler(proc):
        device("systemd-run --unit=fault-trickler python3 -c %s" % _quote(TRICKLER))
        return "a peer on 11439 trickles one byte every 0.5 s"
    record(run(out_dir, "trickling-peer", fault="armed 5", on_fault=start_trickler),
           "a health peer that trickles bytes on hailo-depth's new port")
    device("systemctl stop fault-trickler; rm -f /etc/hailo/standin-faults/hailo-depth")

    device("chattr +i /etc/xdg/hailo-depth/hailo-depth.json")
    record(run(out_dir, "immutable-json"), "immutable JSON copy of hailo-depth")
    device("chattr -i /etc/xdg/hailo-depth/hailo-depth.json")

    # The module killed on the device right after the configs are written: the journal stays,
    # its timer is armed; the next run comes before the timer and must revert it, then converge.
    def kill_both(proc):
        os.killpg(proc.pid, signal.SIGKILL)
        device("pkill -9 -f AnsiballZ_port_transaction", check=False)
        return "controller and module killed"
    killed = run(out_dir, "module-killed", fault="configs_written 30", on_fault=kill_both)
    killed["journal_left"] = wait_for("test -e %s/journal.json" % JOURNAL_DIR, 5)
    record(killed, "controller and device-side module killed at stage configs_written", settled=False)
    record(run(out_dir, "next-run"), "none: the run after the killed module, before its timer")
    record(run(out_dir, "no-op"), "none: a re-run")

    with open(os.path.join(out_dir, "results.json"), "w") as handle:
        json.dump({"old": old, "cases": cases}, handle, indent=1)


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


if __name__ == "__main__":
    main()
