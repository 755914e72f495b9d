"""After a failed rollout: the exact original files, the old ports answering, a clear message."""
import pytest
from device_probe import health_paths, read_device  # molecule/resources, on the verifier's path

# The services that answered before the rollout, on their seeded ports.
ANSWERED_BEFORE = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-ollama": 11434,
    "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437, "hailo-florence": 11438,
}

SEEDED = dict(ANSWERED_BEFORE, **{"hailo-piper": 5002, "hailo-depth": 11436, "hailo-pose": 11436})
# Losers of a shared port before the rollout: depth and piper crash-loop (Restart=always,
# RestartSec=5), pose sits failed at its start limit.
CRASH_LOOPING = ("hailo-depth", "hailo-piper")
STANDBY = "hailo-standby-test"
FAILURE = "/root/rollout-failure.txt"  # written by converge.yml


@pytest.fixture(scope="module")
def device(host):
    return read_device(host, services=sorted(SEEDED) + [STANDBY], files=[FAILURE],
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
    assert "Every service is as it was before" in message
    assert "hailo-ocr: serving on 11436" in message  # what runs where
    assert "hailo-depth: not serving on 11436" in message


@pytest.mark.parametrize("service", sorted(SEEDED))
def test_every_service_runs_on_the_port_its_config_names_or_not_at_all(device, service):
    """No service is left on a port of the abandoned map (11439, 11440, 5003)."""
    pid = int(device["units"][service]["MainPID"])
    held = sorted(port for port, pids in device["listeners"].items() if pid and pid in pids)
    assert held in ([], [SEEDED[service]]), "%s holds %s" % (service, held)
    if service in ANSWERED_BEFORE:
        assert held == [SEEDED[service]]


def test_the_shared_port_is_back_with_its_keeper(device):
    # The template-rollback scenario slows hailo-ocr down on purpose; the rollback must still
    # hand 11436 back to it, not to a loser that started while ocr was loading.
    ocr = int(device["units"]["hailo-ocr"]["MainPID"])
    assert ocr and device["listeners"].get(11436) == {ocr}, device["listeners"].get(11436)
    for loser in ("hailo-depth", "hailo-pose"):
        pid = int(device["units"][loser]["MainPID"])
        assert not pid or pid not in device["listeners"].get(11436, ()), loser


@pytest.mark.parametrize("service", CRASH_LOOPING)
def test_crash_looping_losers_are_failing_as_before(device, service):
    unit = device["units"][service]
    assert unit["ActiveState"] in ("activating", "active", "failed"), unit
    assert not any(port in (11439, 11440, 5003) for port in device["listeners"]), device["listeners"]


def test_failed_loser_is_stopped_as_before(device):
    assert device["units"]["hailo-pose"]["ActiveState"] in ("inactive", "failed")


def test_standby_service_still_stopped(device):
    assert device["units"][STANDBY]["ActiveState"] in ("inactive", "failed")


def test_a_symlinked_json_copy_is_refused_before_anything_is_written(host):
    """converge.yml's second play: the JSON copy was a symlink to /root/pose-elsewhere.json."""
    link, target = "/etc/xdg/hailo-pose/hailo-pose.json", "/root/pose-elsewhere.json"
    message = host.file("/root/symlink-refusal.txt").content_string
    assert "%s: refused: it is a symlink (to %s, the link owned by root)" % (link, target) in message, message
    # Never written through: the file it pointed to still holds the original bytes.
    assert host.file(target).content == host.file(link).content
    assert not host.file("/var/lib/hailo-services/transaction/journal.json").exists
