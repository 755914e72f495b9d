"""The fleet report document and its Markdown rendering (pure helpers)."""
import json

from ansible_collections.hailo.services.plugins.plugin_utils.fleet import fleet_merge
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import (
    fleet_report,
    fleet_report_markdown,
    report_outputs,
)
from ansible_collections.hailo.services.plugins.plugin_utils.port_map import reconcile

CATALOG = {"hailo-ocr": {"port": 11436, "priority": 1}, "hailo-depth": {"port": 11436},
           "hailo-clip": {"port": 5000}}


def fleet():
    hosts = {
        "pi1": {"services": {"hailo-ocr": {"port": 11436}, "hailo-depth": {"port": 11436},
                             "hailo-clip": {"port": 5000}}, "in_use": [11437]},
        "pi2": {"services": {"hailo-ocr": {"port": 11436}, "hailo-clip": {"port": 5000}},
                "in_use": []},
        "pi3": {"unreachable": True, "msg": "no route"},
    }
    merged = fleet_merge(hosts, CATALOG)
    merged["port_map"] = reconcile(merged["services"], in_use=merged["in_use"])
    return merged


RESULTS = {
    "pi1": {"outcome": "rolled_back", "message": "Port rollout failed on pi1 and was rolled back.",
            "ports": [{"service": "hailo-depth", "old": 11436, "new": 11438}],
            "restarted": ["hailo-depth"],
            "health": {"hailo-depth": {"ok": False, "latency_ms": 1.5, "port": 11438}},
            "rollback": {"restored": ["/etc/hailo/hailo-depth.yaml"], "restarted": ["hailo-ocr"],
                         "stopped": [], "errors": []}},
    "pi2": {"outcome": "ok", "ports": [{"service": "hailo-ocr", "old": 11436, "new": 11436}],
            "restarted": [], "health": {"hailo-ocr": {"ok": True, "latency_ms": 2.25}}},
}


def test_document_summarises_outcomes_and_lists_client_changes():
    doc = fleet_report(fleet(), RESULTS, ["pi1", "pi2", "pi3", "pi4"],
                       {"check_mode": False, "stopped": "1 device failed", "serial": [1]})
    json.dumps(doc)
    assert doc["summary"]["outcomes"]["rolled_back"] == 1
    assert doc["summary"]["outcomes"]["ok"] == 1
    assert doc["summary"]["outcomes"]["unreachable"] == 1
    assert doc["summary"]["outcomes"]["not_reached"] == 1
    assert doc["summary"]["failed_devices"] == ["pi1", "pi3"]
    # pi1's move was rolled back: no client has anything to change
    assert doc["client_changes"] == []
    assert doc["summary"]["moved"] == 1 and doc["summary"]["reached"] == 2
    assert doc["meta"] == {"serial": [1]}
    assert doc["devices"]["pi4"]["outcome"] == "not_reached"


def test_markdown_has_summary_first_then_clients_and_per_device_sections():
    doc = fleet_report(fleet(), RESULTS, ["pi1", "pi2", "pi3"], {"stopped": "1 device failed"})
    text = fleet_report_markdown(doc)
    assert text.index("## Fleet summary") < text.index("## What clients must change") \
        < text.index("## Fleet port map") < text.index("## Devices")
    assert "Nothing: no device moved a service to a new port." in text
    assert "### pi1: failed, rolled back" in text
    assert "| hailo-depth | 11436 | **11438** | yes | FAILED (1.5 ms) |" in text
    assert "Rolled back: restored /etc/hailo/hailo-depth.yaml; restarted hailo-ocr." in text
    assert "### pi3: unreachable" in text
    assert "Rollout stopped before the next batch: 1 device failed." in text
    assert "the rollout did NOT complete" in text
    assert "<table" not in text


