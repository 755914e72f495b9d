"""After each fault: the device on its old files with every service as it was, or on the new map
and healthy, never between; the next run converges and says what it found. After a power cut
mid-change the device boots on its old files; of two rollouts at once, neither undoes the other.

run_faults.py (converge) recorded the device after each case; the old state is the seeded
device before the first case, the new one the device after the run that converged. Every fault
was injected from outside at a stage the watcher saw in the journal: a stage that was never
reached, or left before the module stopped, fails its case here.
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
# The cases whose fault was injected at a stage the watcher held the module at (or observed).
WATCHED = {"kill-configs_written": "configs_written", "kill-units_written": "units_written",
           "kill-restarted-1": "restarted-1", "kill-checking": "checking", "connection-lost": "units_written",
           "trickling-peer": "armed", "module-killed": "configs_written", "power-loss": "checking",
           "lease-short-a": "checking", "lease-wait-a": "checking"}
LEASES = {"lease-short-a": 2, "lease-wait-a": 300}


@pytest.fixture(scope="module")
def results():
    with open(RESULTS) as handle:
        return json.load(handle)


class Cases(dict):
    def __missing__(self, name):
        pytest.fail("case %s did not run (FAULT_GROUPS?)" % name)


@pytest.fixture(scope="module")
def cases(results):
    return Cases((case["case"], case) for case in results["cases"])


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


def test_a_change_left_by_a_killed_module_is_reverted_and_the_next_run_reports_it(cases):
    """The killed run's claim lasts until its change's revert deadline, so the next run waits for
    it; by then the device's timer has reverted the change (had the timer been lost, the next run
    would revert it itself). Either way the next run reports that revert and converges."""
    assert cases["module-killed"]["journal_left"]
    found = device(cases["next-run"]).get("found") or {}
    reason = found.get("reason", "")
    assert ("not confirmed within" in reason or "left unfinished at stage configs_written" in reason), \
        device(cases["next-run"])
    assert found.get("restored") and not found.get("errors"), found
    assert cases["next-run"]["rc"] == 0 and not cases["next-run"]["after"]["journal"]


def test_a_rerun_changes_nothing(cases):
    assert cases["no-op"]["rc"] == 0
    assert device(cases["no-op"])["outcome"] == "ok", device(cases["no-op"])
    assert comparable(cases["no-op"]["after"]) == comparable(cases["next-run"]["after"])


@pytest.mark.parametrize("name", sorted(WATCHED))
def test_the_fault_was_injected_at_its_stage(cases, name):
    """The watcher saw the journal reach the stage and held the module there (or observed it)."""
    watch = cases[name]["watch"] or {}
    assert watch.get("reached"), (name, cases[name]["acted"], watch)
    assert watch.get("caught"), (name, watch.get("why"), watch)
    assert watch.get("stage") == WATCHED[name], watch


# ---------------------------------------------------------------- power loss (issue 17, 1 a)
def hailo(listeners):
    return dict((port, unit) for port, unit in listeners.items() if unit.startswith("hailo-"))


def hailo_files(snapshot):
    """The Hailo files (configs, JSON copies, units); the timestamped backups are extra copies."""
    return dict((path, digest) for path, digest in snapshot["files"].items() if not path.endswith("~"))


def test_the_boot_revert_unit_was_installed_before_the_power_cut(cases):
    # That it runs early enough at boot is proven by the files and listeners after the boot.
    assert cases["power-loss"]["boot_unit"] in ("enabled", "static"), cases["power-loss"]["boot_unit"]


def test_no_unit_of_the_collection_is_named_hailo(cases):
    """The portal's user may stop any hailo-* unit: the revert timer must not be one."""
    case = cases["power-loss"]
    change = case["watch"]["id"]
    units = case["units_in_flight"]
    assert "port-reconcile-revert-%s.timer" % change in units, [u for u in units if "revert" in u]
    ours = [u for u in units if u.startswith("hailo-") and ("revert" in u or "reconcile" in u or "services" in u)]
    assert not ours, ours


def test_the_device_boots_cleanly_after_the_power_cut(cases):
    assert cases["power-loss"]["boot"] in ("running", "degraded"), cases["power-loss"]["boot"]


def test_after_the_power_cut_every_hailo_file_is_byte_exact(cases):
    case = cases["power-loss"]
    assert hailo_files(case["after"]) == hailo_files(case["before"])
    assert case["after"]["links"] == case["before"]["links"]


