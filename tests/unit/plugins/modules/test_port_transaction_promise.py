# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change's promise beyond one powered run: the boot revert, the lease, ids, removal.

Runs plugins/modules/port_transaction.py as a subprocess on real files, with the stand-ins for
``systemctl`` and ``systemd-run`` of test_port_transaction.py (the molecule scenario ``faults``
checks the same against real systemd, a killed device and two runs at once).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import time

# The fixtures are used by name: pytest finds them in this module's namespace.
from test_port_transaction import (  # noqa: F401 pylint: disable=import-error,unused-import
    DEPTH,
    DEPTH_JSON,
    calls,
    device,
    move_depth,
    run,
    server,
)


def revert_script(device, mode, *args):
    journal_dir = device / "journal"
    env = dict(os.environ, PATH="%s:%s" % (device / "bin", os.environ["PATH"]), FAKE_LOG=str(device / "calls.log"))
    return subprocess.run([sys.executable, str(journal_dir / "revert.py"), str(journal_dir), mode, *args], env=env,
                          check=False, timeout=30, capture_output=True)


def test_the_device_script_confirms_its_change_as_the_module_does(device, server):
    """`revert.py JOURNAL_DIR --confirm ID HOLDER`: the controller's confirmation as one command."""
    journal_dir = device / "journal"
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30, lease_holder="run-a"))
    assert not result.get("failed"), result
    foreign = revert_script(device, "--confirm", "1-abcdef", "run-a")
    assert foreign.returncode == 1 and json.loads(foreign.stdout)["msg"] == (
        "change 1-abcdef is not this device's pending change (the pending change is %s); nothing was confirmed"
        % result["id"])
    assert (journal_dir / "journal.json").exists() and (journal_dir / "lease.json").exists()
    confirmed = revert_script(device, "--confirm", result["id"], "run-a")
    assert confirmed.returncode == 0, confirmed.stderr
    assert json.loads(confirmed.stdout) == {"changed": True, "msg": "change %s confirmed" % result["id"],
                                            "lease_released": True}
    assert not (journal_dir / "journal.json").exists() and not (journal_dir / "lease.json").exists()
    assert "systemctl stop -- port-reconcile-revert-%s.timer" % result["id"] in " ".join(calls(device))
    assert b"port: 11439" in (device / "etc-hailo" / "hailo-depth.yaml").read_bytes()  # kept
    again = revert_script(device, "--confirm", result["id"], "run-a")
    assert again.returncode == 1 and "no change is pending" in json.loads(again.stdout)["msg"]


def test_the_device_script_refuses_to_confirm_a_change_the_device_reverted(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30, lease_holder="run-a"))
    journal = json.loads((device / "journal" / "journal.json").read_text())
    journal["confirm_by"] = time.time() - 1
    (device / "journal" / "journal.json").write_text(json.dumps(journal))
    assert revert_script(device, "--timer").returncode == 0
    late = revert_script(device, "--confirm", result["id"], "run-a")
    answer = json.loads(late.stdout)
    assert late.returncode == 1 and "reverted by the device before it was confirmed" in answer["msg"]
    assert answer["rollback"]["id"] == result["id"] and answer["lease_released"] is False
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH


