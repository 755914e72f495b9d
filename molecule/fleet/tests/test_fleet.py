"""After a canary rollout where the second batch failed: pi1 on the fleet map, pi2 (installed
today, with the device manager, the web portal and ufw) rolled back byte for byte, pi3 never
touched, and a report that says so; then pi1 and pi2 rolled out again on the same map: pi1
stays, pi2 makes the chain move depth 11439 -> 11440, pose 11440 -> 11441, and its portal's
clients and ufw rules follow. A re-run changes nothing."""
import json
import os

import pytest
from device_probe import health_paths, read_device  # molecule/resources, on the verifier's path

# The fleet map: pi1's squatter on 11439 is avoided on every device.
FLEET_MAP = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-piper": 5003,
    "hailo-ollama": 11434, "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437,
    "hailo-florence": 11438, "hailo-depth": 11440, "hailo-pose": 11441,
}


# The map of the second run: the same (see converge.yml).
FINAL_MAP = dict(FLEET_MAP)

MOVED = ("hailo-depth", "hailo-piper", "hailo-pose")
OLLAMA_UNIT = "/etc/systemd/system/hailo-ollama.service"
SEEDED_UNITS = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "resources",
                            "files", "units")


PORTAL_CLIENT = "/opt/hailo-web-portal/portal_client.py"
TODAY_UNITS = ("hailo-device-manager", "hailo-web-portal")


def probe(host, ports, extra=None):
    return read_device(host, services=sorted(FLEET_MAP) + list(TODAY_UNITS), files=[OLLAMA_UNIT, PORTAL_CLIENT],
                       health=dict(health_paths(ports), **(extra or {})), snapshot=True)


def load_report(name):
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], name, "fleet-rollout.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def directives(text):
    """(section, line) pairs of a unit's directives, comments and blank lines left out."""
    section, out = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        out.append((section, line))
    return out


def healthy(state):
    return sorted(name for name, body in state["health"].items() if "error" not in body)


@pytest.fixture(scope="module")
def report():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports", "fleet-rollout.json")
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    with open(path[:-4] + "md", encoding="utf-8") as handle:
        doc["_markdown"] = handle.read()
    return doc


def test_device_state(host):
    name = host.backend.get_hostname()
    if name == "hailo-fleet-pi1":
        state = probe(host, FINAL_MAP)
        assert healthy(state) == sorted(FLEET_MAP), state["health"]
        assert not state["snapshot"]["intact"]  # it was changed
        check_unit_setting_applied(state)
    elif name == "hailo-fleet-pi2":
        # Rolled back in the first run (converge proved its bytes), then rolled out.
        state = probe(host, FINAL_MAP, {"portal": (7860, "/api/status")})
        assert healthy(state) == sorted(list(FLEET_MAP) + ["portal"]), state["health"]
        portal = state["health"]["portal"]
        assert all(entry["ok"] for entry in portal["services"].values()), portal
        assert portal["services"]["hailo-depth"]["url"] == "http://127.0.0.1:11440"
        assert portal["services"]["hailo-pose"]["url"] == "http://127.0.0.1:11441"
        client = state["files"][PORTAL_CLIENT]
        # A chain move: depth's literal went to pose's old port, and no literal moved twice.
        assert client.count('base_url="http://127.0.0.1:11440"') == 1
        assert client.count('base_url="http://127.0.0.1:11441"') == 1
        assert "11439" not in client
        assert host.file(PORTAL_CLIENT).user == "hailo" and host.file(PORTAL_CLIENT).group == "hailo"
        # Backups of client files go outside the portal's folder.
        assert not [f for f in host.file("/opt/hailo-web-portal").listdir() if f.endswith("~")]
        pids = state["snapshot"]["pids"]
        # The device manager is never restarted; the portal was, for its clients.
        assert int(state["units"]["hailo-device-manager"]["MainPID"]) == pids["hailo-device-manager"]
        assert int(state["units"]["hailo-web-portal"]["MainPID"]) != pids["hailo-web-portal"]
        check_firewall_followed(host)
    else:
        state = probe(host, {"hailo-ocr": 11436})
        snapshot = state["snapshot"]
        assert snapshot["intact"] and snapshot["now"] == snapshot["seeded"], "pi3 was touched"


