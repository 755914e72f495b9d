"""After a failed rollout: the exact original files, the old ports answering, a clear message."""
import json

import pytest

# The services that answered before the rollout, on their seeded ports.
ANSWERED_BEFORE = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-ollama": 11434,
    "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437, "hailo-florence": 11438,
}

PROBE = r'''
import json, subprocess, urllib.request
out = {"health": {}}
for name, port in %s.items():
    path = "/api/version" if name == "hailo-ollama" else "/health"
    try:
        urllib.request.urlopen("http://127.0.0.1:%%d%%s" %% (port, path), timeout=10)
        out["health"][name] = "ok"
    except Exception as exc:
        out["health"][name] = str(exc)
out["sums"] = subprocess.run(["sha256sum", "--quiet", "-c", "/root/hailo-files.sha256"],
                             capture_output=True, text=True).stdout
out["files"] = subprocess.run(
    "find /etc/hailo /etc/xdg /etc/systemd/system -path '*hailo*' -type f | sort",
    shell=True, capture_output=True, text=True).stdout.split()
out["seeded"] = open("/root/hailo-files.list").read().split()
out["failure"] = open("/root/rollout-failure.txt").read()
out["standby"] = subprocess.run(["systemctl", "is-active", "hailo-standby-test"],
                                capture_output=True, text=True).stdout.strip()
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def device(host):
    script = PROBE % (ANSWERED_BEFORE,)
    return json.loads(host.check_output("python3 -c '%s'" % script.replace("'", "'\"'\"'")))


def test_every_original_file_has_its_exact_bytes_back(device):
    assert device["sums"] == "", device["sums"]


def test_only_backups_were_added(device):
    added = set(device["files"]) - set(device["seeded"])
    assert set(device["seeded"]) <= set(device["files"])
    assert all(path.endswith("~") for path in added), added  # Ansible's backup names end in ~
    assert added, "the rollout should have kept backups"


@pytest.mark.parametrize("service", sorted(ANSWERED_BEFORE))
def test_services_that_answered_before_answer_again_on_their_old_port(device, service):
    assert device["health"][service] == "ok"


def test_failure_says_what_failed_and_that_it_was_rolled_back(device):
    message = device["failure"]
    assert "rolled back" in message
    assert "hailo-depth" in message
    assert "Every service that ran before answers again on its old port" in message


def test_standby_service_still_stopped(device):
    assert device["standby"] in ("inactive", "failed")
