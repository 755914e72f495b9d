"""Drive the fault cases of the ``faults`` scenario against its one device.

    run_faults.py INVENTORY_DIR OUT_DIR

Every case runs ``playbooks/reconcile.yml`` as a user would, with one fault injected from
outside: the product holds no test hook. A watcher started on the device (``podman exec``)
polls the change's journal every millisecond; when its ``stage`` is the case's, it stops the
device-side module (the python running ``AnsiballZ_port_transaction.py``) with SIGSTOP and
says so. With the module held at that stage the test kills the controller (``os.killpg``),
kills the module by its PID, pauses the device (``podman pause``), starts a rogue listener, or
cuts the device's power (``podman kill``); then it resumes the module (SIGCONT) where the
fault leaves it alive. What is slow in real life is made slow from outside, never caught by
luck: the stand-ins' model-load time (``HAILO_STANDIN_LOAD_SECONDS_<SERVICE>`` in systemd's
manager environment). A stage that is never reached, or that the module had already left when
the SIGSTOP landed, is recorded as such and fails the verifier.

After each case the device is left alone until it holds no journal (its revert timer fired, or
nothing was pending), then its files, links, listeners and answers are recorded. The cases run
in order on the same device:

* the point-6 cases (``faults``) start from the seeded, old map; each must end there or on the
  new map, never between; the last of them converge onto the new map;
* the power-loss cases (``power-loss``) and the two-rollouts cases (``lease``) start from the
  converged map and move hailo-depth once more (its port becomes reserved): that map has no
  shared port, so after a reboot every service comes back where it was, which the seeded map
  cannot promise (its losers race its keepers at boot).

``FAULT_GROUPS`` (comma-separated, default ``faults,power-loss,lease``) selects the groups.
Writes OUT_DIR/results.json (read by tests/test_faults.py) and prints the table of faults.
"""
import json
import os
import select
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEVICE = "hailo-faults-pi1"
JOURNAL_DIR = "/var/lib/hailo-services/transaction"
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
GROUPS = ("faults", "power-loss", "lease")
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
# The power-loss and lease cases: hailo-depth (a service that loads a model) moves because its
# port becomes reserved; its model load is slowed from outside so the change stays in flight.
RESERVED = [5099, 7860]  # the collection's default reserved ports
SLOW_SETTINGS = dict(SETTINGS, reconcile_health_timeout=120, reconcile_transaction_timeout=200)
DEPTH_LOAD = "HAILO_STANDIN_LOAD_SECONDS_HAILO_DEPTH"
POSE_LINK, POSE_TARGET = "/etc/hailo/hailo-pose.yaml", "/opt/hailo-configs/hailo-pose.yaml"

# Runs on the device: every Hailo file's SHA-256, the symlinks, the journal, which unit listens
# on which TCP port (from /proc, as the collection's own discovery is not the judge), and the
# HTTP status each Hailo listener answers (/health, or /api/version for hailo-ollama).
STATE = r'''
import hashlib, http.client, json, os, re
J = "%(journal)s"
out = {"files": {}, "links": {}, "listeners": {}, "answers": {},
       "journal": os.path.exists(J + "/journal.json"), "last_revert": None, "lease": None}
for name, key in (("last-revert.json", "last_revert"), ("lease.json", "lease")):
    try:
        with open(os.path.join(J, name)) as h:
            out[key] = json.load(h)
    except (OSError, ValueError):
        pass
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
for port, unit in out["listeners"].items():
    if not unit.startswith("hailo-"):
        continue
    path = "/api/version" if unit == "hailo-ollama.service" else "/health"
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=3)
        conn.request("GET", path)
        out["answers"][port] = conn.getresponse().status
        conn.close()
    except (OSError, http.client.HTTPException) as err:
        out["answers"][port] = "no answer: %%s" %% err
print(json.dumps(out))
''' % {"journal": JOURNAL_DIR}

