"""A user's path: the collection built, installed from its tarball, and run with an inventory of
the user's own, away from this checkout and its ansible.cfg."""
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
# The plan's table: what the shipped catalog gives with no inventory catalog at all.
PLAN_MAP = {
    "hailo-clip": (5000, 5000), "hailo-scrfd": (5001, 5001), "hailo-face": (5002, 5002),
    "hailo-piper": (5002, 5003), "hailo-ollama": (11434, 11434), "hailo-vision": (11435, 11435),
    "hailo-ocr": (11436, 11436), "hailo-whisper": (11437, 11437), "hailo-florence": (11438, 11438),
    "hailo-depth": (11436, 11439), "hailo-pose": (11436, 11440),
}


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The tarball, installed the way the README says, into a collections path of its own."""
    work = tmp_path_factory.mktemp("user")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                    str(work)], cwd=REPO, check=True, capture_output=True, timeout=300)
    tarball = next(work.glob("hailo-services-*.tar.gz"))
    target = work / "collections"
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", str(tarball),
                    "-p", str(target)], cwd=str(work), env=_clean_env(), check=True,
                   capture_output=True, timeout=300)
    return work, target


def run_user_playbook(installed, name, inventory_vars):
    """``ansible-playbook -i my-fleet.yml hailo.services.reconcile`` in the user's directory.

    The one device is the controller with an empty config directory, so the map comes from
    the catalog alone and nothing on this machine is changed.
    """
    work, target = installed
    run_dir = work / name
    (run_dir / "etc-hailo").mkdir(parents=True)
    host = dict({"ansible_connection": "local", "ansible_become": False,
                 "ansible_python_interpreter": sys.executable,
                 "reconcile_config_dir": str(run_dir / "etc-hailo")}, **inventory_vars)
    inventory = {"all": {"children": {"hailo_devices": {"hosts": {"localhost": host}}}}}
    (run_dir / "my-fleet.yml").write_text(yaml.safe_dump(inventory))
    result = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "-i", "my-fleet.yml", "hailo.services.reconcile"],
        cwd=str(run_dir), env=_clean_env(ANSIBLE_COLLECTIONS_PATH=str(target)),
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    with open(run_dir / "reports" / "fleet-rollout.json", encoding="utf-8") as handle:
        report = json.load(handle)
    return {row["service"]: (row["old"], row["new"]) for row in report["fleet_map"]}


def test_the_installed_collection_gives_the_plans_map(installed):
    assert run_user_playbook(installed, "plain", {}) == PLAN_MAP


def test_an_inventory_overrides_an_entry_and_adds_a_service(installed):
    fleet_map = run_user_playbook(installed, "overrides", {"reconcile_services": {
        "hailo-depth": {"priority": 2},          # now depth keeps the shared port
        "hailo-radar": {"port": 5000},           # a service of the user's own
    }})
    assert fleet_map["hailo-depth"] == (11436, 11436)
    assert fleet_map["hailo-ocr"] == (11436, 11439)
    assert fleet_map["hailo-pose"] == (11436, 11440)
    assert fleet_map["hailo-ollama"] == (11434, 11434)  # the rest of the shipped entry is kept
    assert fleet_map["hailo-clip"] == (5000, 5000)
    # losers are placed alphabetically: piper takes 5003 first
    assert fleet_map["hailo-piper"] == (5002, 5003)
    assert fleet_map["hailo-radar"] == (5000, 5004)


def test_plan_review_apply_as_the_readme_shows_it(installed):
    """``hailo.services.plan`` writes plans/fleet-plan.json in the user's directory, and
    ``-e reconcile_plan_file=plans/fleet-plan.json`` (relative, as the README has it) reads it
    from there: the same directory for writing and for reading."""
    work, target = installed
    run_dir = work / "saved-plan"
    (run_dir / "etc-hailo").mkdir(parents=True)
    host = {"ansible_connection": "local", "ansible_become": False,
            "ansible_python_interpreter": sys.executable, "reconcile_config_dir": str(run_dir / "etc-hailo")}
    (run_dir / "my-fleet.yml").write_text(yaml.safe_dump(
        {"all": {"children": {"hailo_devices": {"hosts": {"localhost": host}}}}}))

    def playbook(*args):
        return subprocess.run(
            [os.path.join(BIN, "ansible-playbook"), "-i", "my-fleet.yml", *args],
            cwd=str(run_dir), env=_clean_env(ANSIBLE_COLLECTIONS_PATH=str(target)),
            capture_output=True, text=True, timeout=300, check=False)

    planned = playbook("hailo.services.plan")
    assert planned.returncode == 0, planned.stdout[-4000:]
    assert (run_dir / "plans" / "fleet-plan.json").is_file()
    assert (run_dir / "plans" / "fleet-plan.md").is_file()
    applied = playbook("hailo.services.reconcile", "-e", "reconcile_plan_file=plans/fleet-plan.json")
    assert applied.returncode == 0, applied.stdout[-4000:]
    assert "Could not find or access" not in applied.stdout
    missing = playbook("hailo.services.reconcile", "-e", "reconcile_plan_file=plans/other.json")
    assert missing.returncode != 0
    assert "reconcile_plan_file plans/other.json: cannot read %s" % (run_dir / "plans" / "other.json") in \
        " ".join(missing.stdout.split())
