# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_info waits for another run's claim on the device (its lease) and claims nothing itself;
and its one probe per service, as a subprocess."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from test_service_info import make_tree  # noqa: E402 pylint: disable=import-error
from test_service_info import run as run_module  # noqa: E402 pylint: disable=import-error


def run(tmp_path, args, check_mode=False):
    return run_module(tmp_path, args, check_mode=check_mode)[1]


def test_the_discovery_of_a_run_that_will_change_the_device_claims_nothing(tmp_path):
    journal = tmp_path / "journal"
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-a"))
    assert not result.get("failed"), result
    assert not journal.exists() and result["lease"] is None  # the change claims the device


def test_another_runs_live_claim_is_waited_for_then_refused_naming_it(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    (journal / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 120,
                                                    "controller": "cron@ops"}))
    start = time.time()
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-b", lease_wait=2))
    assert time.time() - start >= 2
    assert result["failed"] and result["lease_held"]
    assert "another rollout holds this device: run run-a (cron@ops), whose claim expires at" in result["msg"]
    assert "waited 2 s" in result["msg"]
    assert "services" not in result  # nothing was read, so nothing can be planned from it
    assert json.loads((journal / "lease.json").read_text())["holder"] == "run-a"


def test_a_claim_that_ends_while_waiting_lets_the_discovery_read(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    (journal / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 1.5}))
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-b", lease_wait=10))
    assert not result.get("failed"), result
    assert result["lease"]["holder"] == "run-a" and result["lease"]["waited"] >= 1  # expired, not taken
    assert "hailo-depth" in result["services"]


def test_check_mode_waits_for_a_claim_too_and_writes_nothing(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    (journal / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 60}))
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-b", lease_wait=1),
                 check_mode=True)
    assert result["failed"] and result["lease_held"]
    assert json.loads((journal / "lease.json").read_text())["holder"] == "run-a"


def test_unit_environment_values_stay_on_the_device_unless_asked(tmp_path):
    tree = make_tree(tmp_path)
    unit = tmp_path / "units" / "hailo-depth.service"
    unit.write_text("[Service]\nEnvironment=HF_TOKEN=hf_secret \"XDG_CONFIG_HOME=/etc/xdg\"\nExecStart=/bin/true\n")
    masked = run(tmp_path, tree)
    directives = masked["services"]["hailo-depth"]["unit"]["directives"]
    assert ["Service", "Environment", "HF_TOKEN=*** \"XDG_CONFIG_HOME=***\""] in directives
    assert "hf_secret" not in str(masked)
    # A play that renders units asks for the values (and hides the task's result).
    full = run(tmp_path, dict(tree, return_data=True))
    assert "hf_secret" in str(full["services"]["hailo-depth"]["unit"]["directives"])


def test_one_probe_per_active_service_and_none_for_the_others(tmp_path):
    """hailo-depth's unit is active: one probe of its port, which nothing here serves; the
    services whose units are not active are not probed (they need the transaction anyway)."""
    from test_service_info import fake_systemctl  # noqa: E402 pylint: disable=import-error

    show = ("Id=hailo-depth.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
            "UnitFileState=enabled\nNRestarts=0\nMainPID=0\n\n")
    env, _log = fake_systemctl(tmp_path, show)
    tree = make_tree(tmp_path)
    start = time.time()
    result = run_module(tmp_path, dict(tree, health_paths={"hailo-depth": "/health", "hailo-pose": None},
                                       health_timeout=1), env=env)[1]
    assert not result.get("failed"), result
    assert time.time() - start < 10  # one attempt, no wait
    probe = result["services"]["hailo-depth"]["probe"]
    assert probe["ok"] is False and probe["port"] == 11436
    assert "127.0.0.1:11436" in probe["detail"]
    assert "probe" not in result["services"]["hailo-pose"]  # not active
    assert all("probe" not in found for found in run_module(tmp_path, tree, env=env)[1]["services"].values())


def test_a_journal_directory_another_user_can_write_is_refused_before_its_lease_is_read(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    journal.chmod(0o777)  # anyone could plant a lease here to hold the device
    (journal / "lease.json").write_text(json.dumps({"holder": "run-x", "expires": time.time() + 600}))
    start = time.time()
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-b", lease_wait=30))
    assert time.time() - start < 10  # refused, not waited for
    assert result["failed"] and "journal directory %s: refused" % journal in result["msg"]
