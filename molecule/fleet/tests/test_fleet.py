"""After a canary rollout where the second batch failed: pi1 on the fleet map, pi2 rolled back
byte for byte, pi3 never touched, and a report that says so."""
import json
import os

import pytest

# The fleet map: pi1's squatter on 11439 is avoided on every device.
FLEET_MAP = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-piper": 5003,
    "hailo-ollama": 11434, "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437,
    "hailo-florence": 11438, "hailo-depth": 11440, "hailo-pose": 11441,
}

PROBE = r'''
import json, subprocess, urllib.request
out = {"health": {}}
for name, port in %s.items():
    path = "/api/version" if name == "hailo-ollama" else "/health"
    try:
        urllib.request.urlopen("http://127.0.0.1:%%d%%s" %% (port, path), timeout=5)
        out["health"][name] = "ok"
    except Exception as exc:
        out["health"][name] = str(exc)
out["sums_rc"] = subprocess.run(["sha256sum", "--quiet", "-c", "/root/hailo-files.sha256"],
                                capture_output=True, text=True).returncode
out["files"] = subprocess.run(
    "find /etc/hailo /etc/xdg /etc/systemd/system -path '*hailo*' -type f | sort",
    shell=True, capture_output=True, text=True).stdout.split()
out["seeded"] = open("/root/hailo-files.list").read().split()
print(json.dumps(out))
'''


def probe(host, ports):
    script = PROBE % (ports,)
    return json.loads(host.check_output("python3 -c '%s'" % script.replace("'", "'\"'\"'")))


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
        state = probe(host, FLEET_MAP)
        assert state["health"] == {svc: "ok" for svc in FLEET_MAP}
        assert state["sums_rc"] != 0  # it was changed
    elif name == "hailo-fleet-pi2":
        state = probe(host, {"hailo-ocr": 11436, "hailo-face": 5002})
        assert state["sums_rc"] == 0, "pi2 was not restored to the exact bytes"
        assert state["health"] == {"hailo-ocr": "ok", "hailo-face": "ok"}
    else:
        state = probe(host, {"hailo-ocr": 11436})
        assert state["sums_rc"] == 0 and state["files"] == state["seeded"], "pi3 was touched"


def test_report_says_what_happened(report):
    devices = report["devices"]
    assert devices["hailo-fleet-pi1"]["outcome"] == "changed"
    assert devices["hailo-fleet-pi2"]["outcome"] == "rolled_back"
    assert devices["hailo-fleet-pi2"]["rollback"]["configs"] >= 1
    assert devices["hailo-fleet-pi3"]["outcome"] == "not_reached"
    assert report["stopped"] and "hailo-fleet-pi2" in report["stopped"]
    assert {c["service"]: c["new_url"] for c in report["client_changes"]} == {
        "hailo-piper": "http://<device>:5003", "hailo-depth": "http://<device>:11440",
        "hailo-pose": "http://<device>:11441"}
    assert 11439 in report["in_use"]
    pi1 = {p["service"]: p for p in devices["hailo-fleet-pi1"]["ports"]}
    assert pi1["hailo-depth"]["new"] == 11440
    assert devices["hailo-fleet-pi1"]["health"]["hailo-depth"]["latency_ms"] >= 0
    assert any("does not run hailo-pose" in n for n in devices["hailo-fleet-pi3"]["notes"])
    text = report["_markdown"]
    assert "### hailo-fleet-pi2: failed, rolled back" in text
    assert "### hailo-fleet-pi3: not reached (rollout stopped)" in text
    assert "## What clients must change" in text