def test_check_mode_and_nothing_to_move():
    fleet_map = fleet()
    fleet_map["port_map"] = {"ports": {"hailo-clip": 5000}, "changes": []}
    doc = fleet_report(fleet_map, {"pi2": {"outcome": "changed", "restarted": ["hailo-clip"],
                                           "ports": []}}, ["pi2"], {"check_mode": True})
    text = fleet_report_markdown(doc)
    assert "(check mode: nothing was changed)" in text
    assert "Nothing: no service changes its port." in text
    assert "Would restart, in order: hailo-clip." in text
    assert "every device would reach the fleet map" in text


def test_unknown_outcome_counts_as_failed():
    doc = fleet_report(fleet(), {"pi2": {"outcome": "weird"}}, ["pi2"])
    assert doc["devices"]["pi2"]["outcome"] == "failed"


def test_markdown_opens_with_what_to_do_now():
    failed = fleet_report(fleet(), RESULTS, ["pi1", "pi2", "pi3"], {})
    first = fleet_report_markdown(failed).splitlines()[2]
    assert first.startswith("**Action needed:** 2 devices failed (pi1, pi3)")
    done = fleet_report(fleet(), {"pi2": RESULTS["pi2"]}, ["pi2"], {})
    assert fleet_report_markdown(done).splitlines()[2].startswith("**Done:** every device is on the fleet map")
    planned = fleet_report(fleet(), {"pi2": RESULTS["pi2"]}, ["pi2"], {"check_mode": True})
    assert fleet_report_markdown(planned).splitlines()[2].startswith("**Nothing was changed.**")


def test_outputs_of_a_failed_rollout():
    doc = fleet_report(fleet(), RESULTS, ["pi1", "pi2", "pi3", "pi4"], {"stopped": "1 device failed (pi1)"})
    out = report_outputs(doc, "/srv/reports")
    assert out["markdown"] == fleet_report_markdown(doc)
    assert out["lines"] == fleet_report_markdown(doc).splitlines() + [
        "Fleet report: /srv/reports/fleet-rollout.md and fleet-rollout.json"]
    assert out["message"] == ("Fleet rollout incomplete: pi1, pi3; 1 device failed (pi1). "
                              "See /srv/reports/fleet-rollout.md.")
    assert out["stats"] == {
        "summary": doc["summary"], "client_changes": doc["client_changes"],
        "stopped": "1 device failed (pi1)", "check_mode": False,
        "devices": {"pi1": "rolled_back", "pi2": "ok", "pi3": "unreachable", "pi4": "not_reached"}}
    assert list(out["stats"]) == ["summary", "client_changes", "stopped", "check_mode", "devices"]
    json.dumps(out)


def test_outputs_of_a_complete_rollout_point_at_the_source_references():
    doc = fleet_report(fleet(), {"pi2": RESULTS["pi2"]}, ["pi2"], {})
    out = report_outputs(doc, "/srv/reports", source_references=True)
    assert out["message"] == ""
    assert out["stats"]["stopped"] is None and out["stats"]["devices"] == {"pi2": "ok"}
    assert out["markdown"] == fleet_report_markdown(doc) + (
        "\nSource references migrated in the services' source tree: see "
        "[source-references.md](source-references.md).\n")
    assert "source-references" not in "\n".join(out["lines"])  # the terminal shows the guide alone
    failed = report_outputs(fleet_report(fleet(), RESULTS, ["pi3"], {}), "/r")
    assert failed["message"] == "Fleet rollout incomplete: pi3; not stopped. See /r/fleet-rollout.md."


def test_client_changes_list_only_moves_that_happened_or_would_marked():
    changed = {"outcome": "changed", "restarted": ["hailo-depth"],
               "ports": [{"service": "hailo-depth", "old": 11436, "new": 11438}]}
    done = fleet_report(fleet(), {"pi1": changed, "pi2": RESULTS["pi2"]}, ["pi1", "pi2"], {})
    assert done["client_changes"] == [{"service": "hailo-depth", "old_url": "http://<device>:11436",
                                       "new_url": "http://<device>:11438", "devices": ["pi1"],
                                       "status": "moved"}]
    text = fleet_report_markdown(done)
    assert "| hailo-depth | `http://<device>:11436` | `http://<device>:11438` | pi1 | moved |" in text
    assert "| hailo-depth | 11436 | **11438** | yes | - |" in text
    planned = fleet_report(fleet(), {"pi1": changed}, ["pi1"], {"check_mode": True})
    assert planned["client_changes"][0]["status"] == "would move"
    text = fleet_report_markdown(planned)
    assert "(nothing moved yet: these moves would happen)" in text
    assert "| hailo-depth | 11436 | **11438** | would | - |" in text  # not "Restarted: yes"


