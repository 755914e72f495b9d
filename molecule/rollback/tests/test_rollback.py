"""After a failed rollout: the exact original files, the old ports answering, a clear message."""
import pytest
from device_probe import health_paths, read_device  # molecule/resources, on the verifier's path

# The services that answered before the rollout, on their seeded ports.
ANSWERED_BEFORE = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-ollama": 11434,
    "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437, "hailo-florence": 11438,
}

STANDBY = "hailo-standby-test"
FAILURE = "/root/rollout-failure.txt"  # written by converge.yml


@pytest.fixture(scope="module")
def device(host):
    return read_device(host, services=[STANDBY], files=[FAILURE],
                       health=health_paths(ANSWERED_BEFORE), snapshot=True)


def test_every_original_file_has_its_exact_bytes_back(device):
    assert device["snapshot"]["intact"], device["snapshot"]["mismatches"]


def test_only_backups_were_added(device):
    seeded, now = set(device["snapshot"]["seeded"]), set(device["snapshot"]["now"])
    added = now - seeded
    assert seeded <= now
    assert all(path.endswith("~") for path in added), added  # Ansible's backup names end in ~
    assert added, "the rollout should have kept backups"


@pytest.mark.parametrize("service", sorted(ANSWERED_BEFORE))
def test_services_that_answered_before_answer_again_on_their_old_port(device, service):
    assert "error" not in device["health"][service], device["health"][service]


def test_failure_says_what_failed_and_that_it_was_rolled_back(device):
    message = device["files"][FAILURE]
    assert "rolled back" in message
    assert "hailo-depth" in message
    assert "Every service that ran before answers again on its old port" in message


def test_standby_service_still_stopped(device):
    assert device["units"][STANDBY]["ActiveState"] in ("inactive", "failed")
