"""The main job through a real ansible-playbook run on the bundled default inventory."""
import os
import subprocess
import sys

import pytest

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
        ('{"reconcile_config_mode": "own"}', "reconcile_config_mode must be one of edit, template, got 'own'"),
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