def test_a_run_that_reached_no_device_says_nothing_was_applied():
    doc = fleet_report(fleet(), {}, ["pi3", "pi5"], {}, lost=["pi5"])
    assert doc["devices"]["pi5"]["outcome"] == "unreachable"  # dropped out, not "not reached"
    assert doc["summary"]["outcomes"]["unreachable"] == 2
    first = fleet_report_markdown(doc).splitlines()[2]
    assert first.startswith("**Nothing was applied:** no device was reached (2 unreachable)")


FIREWALL = {"ufw": "active", "added": ["ufw allow 11438/tcp"], "deleted": ["ufw allow 11436/tcp"],
            "kept": [{"rule": "ufw allow 11437/tcp", "why": "port 11437 is held by other.service"}],
            "review": [{"rule": "ufw allow 11430:11440/tcp", "why": "a rule for several ports"}]}
CLIENTS = [{"path": "/opt/hailo-web-portal", "unit": "hailo-web-portal", "restart": True, "review": [],
            "skipped": [], "files": [{"path": "/opt/hailo-web-portal/portal_client.py", "changes": [
                {"line": 48, "old": "http://127.0.0.1:11436", "new": "http://127.0.0.1:11438"}]}]}]


def device_text(results, check_mode=False):
    doc = fleet_report(fleet(), results, ["pi1", "pi2"], {"check_mode": check_mode})
    text = fleet_report_markdown(doc)
    return text[text.index("### pi1"):text.index("### pi2")]


def test_the_firewall_and_the_clients_of_a_device_say_what_was_done_or_undone():
    changed = dict(RESULTS["pi1"], outcome="changed", rollback=None, firewall=FIREWALL, clients=CLIENTS)
    text = device_text(dict(RESULTS, pi1=changed))
    assert "Client /opt/hailo-web-portal (restarted hailo-web-portal):" in text
    assert "- /opt/hailo-web-portal/portal_client.py line 48: `http://127.0.0.1:11436` -> `http://127.0.0.1:11438`" in text
    assert "- added: `ufw allow 11438/tcp`" in text and "- deleted: `ufw allow 11436/tcp`" in text
    assert "- kept `ufw allow 11437/tcp`: port 11437 is held by other.service" in text
    assert "- to review, unchanged: `ufw allow 11430:11440/tcp`: a rule for several ports" in text
    planned = device_text(dict(RESULTS, pi1=changed), check_mode=True)
    assert "- would add `ufw allow 11438/tcp`" in planned and "(would restart hailo-web-portal)" in planned
    undone = device_text(dict(RESULTS, pi1=dict(RESULTS["pi1"], firewall=FIREWALL, clients=CLIENTS)))
    assert "- added, then undone by the rollback: `ufw allow 11438/tcp`" in undone
    assert "Client /opt/hailo-web-portal (the rollback restored these files):" in undone


def test_a_device_without_an_active_ufw_says_so():
    for state, words in (("absent", "not installed"), ("inactive", "installed but not active")):
        found = {"ufw": state, "added": [], "deleted": [], "kept": [], "review": []}
        text = device_text(dict(RESULTS, pi1=dict(RESULTS["pi1"], rollback=None, outcome="changed", firewall=found)))
        assert "Firewall: ufw is %s; no rule changed." % words in text
    found = {"ufw": "active", "added": [], "deleted": [], "kept": [], "review": []}
    text = device_text(dict(RESULTS, pi1=dict(RESULTS["pi1"], rollback=None, outcome="changed", firewall=found)))
    assert "no allow rule names a moving service's old port" in text
