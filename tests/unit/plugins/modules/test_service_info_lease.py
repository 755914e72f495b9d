# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_info claims the device for a run that will change it (its lease), as a subprocess."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from test_service_info import make_tree  # noqa: E402 pylint: disable=import-error
from test_service_info import run as run_module  # noqa: E402 pylint: disable=import-error


def run(tmp_path, args, check_mode=False):
    return run_module(tmp_path, args, check_mode=check_mode)[1]


def test_a_run_that_will_change_the_device_claims_it(tmp_path):
    journal = tmp_path / "journal"
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-a",
                                lease_seconds=300, lease_controller="ops@laptop"))
    assert not result.get("failed"), result
    lease = json.loads((journal / "lease.json").read_text())
    assert lease["holder"] == "run-a" and lease["controller"] == "ops@laptop"
    assert 290 < lease["expires"] - time.time() <= 300
    assert result["lease"]["holder"] == "run-a" and result["lease"]["waited"] == 0


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


def test_a_claim_that_ends_while_waiting_is_taken(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir(mode=0o700)
    (journal / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 1.5}))
    result = run(tmp_path, dict(make_tree(tmp_path), journal_dir=str(journal), lease_holder="run-b", lease_wait=10))
    assert not result.get("failed"), result
    assert result["lease"]["holder"] == "run-b" and result["lease"]["waited"] >= 1


def test_check_mode_and_a_device_without_services_take_no_claim(tmp_path):
    journal = tmp_path / "journal"
    tree = make_tree(tmp_path)
    assert not run(tmp_path, dict(tree, journal_dir=str(journal), lease_holder="run-a"), check_mode=True).get("failed")
    assert not journal.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(tmp_path, dict(tree, config_dir=str(empty), journal_dir=str(journal), lease_holder="run-a"))
    assert not result.get("failed"), result
    assert not journal.exists() and result["lease"] is None


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
