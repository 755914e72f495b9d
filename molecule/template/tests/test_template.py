"""The device after the switch to config_mode template: every config rendered by the role, its
JSON copy rendered from the same data, the final port map served, and every hand-tuned value
kept except the one the inventory changed (hailo-ocr's languages, forced).

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
JSON_READERS = {"hailo-depth", "hailo-pose", "hailo-whisper", "hailo-vision", "hailo-florence",
                "hailo-ocr", "hailo-ollama"}
STANDBY = "hailo-standby-test"
MARKER = "# Owned by hailo.services (config_mode template)"


@pytest.fixture(scope="module")
def device(host):
    services = sorted(FINAL) + [STANDBY]
    files = [path for name in services
             for path in ("/etc/hailo/%s.yaml" % name, "/etc/xdg/%s/%s.json" % (name, name))]
    return read_device(host, services=services, files=files, health=health_paths(FINAL))


def _yaml(device, name):
    return device["files"]["/etc/hailo/%s.yaml" % name]


@pytest.mark.parametrize("service", sorted(FINAL) + [STANDBY])
def test_config_is_rendered_by_the_role(device, service):
    text = _yaml(device, service)
    assert text.startswith("#") and "Ansible managed" in text.split("\nserver:")[0]
    assert MARKER in text
    assert "# from the port map" in text  # comments explain the knobs


@pytest.mark.parametrize("service, port", sorted(FINAL.items()))
def test_rendered_port_is_the_maps(device, service, port):
    assert yaml.safe_load(_yaml(device, service))["server"]["port"] == port


@pytest.mark.parametrize("service", sorted(FINAL) + [STANDBY])
def test_json_copy_is_the_installers_rendering_of_the_yaml(device, service):
    json_copy = device["files"]["/etc/xdg/%s/%s.json" % (service, service)]
    if service not in JSON_READERS:
        assert json_copy is None  # the seeded device had none; the service reads the YAML
        return
    assert json_copy == json.dumps(yaml.safe_load(_yaml(device, service)), indent=2)


@pytest.mark.parametrize("service", sorted(FINAL) + [STANDBY])
def test_only_the_forced_value_and_the_port_changed(device, service):
    """Against the backup of the hand-written file: same data, but the port and ocr.languages."""
    assert len(device["backups"][service]) == 1, "one backup: rendered once, then idempotent"
    before = yaml.safe_load(device["backups"][service][0])
    after = yaml.safe_load(_yaml(device, service))
    before["server"].pop("port")
    after["server"].pop("port")
    if service == "hailo-ocr":
        assert (before["ocr"]["languages"], after["ocr"]["languages"]) == (["en", "de"], ["en"])
        before["ocr"]["languages"] = ["en"]
    assert after == before
    assert "Ansible managed" not in device["backups"][service][0]


@pytest.mark.parametrize("service, port", sorted(FINAL.items()))
def test_service_answers_on_its_final_port_in_its_own_unit(device, service, port):
    unit = device["units"][service]
    assert unit["ActiveState"] == "active"
    assert int(unit["MainPID"]) in device["listeners"].get(port, set())
    assert "error" not in device["health"][service], device["health"][service]


def test_ocr_runs_with_the_rendered_languages(device):
    ocr_json = json.loads(device["files"]["/etc/xdg/hailo-ocr/hailo-ocr.json"])
    assert ocr_json["ocr"]["languages"] == ["en"]


def test_standby_service_stayed_stopped(device):
    assert device["units"][STANDBY]["ActiveState"] in ("inactive", "failed")
    assert yaml.safe_load(_yaml(device, STANDBY)) == {
        "server": {"host": "127.0.0.1", "port": 5010}, "standby": True}