# Runs on the device: waits until the change's journal reaches a stage, then (mode "stop")
# SIGSTOPs the module so the test can act at that stage, or (mode "observe") only reports it.
# "restarted-N" is the journal's stage "restarting" once the module's N-th
# `systemctl restart <unit>` child has finished: the module is stopped as soon as that child
# appears, so it cannot start the next one. It prints one JSON line when ready, one verdict.
WATCHER = r'''
import json, os, signal, sys, time
path, want, seconds, mode = sys.argv[1] + "/journal.json", sys.argv[2], float(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + seconds
stage = "restarting" if want.startswith("restarted-") else want

def say(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()

def argv_of(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as h:
        return [a.decode("utf-8", "replace") for a in h.read().split(b"\0") if a]

def stat_of(pid):  # (state letter, parent pid)
    with open("/proc/%d/stat" % pid) as h:
        fields = h.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])

def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]

def module_pids():
    """The python processes running port_transaction (not a fork of one that has not exec'd yet)."""
    found = {}
    for pid in all_pids():
        try:
            argv = argv_of(pid)
            if argv and "python" in os.path.basename(argv[0]) and any(
                    a.endswith("/AnsiballZ_port_transaction.py") for a in argv[1:]):
                found[pid] = stat_of(pid)[1]
        except (OSError, IndexError, ValueError):
            continue
    return sorted(pid for pid, parent in found.items() if parent not in found)

def children(parent):
    out = []
    for pid in all_pids():
        try:
            state, ppid = stat_of(pid)
            if ppid == parent:
                out.append((pid, state, argv_of(pid)))
        except (OSError, IndexError, ValueError):
            continue
    return out

cache = [None, None]
def journal():
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    if key != cache[0]:
        try:
            with open(path) as h:
                cache[1] = json.load(h)
            cache[0] = key
        except (OSError, ValueError):
            return None
    return cache[1]

def stopped(pids):
    """Wait until every SIGSTOPped pid is really stopped (or gone)."""
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            if all(stat_of(p)[0] in "tT" for p in pids):
                return True
        except (OSError, IndexError, ValueError):
            return False
        time.sleep(0.001)
    return False

say(ready=True, pid=os.getpid())
seen, mods = [], []
while True:
    j = journal()
    if j is not None and (not seen or seen[-1] != j.get("stage")):
        seen.append(j.get("stage"))
    if j is not None and j.get("stage") == stage:
        break
    if time.monotonic() > deadline:
        say(reached=False, caught=False, seen=seen, why="stage %s not reached within %d s" % (want, seconds))
        sys.exit(1)
    if j is None:
        time.sleep(0.001)
    else:
        # A change is under way: know its module before its stage comes (a /proc scan takes
        # milliseconds, the gap between two stages can be less), then poll without sleeping.
        if not mods:
            mods = module_pids()
        os.sched_yield()
verdict = dict(reached=True, stage=want, id=j.get("id"), seen=seen, pids=[])
if mode == "observe":
    say(caught=True, **verdict)
    sys.exit(0)

if want.startswith("restarted-"):
    n = int(want.split("-")[1])
    order = [name + ".service" for name in j.get("restart") or []]
    unit, after = order[n - 1], (order[n] if len(order) > n else None)
    mods, child, why = mods or module_pids(), None, None
    while child is None and why is None:
        for mod in mods:
            for pid, state, argv in children(mod):
                if argv[:1] and os.path.basename(argv[0]) == "systemctl" and argv[1:] == ["restart", unit]:
                    os.kill(mod, signal.SIGSTOP)
                    child = pid
                elif after and argv[1:] == ["restart", after]:
                    why = "the module was already restarting %s" % after
        now = journal()
        if child is None and now is not None and now.get("stage") != stage:
            why = "the module had already left stage restarting (now %s)" % now.get("stage")
        if time.monotonic() > deadline:
            why = why or "no `systemctl restart %s` child within %d s" % (unit, seconds)
        time.sleep(0.001)
    if child is None:
        for mod in mods:
            os.kill(mod, signal.SIGSTOP)
    verdict["pids"] = mods
    # The stopped module cannot fork its next restart; wait for this one to finish.
    end = time.monotonic() + 60
    while child is not None and time.monotonic() < end:
        try:
            if stat_of(child)[0] in "ZX":
                break
        except (OSError, IndexError, ValueError):
            break
        time.sleep(0.01)
    else:
        why = why or "`systemctl restart %s` did not finish" % unit
    verdict.update(caught=why is None and stopped(mods), why=why, restarted=unit)
    say(**verdict)
    sys.exit(0)

for mod in mods:
    try:
        os.kill(mod, signal.SIGSTOP)
    except OSError:  # a module of an earlier call that has ended: find the one at work
        mods = []
        break
if not mods:
    mods = module_pids()
    for mod in mods:
        os.kill(mod, signal.SIGSTOP)
verdict["pids"] = mods
held = stopped(mods) if mods else False
now = journal()
still = now is not None and now.get("stage") == stage
verdict["caught"] = bool(mods) and held and still
verdict["why"] = (None if verdict["caught"] else "no module process found" if not mods else
                  "the module did not stop" if not held else
                  "the module had already left stage %s (now %s)" % (stage, now and now.get("stage")))
say(**verdict)
'''

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


