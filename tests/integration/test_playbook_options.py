"""The options every Ansible user types, through playbooks/reconcile.yml: --tags, --list-tags,
--limit, reconcile_serial from the inventory or -e, the strategy, and the exit code.

The devices are the controller under other names (local connection), each with its own
configuration directory, so discovery, the fleet map, the batches and the report run for real;
with --tags plan and --tags verify nothing is written, which the tests check byte for byte.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

# Ports before reconciliation, as the plan found them.
SEEDED = {
    "hailo-ocr": 11436, "hailo-depth": 11436, "hailo-pose": 11436, "hailo-ollama": 11434,
    "hailo-face": 5002, "hailo-piper": 5002, "hailo-clip": 5000,
}


def seed(root, services):
    root.mkdir(parents=True)
    for name, port in services.items():
        (root / "xdg" / name).mkdir(parents=True)  # the installers create the JSON copy's home
        (root / ("%s.yaml" % name)).write_text(
            "# %s, as its installer wrote it\nserver:\n  host: 0.0.0.0\n  port: %d\n" % (name, port))


def digest(path):
    """The device's service files; not the collection's own journal directory (its lease lives there)."""
    sha = hashlib.sha256()
    for dirpath, dirs, files in os.walk(path):
        dirs[:] = sorted(name for name in dirs if name != "journal")
        for name in sorted(files):
            with open(os.path.join(dirpath, name), "rb") as handle:
                sha.update(name.encode() + handle.read())
    return sha.hexdigest()


@pytest.fixture()
def fleet(tmp_path):
    """dev-a runs the plan's services; dev-b also runs a service of its own on 11437, the port
    hailo-depth would get, so the whole fleet's map gives depth 11438."""
    seed(tmp_path / "dev-a", SEEDED)
    seed(tmp_path / "dev-b", dict(SEEDED, **{"hailo-radar": 11437}))
    hosts = {}
    for name in ("dev-a", "dev-b"):
        hosts[name] = {"ansible_connection": "local", "ansible_become": False,
                       "ansible_python_interpreter": sys.executable,
                       "reconcile_config_dir": str(tmp_path / name),
                       "reconcile_json_dir": str(tmp_path / name / "xdg"),
                       "reconcile_unit_dir": str(tmp_path / name / "units"),
                       "reconcile_journal_dir": str(tmp_path / name / "journal"),
                       # no systemd here for a revert timer: each change is confirmed at once
                       "reconcile_confirm_timeout": 0}
    inventory = {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
        "children": {"hailo_devices": {"hosts": hosts, "vars": {"reconcile_serial": [1, 1]}}}}}
    (tmp_path / "fleet.yml").write_text(json.dumps(inventory))
    return tmp_path


def run(fleet, *args, env=None):
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), **(env or {}))
    result = subprocess.run(
        [PLAYBOOK_BIN, "playbooks/reconcile.yml", "-i", str(fleet / "fleet.yml"),
         "-e", json.dumps({"reconcile_report_dir": str(fleet / "reports"), "reconcile_health_timeout": 2}),
         *args], cwd=REPO, env=environ, capture_output=True, text=True, timeout=300, check=False)
    report = None
    path = fleet / "reports" / "fleet-rollout.json"
    if path.exists():
        report = json.loads(path.read_text())
    return result, report


def fleet_map(report):
    return {row["service"]: (row["old"], row["new"]) for row in report["fleet_map"]}


def test_list_tags_shows_plan_apply_and_verify(fleet):
    result, _report = run(fleet, "--list-tags")
    assert result.returncode == 0, result.stderr
    tags = set()
    for line in result.stdout.splitlines():
        if "TASK TAGS:" in line:
            tags |= set(t.strip() for t in line.split("[", 1)[1].rstrip("]").split(","))
    assert {"plan", "apply", "verify"} <= tags


