"""After each fault: the device on its old files with every service as it was, or on the new map
and healthy, never between; the next run converges and says what it found.

run_faults.py (converge) recorded the device after each case; the old state is the seeded
device before the first case, the new one the device after the run that converged.
"""
import json
import os

import pytest

RESULTS = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"), "faults", "results.json")
HOST = "hailo-faults-pi1"
TARGET = {"11439": "hailo-depth.service", "11440": "hailo-pose.service", "5003": "hailo-piper.service",
          "11434": "hailo-ollama.service", "11436": "hailo-ocr.service", "5002": "hailo-face.service"}
FAULTS = ["kill-configs_written", "kill-units_written", "kill-restarted-1", "kill-checking", "connection-lost",
          "cannot-bind", "backup-false", "trickling-peer", "immutable-json"]
TIMER_REVERTED = ["kill-configs_written", "kill-units_written", "kill-restarted-1", "kill-checking",
                  "connection-lost"]


@pytest.fixture(scope="module")
def results():
    with open(RESULTS) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def cases(results):
    return dict((case["case"], case) for case in results["cases"])


def comparable(snapshot):
    """Files (without timestamped backups), links, and which Hailo unit listens where."""
    files = dict((path, digest) for path, digest in snapshot["files"].items() if not path.endswith("~"))
    listeners = dict((port, unit) for port, unit in snapshot["listeners"].items() if unit.startswith("hailo-"))
    return files, snapshot["links"], listeners


def end_state(results, cases, snapshot):
    if comparable(snapshot) == comparable(results["old"]):
        return "old"
    if comparable(snapshot) == comparable(cases["next-run"]["after"]):
        return "new"
    return "between"


def device(case):
    return ((case["report"] or {}).get("devices") or {}).get(HOST) or {}


def test_the_last_run_converged_onto_the_new_map(cases):
    after = cases["next-run"]["after"]
    assert cases["next-run"]["rc"] == 0, cases["next-run"]["output_tail"]
    listeners = after["listeners"]
    for port, unit in TARGET.items():
        assert listeners.get(port) == unit, (port, listeners)
    assert not after["journal"]


@pytest.mark.parametrize("name", FAULTS)
def test_each_fault_ends_on_the_old_map_as_it_was(results, cases, name):
    case = cases[name]
    assert case["settled"], "%s: the device still held a journal" % name
    assert end_state(results, cases, case["after"]) == "old", (
        name, case["acted"], case["output_tail"][-1500:])


@pytest.mark.parametrize("name", [n for n in FAULTS if not n.startswith("kill-")])
def test_a_fault_the_controller_sees_fails_the_run_and_says_so(cases, name):
    case = cases[name]
    assert case["rc"] == 2, case["output_tail"][-1500:]
    dev = device(case)
    assert dev.get("outcome") in ("rolled_back", "failed"), dev
    assert HOST in dev["message"]


@pytest.mark.parametrize("name", [n for n in FAULTS if n.startswith("kill-")])
def test_the_killed_controller_reached_its_stage(cases, name):
    assert cases[name]["acted"] == "controller killed"
    assert cases[name]["rc"] == -9


@pytest.mark.parametrize("name", TIMER_REVERTED)
def test_the_next_run_reports_what_the_device_reverted_by_itself(results, cases, name):
    look = cases["look-" + name]
    assert look["rc"] == 0, look["output_tail"][-1500:]
    found = device(look).get("found") or {}
    assert found.get("reason") == "not confirmed within 5 s", (name, device(look))
    assert found.get("restored"), found
    assert end_state(results, cases, look["after"]) == "old"  # a plan-only run changes nothing


def test_a_service_that_cannot_bind_is_rolled_back_with_what_runs_where(cases):
    message = device(cases["cannot-bind"])["message"]
    assert "rolled back" in message and "hailo-depth" in message
    assert "Every service is as it was before" in message, message


def test_backup_false_still_restores_and_keeps_no_copies(cases):
    before = set(cases["cannot-bind"]["after"]["files"])
    after = set(cases["backup-false"]["after"]["files"])
    assert after == before  # no timestamped copy added, none lost
    assert device(cases["backup-false"])["outcome"] == "rolled_back"


def test_a_trickling_health_peer_does_not_hold_the_deadline(cases):
    case = cases["trickling-peer"]
    message = device(case)["message"]
    assert "hailo-depth" in message
    # reconcile_health_timeout is 15 s: a run takes about 30 s on its own.
    assert case["seconds"] < 120, case["seconds"]


def test_an_immutable_json_copy_is_reported_and_rolled_back(cases):
    message = device(cases["immutable-json"])["message"]
    assert "hailo-depth.json" in message and "rolled back" in message, message


def test_the_symlinked_config_stayed_a_link_through_every_case(results):
    for case in results["cases"]:
        assert case["after"]["links"] == results["old"]["links"], case["case"]
    assert results["old"]["links"], "hailo-pose.yaml should be a symlink"


def test_a_change_left_by_a_killed_module_is_reverted_by_the_next_run(cases):
    assert cases["module-killed"]["journal_left"]
    found = device(cases["next-run"]).get("found") or {}
    assert "left unfinished at stage configs_written" in found.get("reason", ""), device(cases["next-run"])


def test_a_rerun_changes_nothing(cases):
    assert cases["no-op"]["rc"] == 0
    assert device(cases["no-op"])["outcome"] == "ok", device(cases["no-op"])
    assert comparable(cases["no-op"]["after"]) == comparable(cases["next-run"]["after"])