def check_firewall_followed(host):
    """pi2's ufw rules, in its files and in the live firewall: the new port of pose is allowed,
    pose's old port stays allowed (depth uses it now), depth's old port is closed, SSH's rule
    is left alone."""
    with host.sudo():  # the verifier connects as pi, as the rollout did
        added = host.check_output("ufw show added").splitlines()[1:]
        live = host.check_output("iptables -S ufw-user-input")
        live6 = host.check_output("ip6tables -S ufw6-user-input")
        status = host.check_output("ufw status")
    assert added == ["ufw allow 22/tcp", "ufw allow 11440/tcp", "ufw allow 11441/tcp"], added
    assert "--dport 11441 " in live and "--dport 11440 " in live and "--dport 11439 " not in live, live
    assert "--dport 11441 " in live6 and "--dport 11439 " not in live6, live6
    assert status.startswith("Status: active")


def test_report_says_what_happened(report):
    devices = report["devices"]
    assert devices["hailo-fleet-pi1"]["outcome"] == "changed"
    assert devices["hailo-fleet-pi2"]["outcome"] == "rolled_back"
    restored = devices["hailo-fleet-pi2"]["rollback"]["restored"]
    assert any(path.startswith("/etc/hailo/") for path in restored), restored
    assert PORTAL_CLIENT in restored and "/opt/hailo-web-portal/TROUBLESHOOTING.md" in restored, restored
    assert "/etc/systemd/system/hailo-ollama.service" in restored, restored
    # ufw's rule files came back with the rest, and ufw loaded them again.
    assert "/etc/ufw/user.rules" in restored and "/etc/ufw/user6.rules" in restored, restored
    assert devices["hailo-fleet-pi2"]["rollback"].get("firewall_reloaded"), devices["hailo-fleet-pi2"]["rollback"]
    assert devices["hailo-fleet-pi2"]["firewall"]["added"] == ["ufw allow 11441/tcp"]
    assert devices["hailo-fleet-pi1"]["firewall"]["ufw"] == "inactive"
    assert devices["hailo-fleet-pi3"]["outcome"] == "not_reached"
    assert report["stopped"] and "hailo-fleet-pi2" in report["stopped"]
    assert {c["service"]: c["new_url"] for c in report["client_changes"]} == {
        "hailo-piper": "http://<device>:5003", "hailo-depth": "http://<device>:11440",
        "hailo-pose": "http://<device>:11441"}
    assert 11439 in report["in_use"]
    pi1 = {p["service"]: p for p in devices["hailo-fleet-pi1"]["ports"]}
    assert pi1["hailo-depth"]["new"] == 11440
    assert devices["hailo-fleet-pi1"]["health"]["hailo-depth"]["latency_ms"] >= 0
    assert any("does not run hailo-florence" in n for n in devices["hailo-fleet-pi3"]["notes"])
    text = report["_markdown"]
    assert "### hailo-fleet-pi2: failed, rolled back" in text
    assert "### hailo-fleet-pi3: not reached (rollout stopped)" in text
    assert "## What clients must change" in text


def check_unit_setting_applied(state):
    """hailo-ollama's unit: the installer's directives, MemoryMax from the inventory; only
    ollama (its unit changed) and the moved services were restarted."""
    with open(os.path.join(SEEDED_UNITS, "hailo-ollama.service"), encoding="utf-8") as handle:
        seeded = directives(handle.read())
    unit = state["files"][OLLAMA_UNIT]
    assert "Ansible managed" in unit.split("[Unit]")[0]
    expected = [(section, "MemoryMax=6G" if line.startswith("MemoryMax=") else line)
                for section, line in seeded]
    assert directives(unit) == expected
    assert "MemoryMax=6G" in unit
    pids = state["snapshot"]["pids"]
    restarted = sorted(name for name in FLEET_MAP
                       if int(state["units"][name]["MainPID"]) != pids.get(name))
    assert restarted == sorted(("hailo-ollama",) + MOVED)