def test_plan_changes_nothing_and_reports_what_would_change(fleet):
    before = digest(fleet / "dev-a"), digest(fleet / "dev-b")
    result, report = run(fleet, "--tags", "plan")
    assert result.returncode == 0, result.stdout[-3000:]
    assert (digest(fleet / "dev-a"), digest(fleet / "dev-b")) == before
    assert report["check_mode"] is True
    assert fleet_map(report)["hailo-depth"] == (11436, 11438)
    device = report["devices"]["dev-a"]
    assert device["outcome"] == "changed"  # would change
    # would restart: the movers first (this controller runs none of the services, so the
    # others follow as "should run but does not")
    assert device["restarted"][:3] == ["hailo-depth", "hailo-piper", "hailo-pose"]
    # reconcile_serial from the inventory's group vars, and the batches really used
    assert report["meta"]["serial"] == [1, 1]
    assert report["meta"]["batches"] == [["dev-a"], ["dev-b"]]


def test_limit_keeps_the_whole_fleets_map_and_handles_only_the_limited_device(fleet):
    before = digest(fleet / "dev-b")
    result, report = run(fleet, "--tags", "plan", "--limit", "dev-a")
    assert result.returncode == 0, result.stdout[-3000:]
    # dev-b's hailo-radar holds 11437 though dev-b is outside the limit
    assert fleet_map(report)["hailo-depth"] == (11436, 11438)
    assert list(report["devices"]) == ["dev-a"]
    assert report["meta"]["limit"] == "dev-a"
    assert digest(fleet / "dev-b") == before


@pytest.mark.parametrize("given, batches", [("[2]", [["dev-a", "dev-b"]]), ("1", [["dev-a"], ["dev-b"]])])
def test_serial_given_with_e_as_text(fleet, given, batches):
    result, report = run(fleet, "--tags", "plan", "-e", "reconcile_serial=%s" % given)
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["meta"]["batches"] == batches


def test_a_bad_serial_is_refused_naming_the_value(fleet):
    result, _report = run(fleet, "--tags", "plan", "-e", "reconcile_serial=fast")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "reconcile_serial: 'fast'" in output


def test_verify_fails_the_run_when_a_device_is_unhealthy_and_still_reports(fleet):
    """Nothing listens on this controller: --tags verify must fail, not exit 0."""
    before = digest(fleet / "dev-a")
    result, report = run(fleet, "--tags", "verify", "--limit", "dev-a")
    assert result.returncode != 0
    assert report["devices"]["dev-a"]["outcome"] == "failed"
    assert "Check mode changed nothing" not in report["devices"]["dev-a"]["message"]
    assert digest(fleet / "dev-a") == before


def test_an_unreachable_device_fails_the_run_and_is_reported(fleet):
    inventory = json.loads((fleet / "fleet.yml").read_text())
    inventory["all"]["children"]["hailo_devices"]["hosts"]["dev-gone"] = {
        "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9,
        "ansible_ssh_common_args": "-o ConnectTimeout=3"}
    (fleet / "fleet.yml").write_text(json.dumps(inventory))
    result, report = run(fleet, "--tags", "plan")
    assert result.returncode != 0
    assert report["devices"]["dev-gone"]["outcome"] == "unreachable"
    assert report["devices"]["dev-a"]["outcome"] == "changed"


def test_strategy_free_still_gives_one_fleet_map(fleet):
    result, report = run(fleet, "--tags", "plan", env={"ANSIBLE_STRATEGY": "free"})
    assert result.returncode == 0, result.stdout[-3000:]
    assert fleet_map(report)["hailo-depth"] == (11436, 11438)
    assert report["meta"]["batches"] == [["dev-a"], ["dev-b"]]


def test_check_mode_reports_the_change_and_changes_nothing(fleet):
    """Check mode runs the device's transaction in check mode: it works out every write (so a
    device without systemd passes too), says what would restart, and writes nothing, not even
    the journal."""
    before = digest(fleet / "dev-a")
    result, report = run(fleet, "--check", "--limit", "dev-a")
    assert result.returncode == 0, result.stdout[-3000:]
    device = report["devices"]["dev-a"]
    assert report["check_mode"] is True
    assert device["outcome"] == "changed"
    assert "hailo-depth" in device["restarted"]
    assert digest(fleet / "dev-a") == before
    assert not (fleet / "dev-a" / "journal").exists()