def test_after_the_power_cut_every_service_answers_where_it_did(cases):
    case = cases["power-loss"]
    assert hailo(case["after"]["listeners"]) == hailo(case["before"]["listeners"])
    assert case["after"]["answers"] == case["before"]["answers"]
    assert set(case["before"]["answers"].values()) == {200}, case["before"]["answers"]


def test_the_boot_reverted_the_journal_and_recorded_it(cases):
    case = cases["power-loss"]
    assert not case["after"]["journal"], "the journal survived the reboot"
    revert = case["after"]["last_revert"] or {}
    assert revert.get("id") == case["watch"]["id"], revert


def test_the_run_after_the_power_cut_reports_the_revert_and_converges(cases):
    case = cases["after-power-loss"]
    change = cases["power-loss"]["watch"]["id"]
    assert case["rc"] == 0, case["output_tail"][-1500:]
    found = device(case).get("found") or {}
    assert found.get("id") == change and found.get("restored"), device(case)
    assert case["mentions_the_revert"], "the run's output does not mention the reverted change %s" % change
    assert device(case)["outcome"] == "changed", device(case)
    assert not case["after"]["journal"]
    assert depth_port(case) in case["after"]["listeners"]
    assert case["after"]["listeners"][depth_port(case)] == "hailo-depth.service"


def depth_port(case):
    """hailo-depth's new port in a run's report."""
    return str([row for row in case["report"]["fleet_map"] if row["service"] == "hailo-depth"][0]["new"])


# ---------------------------------------------------------------- two rollouts (issue 17, 2)
def said(run):
    """What a run said about the device: its report's message and its output."""
    return "%s\n%s" % (device(run).get("message") or "", run["output_tail"])


def holder_named(lease, text):
    holder = (lease or {}).get("holder")
    names = [holder] if isinstance(holder, str) else [v for v in (holder or {}).values() if isinstance(v, str)]
    return bool(names) and any(name in text for name in names)


@pytest.mark.parametrize("name", sorted(LEASES))
def test_a_run_in_flight_holds_the_lease(cases, name):
    lease = cases[name]["lease"]
    assert lease and lease.get("holder") and lease.get("expires"), lease


@pytest.mark.parametrize("name", sorted(LEASES))
def test_the_first_run_completes_and_nothing_undoes_it(cases, name):
    a = cases[name]
    assert a["rc"] == 0, a["output_tail"][-1500:]
    assert device(a)["outcome"] == "changed", device(a)
    assert not device(a).get("found"), device(a)  # no revert of anything, ours or another run's
    port = depth_port(a)
    assert a["after"]["listeners"].get(port) == "hailo-depth.service", (port, a["after"]["listeners"])
    assert a["depth_ports"] == {"yaml": int(port), "json": int(port)}, a["depth_ports"]  # A's new files
    assert not a["after"]["journal"] and not a["after"]["last_revert"], a["after"]["last_revert"]
    assert a["settled"]
    # The second run reverted nothing of A's (today's bug: it took A's journal for a dead run's).
    b = a["b"] or {}
    assert (device(b).get("found") or {}).get("id") != a["watch"]["id"], device(b).get("found")
    assert "reverting it before planning" not in b.get("output_tail", ""), b.get("output_tail", "")[-1500:]


@pytest.mark.parametrize("name", sorted(LEASES))
def test_the_second_run_waited_or_refused_naming_the_holder(cases, name):
    a, b = cases[name], cases[name]["b"]
    assert b is not None, a["acted"]
    if b["rc"] == 0:
        # It waited for the lease, then planned from A's finished change: nothing to do.
        assert LEASES[name] > 2, "with a 2 s wait the second run must refuse: %s" % said(b)[-1500:]
        assert device(b)["outcome"] == "ok", device(b)
        assert b["ended"] > a["ended"] - 1, "the second run ended before the first released its lease"
    else:
        text = said(b)
        assert holder_named(a["lease"], text), (a["lease"], text[-1500:])
        assert "expire" in text.lower(), text[-1500:]
        # Its report must not claim a change it did not make, nor a rollback of A's.
        assert device(b).get("outcome") not in ("changed", "rolled_back", "ok"), device(b)


def test_a_short_lease_wait_refuses_the_device(cases):
    b = cases["lease-short-a"]["b"]
    assert b is not None and b["rc"] != 0, (b or {}).get("output_tail", "")[-1500:]