def test_the_first_change_installs_an_enabled_boot_unit_ordered_before_the_services(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    assert not result.get("failed"), result
    unit = (device / "units" / "port-reconcile-boot.service").read_text()
    assert "DefaultDependencies=no" in unit and "Before=sysinit.target ufw.service" in unit
    assert "WantedBy=sysinit.target" in unit
    assert "ExecStart=%s %s %s --boot" % (sys.executable, device / "journal" / "revert.py", device / "journal") in unit
    # Enabled as systemctl enable does it: the next boot reads the link.
    link = device / "units" / "sysinit.target.wants" / "port-reconcile-boot.service"
    assert os.readlink(str(link)) == str(device / "units" / "port-reconcile-boot.service")
    # No unit or timer of the collection is named hailo-*: the portal's user may stop those.
    for line in calls(device):
        for word in line.split():
            assert not word.startswith(("--unit=hailo-", "hailo-services-revert")) or line.startswith("systemctl stop")


def test_a_boot_revert_restores_a_change_left_between_two_writes(device, server):
    """Power cut after the YAML was written and before its JSON copy: both come back at boot."""
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    journal_dir = device / "journal"
    yaml_path = device / "etc-hailo" / "hailo-depth.yaml"
    json_path = device / "xdg" / "hailo-depth" / "hailo-depth.json"
    # The device as the cut left it: the journal at an early stage, the new YAML, the old JSON.
    journal = json.loads((journal_dir / "journal.json").read_text())
    journal["stage"] = "armed"
    (journal_dir / "journal.json").write_text(json.dumps(journal))
    json_path.write_bytes(DEPTH_JSON)
    assert b"port: 11439" in yaml_path.read_bytes()
    before = len(calls(device))
    proc = revert_script(device, "--boot")
    assert proc.returncode == 0, proc.stderr
    assert yaml_path.read_bytes() == DEPTH
    assert json_path.read_bytes() == DEPTH_JSON
    assert not (journal_dir / "journal.json").exists()
    # Files only: nothing is started or stopped this early in boot (and no unit changed here).
    assert calls(device)[before:] == []
    last = json.loads((journal_dir / "last-revert.json").read_text())
    assert last["id"] == result["id"] and last["at_boot"] and "before the change was confirmed" in last["reason"]
    # The next change reports the boot revert once.
    again = run(device, move_depth(device, 11439, server))
    assert again["found"]["at_boot"]


def test_a_revert_by_the_device_ends_the_claim_of_the_run_that_made_the_change(device, server):
    """A dead run's claim must not outlive its change: the device reverted it at boot or by timer."""
    journal_dir = device / "journal"
    for mode in ("--boot", "--timer"):
        result = run(device, move_depth(device, 11439, server, confirm_timeout=30, lease_holder="run-a"))
        assert not result.get("failed"), result
        assert json.loads((journal_dir / "lease.json").read_text())["holder"] == "run-a"
        if mode == "--timer":
            journal = json.loads((journal_dir / "journal.json").read_text())
            journal["confirm_by"] = time.time() - 1
            (journal_dir / "journal.json").write_text(json.dumps(journal))
        assert revert_script(device, mode).returncode == 0
        assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
        assert not (journal_dir / "lease.json").exists(), mode
        late = run(device, {"state": "confirmed", "id": result["id"], "lease_holder": "run-a"})
        assert late["failed"] and "reverted by the device" in late["msg"]


def test_a_boot_revert_that_cannot_restore_keeps_the_journal(device, server):
    run(device, move_depth(device, 11439, server, confirm_timeout=30))
    journal_dir = device / "journal"
    journal = json.loads((journal_dir / "journal.json").read_text())
    for entry in journal["files"]:
        os.unlink(str(journal_dir / entry["saved"]))
    proc = revert_script(device, "--boot")
    assert proc.returncode == 1
    kept = json.loads((journal_dir / "journal.json").read_text())
    assert kept["stage"] == "revert_failed" and kept["revert_errors"]


def test_a_revert_script_refuses_a_relative_journal_dir(device, server):
    run(device, move_depth(device, 11439, server, confirm_timeout=30))
    proc = subprocess.run([sys.executable, str(device / "journal" / "revert.py"), "journal", "--boot"],
                          cwd=str(device), check=False, capture_output=True, timeout=30)
    assert proc.returncode == 2 and b"absolute" in proc.stderr


def test_confirm_and_revert_act_only_on_their_own_change(device, server):
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    foreign = run(device, {"state": "confirmed", "id": "1-abcdef"})
    assert foreign["failed"] and "not this device's pending change (the pending change is %s)" % result["id"] \
        in foreign["msg"]
    wrong = run(device, {"state": "reverted", "id": "1-abcdef"})
    assert wrong["failed"] and "nothing was reverted" in wrong["msg"]
    assert (device / "journal" / "journal.json").exists()
    unknown = run(device, {"state": "confirmed", "id": result["id"]})
    assert unknown["changed"]
    gone = run(device, {"state": "confirmed", "id": result["id"]})
    assert gone["failed"] and "no change is pending" in gone["msg"]


def test_a_live_lease_of_another_run_refuses_change_and_revert(device, server):
    journal_dir = device / "journal"
    first = run(device, move_depth(device, 11439, server, confirm_timeout=30, lease_holder="run-a"))
    assert not first.get("failed"), first
    lease = json.loads((journal_dir / "lease.json").read_text())
    assert lease["holder"] == "run-a" and lease["expires"] > time.time() + 30
    # Mid-change the claim lasts until the change's revert deadline (300 + 30 s, and a margin).
    assert lease["expires"] <= time.time() + 300 + 30 + 15
    # A second run may neither revert run-a's change in flight nor change the device.
    revert = run(device, {"state": "reverted", "lease_holder": "run-b"})
    assert revert["failed"] and "run run-a" in revert["msg"] and "nothing was reverted" in revert["msg"]
    assert b"port: 11439" in (device / "etc-hailo" / "hailo-depth.yaml").read_bytes()
    # Confirming releases the lease; then run-b may change the device.
    confirmed = run(device, {"state": "confirmed", "id": first["id"], "lease_holder": "run-a"})
    assert confirmed["lease_released"] and not (journal_dir / "lease.json").exists()
    second = run(device, move_depth(device, 11440, server, lease_holder="run-b"))
    assert not second.get("failed"), second
    assert second["lease_released"]  # confirm_timeout 0: nothing left to confirm


def test_a_change_is_refused_while_another_run_holds_the_lease(device, server):
    journal_dir = device / "journal"
    journal_dir.mkdir(mode=0o700)
    (journal_dir / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 60,
                                                        "controller": "ops@laptop"}))
    refused = run(device, move_depth(device, 11439, server, lease_holder="run-b"))
    assert refused["failed"] and "another rollout holds this device: run run-a (ops@laptop), whose claim expires at" in refused["msg"]
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    # An expired lease is no claim: a dead run's device is free again.
    (journal_dir / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() - 1}))
    taken = run(device, move_depth(device, 11439, server, lease_holder="run-b"))
    assert not taken.get("failed"), taken