STANDBY_ALL = {"reconcile_services": {name: {"state": "standby"} for name in list(SEEDED) + ["hailo-radar"]}}


def plan(fleet, *args):
    """playbooks/plan.yml, with every service standby so that applying it later restarts
    nothing on this controller (a stopped standby service stays stopped)."""
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    return subprocess.run(
        [PLAYBOOK_BIN, "playbooks/plan.yml", "-i", str(fleet / "fleet.yml"),
         "-e", json.dumps(dict(STANDBY_ALL, reconcile_report_dir=str(fleet / "reports"),
                               reconcile_plan_out=str(fleet / "plans" / "fleet-plan"))), *args],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=300, check=False)


def test_a_saved_plan_is_written_for_review_and_changes_nothing(fleet):
    before = digest(fleet / "dev-a"), digest(fleet / "dev-b")
    result = plan(fleet)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (digest(fleet / "dev-a"), digest(fleet / "dev-b")) == before
    doc = json.loads((fleet / "plans" / "fleet-plan.json").read_text())
    assert doc["fleet_map"]["hailo-depth"] == 11438
    assert {m["service"]: m["to"] for m in doc["devices"]["dev-a"]["moves"]} == {
        "hailo-depth": 11438, "hailo-piper": 5003, "hailo-pose": 11439}
    review = (fleet / "plans" / "fleet-plan.md").read_text()
    assert "| hailo-depth | 11436 | 11438 |" in review
    assert "reconcile_plan_file" in review


def test_applying_a_saved_plan_applies_exactly_its_map(fleet):
    assert plan(fleet).returncode == 0
    result, report = run(fleet, "--limit", "dev-a", "-e", json.dumps(dict(
        STANDBY_ALL, reconcile_plan_file=str(fleet / "plans" / "fleet-plan.json"))))
    assert result.returncode == 0, result.stdout[-3000:]
    # the plan's port, which dev-b's radar (outside the limit) decided
    assert "port: 11438" in (fleet / "dev-a" / "hailo-depth.yaml").read_text()
    assert report["devices"]["dev-a"]["outcome"] == "changed", result.stdout[-6000:]


def test_a_device_that_drifted_since_the_plan_is_refused_naming_the_drift(fleet):
    assert plan(fleet).returncode == 0
    clip = fleet / "dev-a" / "hailo-clip.yaml"
    clip.write_text(clip.read_text().replace("port: 5000", "port: 5005"))
    before = digest(fleet / "dev-a")
    result, report = run(fleet, "--limit", "dev-a", "-e", json.dumps(dict(
        STANDBY_ALL, reconcile_plan_file=str(fleet / "plans" / "fleet-plan.json"))))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "dev-a drifted from the saved plan" in output
    assert "hailo-clip is on 5005 now, the plan saw 5000" in output
    assert digest(fleet / "dev-a") == before
    assert report["devices"]["dev-a"]["outcome"] == "failed"


def test_the_source_tree_follows_the_fleet_map_not_the_first_device(fleet):
    """dev-a (the only device of this run) does not run hailo-pose: pose's references in the
    source tree are migrated anyway, to the fleet map's port."""
    (fleet / "dev-a" / "hailo-pose.yaml").unlink()
    tree = fleet / "system_services"
    shutil.copytree(os.path.join(REPO, "tests", "unit", "fixtures", "system_services"), tree, symlinks=True)
    spec = tree / "hailo-pose" / "API_SPEC.md"
    assert "11436" in spec.read_text()
    result, _report = run(fleet, "--limit", "dev-a", "-e", json.dumps(dict(
        STANDBY_ALL, source_tree_path=str(tree), source_tree_report_dir=str(fleet / "reports"))))
    assert result.returncode == 0, result.stdout[-3000:]
    text = spec.read_text()
    assert "11436" not in text and "11439" in text  # dev-b's radar holds 11437: pose gets 11439