def test_the_rollout_connected_as_a_normal_user(host):
    assert host.check_output("id -un") == "pi"
    # Over SSH, as a real Pi is reached: the verifier reads the rollout's inventory.
    assert host.ansible.get_variables()["ansible_connection"] == "ssh"
    assert host.check_output("printenv SSH_CONNECTION")


def test_ansible_runner_kept_what_an_awx_job_shows():
    """Status, rc, the set_stats artifacts and per-host events, as AWX reads them."""
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "runner-result.json")
    with open(path, encoding="utf-8") as handle:
        run = json.load(handle)
    assert run["status"] == "failed" and run["rc"] == 2
    fleet = run["artifact_data"]["hailo_fleet"]
    assert fleet["devices"] == {"hailo-fleet-pi1": "changed", "hailo-fleet-pi2": "rolled_back",
                                "hailo-fleet-pi3": "not_reached"}
    assert fleet["summary"]["failed_devices"] == ["hailo-fleet-pi2"]
    assert sorted(c["service"] for c in fleet["client_changes"]) == ["hailo-depth", "hailo-piper", "hailo-pose"]
    # pi2's change failed its health check on the device (and was rolled back there); pi3 was never reached
    assert any((task or "").startswith("Apply the device's change as one transaction") for task in run["failed_tasks"]["hailo-fleet-pi2"])
    assert "hailo-fleet-pi3" not in run["failed_tasks"]


def test_the_portal_followed_on_pi2_and_the_report_lists_each_line():
    pi2 = load_report("reports-today")["devices"]["hailo-fleet-pi2"]
    assert pi2["outcome"] == "changed", pi2
    assert pi2["restarted"][-1] == "hailo-web-portal"  # after the services it calls
    assert "hailo-device-manager" not in pi2["restarted"]
    (client,) = pi2["clients"]
    assert client["path"] == "/opt/hailo-web-portal" and client["restart"]
    files = {entry["path"]: entry["changes"] for entry in client["files"]}
    assert [(c["line"], c["old"], c["new"]) for c in files[PORTAL_CLIENT]] == [
        (43, "http://127.0.0.1:11440", "http://127.0.0.1:11441"),  # PoseClient
        (48, "http://127.0.0.1:11439", "http://127.0.0.1:11440"),  # DepthClient
    ]
    assert any(item["port"] == 11439 and "TROUBLESHOOTING" in item["path"] for item in client["review"])
    assert pi2["firewall"] == {
        "ufw": "active", "added": ["ufw allow 11441/tcp"], "deleted": ["ufw allow 11439/tcp"],
        "kept": [{"rule": "ufw allow 11440/tcp", "why": "port 11440 is still a service's port (hailo-depth)"}],
        "review": []}
    markdown = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports-today", "fleet-rollout.md")
    with open(markdown, encoding="utf-8") as handle:
        text = handle.read()
    assert "Client /opt/hailo-web-portal (restarted hailo-web-portal):" in text
    assert "- added: `ufw allow 11441/tcp`" in text and "- deleted: `ufw allow 11439/tcp`" in text


def test_a_rerun_changes_nothing():
    devices = load_report("reports-rerun")["devices"]
    for name in ("hailo-fleet-pi1", "hailo-fleet-pi2"):
        assert devices[name]["outcome"] == "ok" and devices[name]["restarted"] == [], devices[name]
        assert not any(client["files"] for client in devices[name].get("clients") or ()), devices[name]
        assert devices[name].get("firewall") is None, devices[name]  # nothing moved, nothing to follow