def device(command, check=True, stdin=None, timeout=120):
    proc = subprocess.run(["podman", "exec", "-i", DEVICE, "sh", "-c", command], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("%s: %s %s" % (command, proc.stdout, proc.stderr))
    return proc.stdout


def state():
    return json.loads(device("python3 -", stdin=STATE))


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


class Watch(object):
    """The WATCHER on the device, started before the run so that no stage goes by unseen."""

    def __init__(self, stage, mode="stop", seconds=300):
        self.stage = stage
        self.proc = subprocess.Popen(["podman", "exec", DEVICE, "python3", "-c", WATCHER, JOURNAL_DIR, stage,
                                      str(seconds), mode], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.buffer = b""
        hello = self._line(60)
        if not hello or not hello.get("ready"):
            raise RuntimeError("the watcher did not start on %s: %r" % (DEVICE, hello))
        self.pid = hello["pid"]

    def _line(self, seconds, run=None):
        """The watcher's next line; None when ``run`` (the controller) ends first or time is up."""
        deadline = time.time() + seconds
        while b"\n" not in self.buffer:
            ended = time.time() > deadline or (run is not None and run.poll() is not None)
            ready, dummy, dummy2 = select.select([self.proc.stdout], [], [], 0 if ended else 0.5)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buffer += chunk
            elif ended:
                return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))

    def verdict(self, run, seconds=300):
        """What the watcher saw; if the run ends before its stage, the watcher is stopped."""
        seen = self._line(seconds, run)
        if seen is None:
            device("kill %d" % self.pid, check=False)
            self.proc.wait(timeout=30)
            return {"reached": False, "caught": False,
                    "why": "the run ended (rc %s) before stage %s" % (run.poll(), self.stage)}
        self.proc.wait(timeout=30)
        return seen


def resume(pids):
    """SIGCONT the held module: it carries on as a device-side process whose controller died would."""
    if pids:
        device("kill -CONT %s" % " ".join(str(pid) for pid in pids), check=False)


