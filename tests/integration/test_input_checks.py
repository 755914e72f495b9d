"""Bad input refused before any device is contacted: each input of issue 18, through a real
ansible-playbook run of playbooks/reconcile.yml.

The fleet holds a device on this controller (local connection, a seeded config directory) and
one that cannot be reached (ssh to a closed port): a refusal must come before either is
touched, so the output has no UNREACHABLE and the seeded files keep every byte.
"""
import hashlib
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def digest(path):
    sha = hashlib.sha256()
    for dirpath, _dirs, files in sorted(os.walk(path)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), "rb") as handle:
                sha.update(name.encode() + handle.read())
    return sha.hexdigest()


def device(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "hailo-ocr.yaml").write_text("# hailo-ocr\nserver:\n  host: 0.0.0.0\n  port: 11436\n")
    # hailo-ocr reads the JSON copy its installer renders from the YAML (json.dump, indent 2).
    (root / "xdg" / "hailo-ocr").mkdir(parents=True, exist_ok=True)
    (root / "xdg" / "hailo-ocr" / "hailo-ocr.json").write_text(
        json.dumps({"server": {"host": "0.0.0.0", "port": 11436}}, indent=2))
    return {"ansible_connection": "local", "ansible_become": False,
            "ansible_python_interpreter": sys.executable,
            "reconcile_config_dir": str(root), "reconcile_json_dir": str(root / "xdg"),
            "reconcile_unit_dir": str(root / "units"), "reconcile_journal_dir": str(root / "journal"),
            "reconcile_confirm_timeout": 0}


GONE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
        "ansible_ssh_common_args": "-o ConnectTimeout=3"}


def inventory(tmp_path, groups=None, group_vars=None, all_vars=None):
    """hailo_devices (unless ``groups`` says otherwise) with dev-a and the unreachable dev-gone."""
    if groups is None:
        groups = {"hailo_devices": {"dev-a": device(tmp_path / "dev-a"), "dev-gone": GONE}}
    children = {}
    for name, hosts in groups.items():
        children[name] = {"hosts": hosts}
        if group_vars:
            children[name]["vars"] = group_vars
    data = {"all": {"children": children, "vars": all_vars or {}}}
    (tmp_path / "fleet.yml").write_text(json.dumps(data))
    return tmp_path / "fleet.yml"


def run(tmp_path, inventory_path, *args):
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    result = subprocess.run(
        [PLAYBOOK_BIN, "playbooks/reconcile.yml", "-i", str(inventory_path),
         "-e", json.dumps({"reconcile_report_dir": str(tmp_path / "reports")}), *args],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=300, check=False)
    return result, " ".join((result.stdout + result.stderr).split())


def assert_refused(tmp_path, result, output, *culprits):
    assert result.returncode != 0, output[-3000:]
    for culprit in culprits:
        assert culprit in output, output[-3000:]
    assert "Refused before any device was contacted" in output
    assert "UNREACHABLE" not in output  # dev-gone was never tried
    assert "Discover the Hailo services" not in output
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("extra, culprits", [
    ({"reconcile_servics": {"hailo-ocr": {"priority": 5}}},
     ["reconcile_servics: no such variable; did you mean reconcile_services?"]),
    ({"reconcile_services": ["hailo-ocr"]},
     ["reconcile_services: [hailo-ocr] is not allowed; allowed: a mapping"]),
    ({"reconcile_unit_settings": {"Servce": {"MemoryMax": "1G"}}},
     ["reconcile_unit_settings: every service (fleet-wide unit settings): unknown section [Servce]; "
      "did you mean 'Service'?"]),
    ({"reconcile_services": {"hailo-ocr": {"unit": {"Service": {"MemoryMx": "1G"}}}}},
     ["reconcile_services: hailo-ocr.service (unit settings of the service): [Service] unknown "
      "directive 'MemoryMx'; did you mean 'MemoryMax'?"]),
    ({"reconcile_scope": "fleeet"}, ["reconcile_scope: 'fleeet' is not allowed; allowed: one of fleet, host"]),
    ({"reconcile_max_failed_hosts": "lots"},
     ["reconcile_max_failed_hosts: 'lots' is not allowed; allowed: an integer"]),
    ({"reconcile_health_timeout": "soon"},
     ["reconcile_health_timeout: 'soon' is not allowed; allowed: an integer"]),
    ({"reconcile_serial": "fast"}, ["reconcile_serial: 'fast' in 'fast' is not a batch size"]),
    # all at once: every problem is named in the one refusal
    ({"reconcile_scope": "fleeet", "reconcile_max_failed_hosts": "lots", "reconcile_health_timeout": "soon",
      "reconcile_serial": "fast"},
     ["reconcile_scope: 'fleeet'", "reconcile_max_failed_hosts: 'lots'", "reconcile_health_timeout: 'soon'",
      "reconcile_serial: 'fast'"]),
    ({"source_tree_pth": "/tmp"}, ["source_tree_pth: no such variable; did you mean source_tree_path?"]),
])
def test_bad_extra_vars_are_refused_before_any_device(tmp_path, extra, culprits):
    path = inventory(tmp_path)
    before = digest(tmp_path / "dev-a")
    result, output = run(tmp_path, path, "-e", json.dumps(extra))
    assert_refused(tmp_path, result, output, *culprits)
    assert digest(tmp_path / "dev-a") == before