def test_a_failed_change_releases_the_lease(device):
    result = run(device, move_depth(device, 11439, 1, lease_holder="run-a"))
    assert result["rolled_back"] and result["lease_released"]
    assert not (device / "journal" / "lease.json").exists()


def test_released_drops_only_the_own_lease(device, server):
    journal_dir = device / "journal"
    journal_dir.mkdir(mode=0o700)
    (journal_dir / "lease.json").write_text(json.dumps({"holder": "run-a", "expires": time.time() + 60}))
    assert not run(device, {"state": "released", "lease_holder": "run-b"})["lease_released"]
    assert run(device, {"state": "released", "lease_holder": "run-a"})["lease_released"]
    assert not (journal_dir / "lease.json").exists()


def test_a_journal_and_timer_of_the_first_release_are_still_reverted(device, server):
    """A device upgraded mid-change: its journal (version 1) and its hailo-services-revert timer."""
    result = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    journal_dir = device / "journal"
    journal = json.loads((journal_dir / "journal.json").read_text())
    journal.pop("holder", None)
    journal.pop("rearmed", None)
    (journal_dir / "journal.json").write_text(json.dumps(journal))
    reverted = run(device, {"state": "reverted", "lease_holder": "run-b"})
    assert reverted["changed"], reverted
    assert (device / "etc-hailo" / "hailo-depth.yaml").read_bytes() == DEPTH
    stops = [line for line in calls(device) if line.startswith("systemctl stop -- port-reconcile-revert-")]
    assert "hailo-services-revert-%s.timer" % result["id"] in stops[-1].split()


def test_absent_removes_the_boot_unit_and_the_journal_dir(device, server):
    pending = run(device, move_depth(device, 11439, server, confirm_timeout=30))
    refused = run(device, {"state": "absent"})
    assert refused["failed"] and "not confirmed yet" in refused["msg"]
    run(device, {"state": "confirmed", "id": pending["id"]})
    removed = run(device, {"state": "absent"})
    assert removed["changed"], removed
    assert not (device / "units" / "port-reconcile-boot.service").exists()
    assert not (device / "journal").exists()
    assert not os.path.lexists(str(device / "units" / "sysinit.target.wants" / "port-reconcile-boot.service"))
    assert not run(device, {"state": "absent"})["changed"]