class Run(object):
    """One ansible-playbook run of playbooks/reconcile.yml, in its own session (os.killpg)."""

    def __init__(self, out_dir, case, settings=None, extra=None, args=()):
        self.case, self.out_dir = case, out_dir
        self.report_dir = os.path.join(out_dir, case)
        merged = dict(settings or SETTINGS, reconcile_report_dir=self.report_dir, **(extra or {}))
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
        self.log = open(os.path.join(out_dir, case + ".log"), "w")
        self.start = time.time()
        self.proc = subprocess.Popen([PLAYBOOK, "-i", INVENTORY, os.path.join(REPO, "playbooks", "reconcile.yml"),
                                      "-e", json.dumps(merged)] + list(args), cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    def poll(self):
        return self.proc.poll()

    def finish(self, timeout=900):
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        elapsed = time.time() - self.start
        with open(os.path.join(self.out_dir, self.case + ".log")) as handle:
            output = handle.read()
        report = None
        path = os.path.join(self.report_dir, "fleet-rollout.json")
        if os.path.exists(path):
            with open(path) as handle:
                report = json.load(handle)
        return {"case": self.case, "rc": rc, "seconds": round(elapsed, 1), "ended": time.time(),
                "report": report, "output_tail": output[-3000:], "output": output}


def run(out_dir, case, settings=None, extra=None, watch=None, on_fault=None, args=()):
    """Run the rollout; with ``watch`` (a stage), ``on_fault(run, verdict)`` acts once the
    watcher holds the module there. Returns what happened, before the device settles."""
    watcher = Watch(watch) if watch else None
    proc = Run(out_dir, case, settings, extra, args)
    acted, verdict = None, None
    if watcher:
        verdict = watcher.verdict(proc)
        if verdict.get("reached"):
            acted = on_fault(proc, verdict)  # acts even on a stage missed by a hair: the device then
            # still ends somewhere, and the verdict (caught false) fails the case in the verifier
        else:
            acted = "the fault stage was never reached: %s" % verdict.get("why")
    result = proc.finish()
    result.update(acted=acted, watch=verdict)
    return result


def kill_controller(proc, verdict):
    os.killpg(proc.pid, signal.SIGKILL)  # ansible-playbook, its workers and their podman clients
    resume(verdict["pids"])
    return "controller killed"


def pause_device(proc, verdict):
    subprocess.run(["podman", "pause", DEVICE], check=True)
    proc.proc.wait(timeout=600)  # the controller gives up: task timeout, revert timed out
    time.sleep(10)  # and the confirmation window passes while the device is cut off
    subprocess.run(["podman", "unpause", DEVICE], check=True)
    resume(verdict["pids"])
    return "device paused until the controller gave up"


def set_load(seconds):
    """hailo-depth's model-load time, for the units started from now on (systemd's manager env)."""
    if seconds is None:
        device("systemctl unset-environment %s" % DEPTH_LOAD, check=False)
    else:
        device("systemctl set-environment %s=%d" % (DEPTH_LOAD, seconds))


def depth_ports():
    """hailo-depth's server.port in its YAML and in its JSON copy."""
    return json.loads(device("python3 -c %s" % _quote(
        "import json, yaml\n"
        "y = yaml.safe_load(open('/etc/hailo/hailo-depth.yaml'))['server']['port']\n"
        "j = json.load(open('/etc/xdg/hailo-depth/hailo-depth.json'))['server']['port']\n"
        "print(json.dumps({'yaml': y, 'json': j}))")))


def units_now():
    """Every unit systemd knows (name only), to see what the collection names its units."""
    return device("systemctl list-units --all --plain --no-legend --no-pager | awk '{print $1}'",
                  check=False).split()


def main():
    global INVENTORY
    INVENTORY, out_dir = sys.argv[1], sys.argv[2]
    groups = [g.strip() for g in os.environ.get("FAULT_GROUPS", ",".join(GROUPS)).split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit("FAULT_GROUPS: unknown %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(GROUPS)))
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
        result.pop("output", None)  # the whole log stays in OUT_DIR/<case>.log
        if result.get("b"):
            result["b"].pop("output", None)
        cases.append(result)
        watch = result.get("watch") or {}
        print("%-22s rc=%-3s %6.1f s  %s%s" % (
            result["case"], result["rc"], result["seconds"], fault_name,
            "" if not watch or watch.get("caught") else "  [STAGE NOT HELD: %s]" % watch.get("why")), flush=True)
        return result

    def look(after_case):
        """A plan-only run: it changes nothing and reports what the device did by itself."""
        record(run(out_dir, "look-" + after_case, args=["--tags", "plan"]), "none: --tags plan after " + after_case)

    if "faults" in groups:
        point6(out_dir, record, look)
    else:
        record(run(out_dir, "converge"), "none: a plain run, onto the map the later groups start from")
    if "power-loss" in groups:
        power_loss(out_dir, record, RESERVED + [11439])
    if "lease" in groups:
        two_rollouts(out_dir, record, "lease-short", RESERVED + [11439, 11441], lease_wait=2)
        two_rollouts(out_dir, record, "lease-wait", RESERVED + [11439, 11441, 11442], lease_wait=300)

    with open(os.path.join(out_dir, "results.json"), "w") as handle:
        json.dump({"old": old, "cases": cases, "groups": groups}, handle, indent=1)
    summary(old, cases)


def summary(old, cases):
    """The table of faults: where the watcher held each run, and where the device ended."""
    new = dict((case["case"], case) for case in cases).get("next-run")

    def comparable(snapshot):
        files = dict((p, d) for p, d in snapshot["files"].items() if not p.endswith("~"))
        return files, snapshot["links"], _hailo(snapshot["listeners"])
    print("\n%-26s %-4s %-16s %-8s %s" % ("case", "rc", "held at", "end", "journal"))
    for case in cases:
        watch = case.get("watch") or {}
        held = "-" if not watch else (watch.get("stage") if watch.get("caught") else "MISSED")
        end = ("old" if comparable(case["after"]) == comparable(old) else
               "new" if new and comparable(case["after"]) == comparable(new["after"]) else "other")
        print("%-26s %-4s %-16s %-8s %s" % (case["case"], case["rc"], held, end,
                                            "left" if case["after"]["journal"] else "gone"), flush=True)


def point6(out_dir, record, look):
    """Issue 17 point 6: the faults of one rollout from the old map, each injected from outside."""
    # The controller killed with the module held at each stage, which then carries on alone;
    # restarted-1 is "restarting" once the first `systemctl restart` child has finished.
    for stage in ("configs_written", "units_written", "restarted-1", "checking"):
        record(run(out_dir, "kill-" + stage, watch=stage, on_fault=kill_controller),
               "controller killed (SIGKILL) at stage " + stage)
        look("kill-" + stage)

    record(run(out_dir, "connection-lost", extra={"reconcile_transaction_timeout": 25},
               watch="units_written", on_fault=pause_device),
           "connection lost (podman pause) at stage units_written, resumed after the confirm timeout")
    look("connection-lost")

    device("mkdir -p /etc/hailo/standin-faults && echo 11439 > /etc/hailo/standin-faults/hailo-depth")
    record(run(out_dir, "cannot-bind"), "hailo-depth cannot bind its new port")

    record(run(out_dir, "backup-false", extra={"reconcile_backup": False}),
           "reconcile_backup false, hailo-depth cannot bind")

    # A peer takes hailo-depth's new port after the plan and before the restart: the module is
    # held at "armed" until the peer listens.
    def start_trickler(proc, verdict):
        device("systemd-run --unit=fault-trickler python3 -c %s" % _quote(TRICKLER))
        listening = wait_for("ss -Hlnt 'sport = :11439' | grep -q LISTEN", 30)
        resume(verdict["pids"])
        return "a peer on 11439 trickles one byte every 0.5 s" + ("" if listening else " (it never listened)")
    record(run(out_dir, "trickling-peer", watch="armed", on_fault=start_trickler),
           "a health peer that trickles bytes on hailo-depth's new port")
    device("systemctl stop fault-trickler; rm -f /etc/hailo/standin-faults/hailo-depth")

    device("chattr +i /etc/xdg/hailo-depth/hailo-depth.json")
    record(run(out_dir, "immutable-json"), "immutable JSON copy of hailo-depth")
    device("chattr -i /etc/xdg/hailo-depth/hailo-depth.json")

    # The module killed by its PID right after the configs are written: the journal stays, its
    # timer is armed; the next run comes before the timer and must revert it, then converge.
    def kill_both(proc, verdict):
        os.killpg(proc.pid, signal.SIGKILL)
        device("kill -KILL %s" % " ".join(str(pid) for pid in verdict["pids"]), check=False)
        return "controller and module killed"
    killed = run(out_dir, "module-killed", watch="configs_written", on_fault=kill_both)
    killed["journal_left"] = wait_for("test -e %s/journal.json" % JOURNAL_DIR, 5)
    record(killed, "controller and device-side module killed at stage configs_written", settled=False)
    record(run(out_dir, "next-run"), "none: the run after the killed module (it waits for the dead run's claim)")
    record(run(out_dir, "no-op"), "none: a re-run")


def power_loss(out_dir, record, reserved):
    """Issue 17 point 1 (a): the device loses power while a moved service is still loading."""
    settings = dict(SLOW_SETTINGS, reconcile_reserved_ports=reserved)
    before = state()
    boot_unit = device("systemctl is-enabled port-reconcile-boot.service", check=False).strip()
    set_load(600)  # hailo-depth, moved, loads for 10 min: the change sits in "checking"
    units = []

    def cut_power(proc, verdict):
        units.extend(units_now())  # the revert timer, as named while the change is in flight
        subprocess.run(["podman", "kill", DEVICE], check=True)  # SIGKILL to the device's init
        os.killpg(proc.pid, signal.SIGKILL)
        return "device killed (podman kill) and controller killed at stage checking"
    result = run(out_dir, "power-loss", settings=settings, watch="checking", on_fault=cut_power)
    # Power back: the container boots again from its own filesystem (the journal included).
    subprocess.run(["podman", "start", DEVICE], check=True, capture_output=True)
    boot, deadline = "", time.time() + 180
    while time.time() < deadline:  # until systemd answers on its bus and the boot is over
        boot = subprocess.run(["podman", "exec", DEVICE, "systemctl", "is-system-running", "--wait"],
                              capture_output=True, text=True, timeout=300, check=False)
        boot = (boot.stdout.strip() or boot.stderr.strip())
        if boot in ("running", "degraded", "maintenance", "stopping", "offline"):
            break
        time.sleep(0.5)
    # The services start on their own at boot; give the restored ones time to bind and load.
    deadline = time.time() + 90
    while time.time() < deadline:
        now = state()
        if _hailo(now["listeners"]) == _hailo(before["listeners"]) and now["answers"] == before["answers"]:
            break
        time.sleep(2)
    result.update(before=before, boot_unit=boot_unit, boot=boot,
                  units_in_flight=units)
    record(result, "power cut (podman kill, then podman start) while the moved hailo-depth loads", settled=True)
    # The next run reports the revert the device made at boot, and converges.
    after = run(out_dir, "after-power-loss", settings=dict(settings, reconcile_health_timeout=60))
    after["mentions_the_revert"] = bool(result["watch"].get("id")) and result["watch"]["id"] in after["output"]
    record(after, "none: the run after the power loss")


def two_rollouts(out_dir, record, case, reserved, lease_wait):
    """Issue 17 point 2: run B starts against the device while run A's change is in flight."""
    settings = dict(SLOW_SETTINGS, reconcile_reserved_ports=reserved)
    set_load(40)  # A's moved hailo-depth loads for 40 s: A holds the device that long
    watcher = Watch("checking", mode="observe")
    run_a = Run(out_dir, case + "-a", settings)
    verdict = watcher.verdict(run_a)
    lease = None
    if verdict.get("reached"):
        lease = state()["lease"]  # taken at A's discovery, so present while A's change is in flight
        run_b = Run(out_dir, case + "-b", dict(settings, reconcile_lease_wait=lease_wait))
        b_started = time.time()
        a_result = run_a.finish()
        b_result = run_b.finish()
    else:
        a_result, b_result, b_started = run_a.finish(), None, None
    set_load(None)
    settled = settle()
    a_result.update(acted="run %s-b started at stage checking of this run (lease wait %d s)" % (case, lease_wait)
                    if b_result else "the fault stage was never reached: %s" % verdict.get("why"),
                    watch=verdict, lease=lease, b=b_result, b_started=b_started, lease_wait=lease_wait,
                    depth_ports=depth_ports())
    record(a_result, "a second run (lease wait %d s) while this one's change is in flight" % lease_wait,
           settled=settled)


def _hailo(listeners):
    return dict((port, unit) for port, unit in listeners.items() if unit.startswith("hailo-"))


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


if __name__ == "__main__":
    main()
