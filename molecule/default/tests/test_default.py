"""The device after the rollout: the plan's final map, served by the right units, with the
config files changed in exactly one place each.

Everything is read from the device in one call (each call through the podman connection costs
about a second), then checked here.
"""
import json

import pytest
import yaml
from device_probe import health_paths, read_device  # molecule/resources, on the verifier's path

FINAL = {
    "hailo-clip": 5000, "hailo-scrfd": 5001, "hailo-face": 5002, "hailo-piper": 5003,
    "hailo-ollama": 11434, "hailo-vision": 11435, "hailo-ocr": 11436, "hailo-whisper": 11437,
    "hailo-florence": 11438, "hailo-depth": 11439, "hailo-pose": 11440,
}
MOVED = {"hailo-piper": 5002, "hailo-depth": 11436, "hailo-pose": 11436}
JSON_READERS = {"hailo-depth", "hailo-pose", "hailo-whisper", "hailo-vision", "hailo-florence",
                "hailo-ocr", "hailo-ollama"}
STANDBY = "hailo-standby-test"


def config_files(services):
    return [path for name in services for path in (
        "/etc/hailo/%s.yaml" % name, "/etc/xdg/%s/%s.json" % (name, name),
        "/etc/systemd/system/%s.service" % name)]


@pytest.fixture(scope="module")
def device(host):
    services = sorted(FINAL) + [STANDBY]
    return read_device(host, services=services, files=config_files(services),
                       health=health_paths(FINAL), snapshot=True)


@pytest.mark.parametrize("service, port", sorted(FINAL.items()))
def test_service_listens_on_its_final_port_in_its_own_unit(device, service, port):
    unit = device["units"][service]
    assert unit["ActiveState"] == "active"
    assert int(unit["MainPID"]) in device["listeners"].get(port, set()), (
        "%s is not the one listening on %d" % (service, port))
    assert unit["User"] == service


def test_every_final_port_is_held_once(device):
    for port in FINAL.values():
        assert len(device["listeners"][port]) == 1


def test_standby_service_stayed_stopped(device):
    assert device["units"][STANDBY]["ActiveState"] in ("inactive", "failed")


@pytest.mark.parametrize("service", sorted(FINAL))
def test_yaml_and_json_in_step(device, service):
    data = yaml.safe_load(device["files"]["/etc/hailo/%s.yaml" % service])
    assert data["server"]["port"] == FINAL[service]
    json_copy = device["files"]["/etc/xdg/%s/%s.json" % (service, service)]
    if service in JSON_READERS:
        assert json_copy is not None
    if json_copy is not None:
        assert json_copy == json.dumps(data, indent=2)


@pytest.mark.parametrize("service, old", sorted(MOVED.items()))
def test_moved_config_changed_in_one_value_only(device, service, old):
    """Against the backup the rollout kept: one line differs, by the port number alone."""
    assert len(device["backups"][service]) == 1
    before = device["backups"][service][0].splitlines()
    after = device["files"]["/etc/hailo/%s.yaml" % service].splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][0].replace(str(old), str(FINAL[service]), 1) == changed[0][1]
    assert any(line.lstrip().startswith("#") for line in after), "comments kept"


@pytest.mark.parametrize("service", sorted(set(FINAL) - set(MOVED)))
def test_kept_services_configs_untouched(device, service):
    assert device["backups"][service] == []


def test_ollama_library_port_untouched(device):
    data = yaml.safe_load(device["files"]["/etc/hailo/hailo-ollama.yaml"])
    assert data["library"]["port"] == 443


def test_only_the_moved_services_files_changed_and_no_unit(device):
    """The installers' units are kept byte for byte: the inventory sets no unit directive."""
    changed = set(line.split(":")[0] for line in device["snapshot"]["mismatches"].splitlines())
    expected = set(path for name in MOVED for path in (
        "/etc/hailo/%s.yaml" % name, "/etc/xdg/%s/%s.json" % (name, name))
        if path in device["snapshot"]["seeded"])
    assert changed == expected
    added = set(device["snapshot"]["now"]) - set(device["snapshot"]["seeded"])
    assert all(path.startswith("/etc/hailo/") or path.startswith("/etc/xdg/") for path in added), added


@pytest.mark.parametrize("service", sorted(set(FINAL) - set(MOVED)))
def test_services_that_did_not_move_were_not_restarted(device, service):
    """Same main process as before the first rollout, through the idempotence run too."""
    before = device["snapshot"]["pids"][service]
    assert before > 0
    assert int(device["units"][service]["MainPID"]) == before


@pytest.mark.parametrize("service", sorted(FINAL))
def test_health_answers_on_the_final_port(device, service):
    answer = device["health"][service]
    assert "error" not in answer, answer
    named = answer.get("service")
    if named is not None:  # not every body names its service; those that do must name this one
        assert named.replace("hailo-", "") == service.replace("hailo-", "")
    if service == "hailo-ollama":
        assert "version" in answer