def test_bad_inventory_vars_are_refused_naming_the_devices(tmp_path):
    """Set in the inventory for one device only: the message says for which."""
    devices = {"dev-a": dict(device(tmp_path / "dev-a"), reconcile_servics={}), "dev-gone": GONE}
    path = inventory(tmp_path, groups={"hailo_devices": devices})
    result, output = run(tmp_path, path)
    assert_refused(tmp_path, result, output,
                   "reconcile_servics: no such variable; did you mean reconcile_services? (hailo.services "
                   "knows the reconcile_* variables of its argument specs) (set for dev-a)")


def test_the_collections_own_facts_are_not_refused(tmp_path):
    """reconcile_result and reconcile_port_map are facts the role sets: never unknown."""
    path = inventory(tmp_path, groups={"hailo_devices": {"dev-a": device(tmp_path / "dev-a")}})
    result, output = run(tmp_path, path, "--tags", "plan", "-e", json.dumps({"reconcile_result": {}}))
    assert result.returncode == 0, output[-3000:]


@pytest.mark.parametrize("groups, culprit", [
    ({"pis": {"dev-a": None}}, "reconcile_fleet_group: the inventory has no group 'hailo_devices'"),
    ({"hailo_devices": {}}, "reconcile_fleet_group: the inventory's group 'hailo_devices' holds no device"),
])
def test_a_missing_or_empty_fleet_group_fails_naming_it(tmp_path, groups, culprit):
    groups = {name: {host: device(tmp_path / host) for host in hosts} for name, hosts in groups.items()}
    path = inventory(tmp_path, groups=groups)
    result, output = run(tmp_path, path)
    assert_refused(tmp_path, result, output, culprit)


def test_the_fleet_group_given_with_e_chooses_the_devices_rolled_out(tmp_path):
    path = inventory(tmp_path, groups={"pis": {"dev-a": device(tmp_path / "dev-a")}})
    result, output = run(tmp_path, path, "--tags", "plan", "-e", "reconcile_fleet_group=pis")
    assert result.returncode == 0, output[-3000:]
    report = json.loads((tmp_path / "reports" / "fleet-rollout.json").read_text())
    assert list(report["devices"]) == ["dev-a"]
    assert report["devices"]["dev-a"]["outcome"] == "changed"  # would change: ocr is there


def test_the_fleet_group_set_in_the_inventory_is_refused_saying_to_use_e(tmp_path):
    """Play hosts see extra vars only: a group named in the inventory would be ignored."""
    path = inventory(tmp_path, groups={"pis": {"dev-a": device(tmp_path / "dev-a")},
                                       "hailo_devices": {"dev-b": device(tmp_path / "dev-b")}},
                     all_vars={"reconcile_fleet_group": "pis"})
    result, output = run(tmp_path, path, "--tags", "plan")
    assert_refused(tmp_path, result, output, "reconcile_fleet_group is 'pis' here, but the plays run on "
                   "another group", "-e reconcile_fleet_group=pis")
