"""The main job through a real ansible-playbook run on the bundled default inventory."""
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

PLAN_ROWS = [
    ("hailo-clip", "5000", "5000"), ("hailo-scrfd", "5001", "5001"),
    ("hailo-face", "5002", "5002"), ("hailo-piper", "5002", "5003"),
    ("hailo-ollama", "11434", "11434"), ("hailo-vision", "11435", "11435"),
    ("hailo-ocr", "11436", "11436"), ("hailo-whisper", "11437", "11437"),
    ("hailo-florence", "11438", "11438"), ("hailo-depth", "11436", "11439"),
    ("hailo-pose", "11436", "11440"),
]


def run_playbook(*args, playbook="playbooks/reconcile.yml"):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    return subprocess.run(
        [PLAYBOOK_BIN, playbook, *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )


def table_rows(stdout):
    rows = []
    for line in stdout.splitlines():
        # a line of a list: `- text` (YAML callback) or `"text",` (default callback)
        line = line.strip().lstrip("-").strip().rstrip(",").strip("'\"")
        fields = line.split()
        if fields and fields[0].startswith("hailo-") and len(fields) >= 3 and fields[1].isdigit():
            rows.append(tuple(fields[:3]))
    return rows


def test_default_inventory_prints_the_plan_table():
    result = run_playbook()
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_rows(result.stdout) == PLAN_ROWS
    assert "11 services, 3 moved: restart order hailo-depth, hailo-piper, hailo-pose" in result.stdout


@pytest.mark.parametrize(
    "extra_vars, culprit",
    [
        ('{"reconcile_services": {"hailo-a": {"port": 5000, "frozen": true},'
         ' "hailo-b": {"port": 5000, "frozen": true}}}', "frozen services hailo-a and hailo-b"),
        ('{"reconcile_services": {"hailo-a": {"port": 5099, "frozen": true}}}',
         "frozen service hailo-a is on port 5099, which is reserved"),
        ('{"reconcile_services": {"../x": {"port": 5000}}}', "'../x' is not a safe file name"),
    ],
)
def test_bad_catalog_fails_with_the_culprit_named(extra_vars, culprit):
    result = run_playbook("-e", extra_vars)
    assert result.returncode != 0
    assert culprit in result.stdout + result.stderr


@pytest.mark.parametrize(
    "extra_vars, culprit",
    [
        ('{"reconcile_config_settings": {"hailo-ocr": {"ocr": {"langauges": ["en"]}}}}',
         "hailo-ocr: unknown setting ocr.langauges (reconcile_config_settings)"),
        ('{"reconcile_config_settings": {"hailo-piper": {"server": {"port": 5005}}}}',
         "hailo-piper: reconcile_config_settings sets server.port; the port map owns it"),
        ('{"reconcile_config_mode": "own"}', "reconcile_config_mode: 'own' is not allowed; allowed: one of edit, template"),
    ],
)
def test_bad_config_settings_fail_before_any_device_is_touched(extra_vars, culprit):
    result = run_playbook("-e", extra_vars)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert culprit in output
    assert "Discover the Hailo services" not in output  # failed in preflight


def test_template_mode_on_the_controller_previews_the_map():
    result = run_playbook("-e", '{"reconcile_config_mode": "template"}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_rows(result.stdout) == PLAN_ROWS


@pytest.fixture()
def installed_device(tmp_path):
    """A device's files as an installer leaves them, under a temporary root on the controller."""
    config_dir, unit_dir, json_dir = tmp_path / "etc-hailo", tmp_path / "units", tmp_path / "xdg"
    for path in (config_dir, unit_dir, json_dir):
        path.mkdir()
    (config_dir / "hailo-clip.yaml").write_text("# CLIP\nserver:\n  host: 0.0.0.0\n  port: 5000\n")
    units = os.path.join(REPO, "molecule", "resources", "files", "units")
    with open(os.path.join(units, "hailo-clip.service"), encoding="utf-8") as handle:
        (unit_dir / "hailo-clip.service").write_text(handle.read())
    return {"reconcile_config_dir": str(config_dir), "reconcile_unit_dir": str(unit_dir),
            "reconcile_json_dir": str(json_dir), "reconcile_journal_dir": str(tmp_path / "journal")}


def test_a_unit_setting_that_drops_the_installers_environment_is_refused(installed_device):
    """Setting Environment fleet-wide to one variable would lose XDG_CONFIG_HOME & co."""
    extra = dict(installed_device, reconcile_unit_settings={"Service": {"Environment": "HAILO_TRACE=all"}})
    result = run_playbook("-e", json.dumps(extra))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "hailo-clip.service: [Service] Environment would drop XDG_CONFIG_HOME" in output
    assert "Nothing was changed" in output
    with open(os.path.join(installed_device["reconcile_unit_dir"], "hailo-clip.service"),
              encoding="utf-8") as handle:
        assert "Ansible managed" not in handle.read()


def test_a_refused_change_fails_its_device_in_check_mode_too_showing_the_diff(installed_device):
    """--check --diff: the device fails in the recap, as the real run would, and its failure
    shows the config's diff (Ansible shows no diff for a failed task); nothing is written."""
    config = os.path.join(installed_device["reconcile_config_dir"], "hailo-clip.yaml")
    with open(config, "a", encoding="utf-8") as handle:
        handle.write("  workers: 4\n")  # tuned by hand: the template does not know it
    with open(config, encoding="utf-8") as handle:
        before = handle.read()
    extra = dict(installed_device, reconcile_config_mode="template")
    result = run_playbook("--check", "--diff", "-e", json.dumps(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    recap = [line for line in output.splitlines() if line.startswith("localhost ")]
    assert recap and "failed=1" in recap[-1] and "rescued=1" in recap[-1], output  # the apply step
    assert "Switching localhost to config_mode template would change hand-tuned values" in output
    assert "What the change would write:" in output and "-  workers: 4" in output, output
    with open(config, encoding="utf-8") as handle:
        assert handle.read() == before


def test_a_bad_unit_setting_names_the_directive_before_any_device_is_touched(installed_device):
    extra = dict(installed_device, reconcile_services={"hailo-clip": {"unit": {"Service": {"Memory-Max": "1G"}}}})
    result = run_playbook("-e", json.dumps(extra))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "hailo-clip.service" in output and "'Memory-Max'" in output
    assert "Discover the Hailo services" not in output  # failed in preflight


@pytest.mark.parametrize("interpreter, packages", [
    ("no-yaml", "python3-yaml"),
    ("/nonexistent/bin/python3", "python3 python3-yaml"),
])
def test_a_device_without_its_prerequisites_is_named_with_the_package(tmp_path, interpreter, packages):
    """The device's python lacks PyYAML, or there is no python: the run fails, naming the
    Debian packages, and the report is still written."""
    if interpreter == "no-yaml":
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
        interpreter = str(tmp_path / "venv" / "bin" / "python3")
    inventory = tmp_path / "fleet.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": sys.executable}},
        "children": {"hailo_devices": {"hosts": {"bare-pi": {
            "ansible_connection": "local", "ansible_become": False,
            "ansible_python_interpreter": interpreter}}}}}}))
    result = run_playbook("-i", str(inventory), "-e", json.dumps(
        {"reconcile_report_dir": str(tmp_path / "reports")}))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "bare-pi lacks %s: install the Debian package(s) %s" % (packages.replace(" ", " and "), packages) in output
    with open(tmp_path / "reports" / "fleet-rollout.json", encoding="utf-8") as handle:
        assert json.load(handle)["devices"]["bare-pi"]["outcome"] == "failed"


def test_no_redirect_for_a_name_never_released():
    """service_facts was renamed before any release: no routing entry keeps it alive."""
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    assert "plugin_routing" not in runtime
    for role in ("reconcile", "source_tree"):
        with open(os.path.join(REPO, "roles", role, "meta", "main.yml"), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle)
        assert ">=" + meta["galaxy_info"]["min_ansible_version"] == runtime["requires_ansible"]


def test_tables_read_well_with_the_default_callback(tmp_path):
    """Away from this repo's ansible.cfg (YAML results), as in a user's project or AWX."""
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    result = subprocess.run(
        [PLAYBOOK_BIN, "-i", "inventory/hosts.yml", "playbooks/reconcile.yml",
         "-e", json.dumps({"reconcile_report_dir": str(tmp_path / "reports")})],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_rows(result.stdout) == PLAN_ROWS  # one line per row, not one escaped string
    assert not any("\\n" in line for line in result.stdout.splitlines() if "hailo-clip" in line)
