"""Where a client's literals go: the owner of each port before the move (controller side), the
one-pass rewrite (device side) and the report's lines."""
from ansible_collections.hailo.services.plugins.module_utils.device_clients import rewrite
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import fleet_report_markdown
from ansible_collections.hailo.services.plugins.plugin_utils.rollout import client_ports


def step(name, old, new, was="serving"):
    return {"name": name, "from": old, "port": new, "was": was}


def test_a_device_installed_today_moves_depth_onto_poses_old_port():
    steps = [step("hailo-depth", 11439, 11440), step("hailo-pose", 11440, 11441), step("hailo-ocr", 11436, 11436)]
    assert client_ports(steps) == ({"11439": 11440, "11440": 11441}, {})


def test_a_shared_port_follows_the_service_that_served_it():
    steps = [step("hailo-ocr", 11436, 11436), step("hailo-depth", 11436, 11440, "failing"),
             step("hailo-pose", 11436, 11441, "failed")]
    assert client_ports(steps) == ({}, {})  # ocr kept 11436: its literals stay
    steps[0] = step("hailo-ocr", 11436, 11436, "stopped")
    moves, unplaced = client_ports(steps)
    assert moves == {} and "hailo-depth, hailo-ocr, hailo-pose" in unplaced["11436"]


def test_the_rewrite_is_one_pass_local_urls_only_and_lists_the_rest():
    text = (b'a = "http://127.0.0.1:11439"\nb = "http://localhost:11440/x"\nc = "https://0.0.0.0:11439"\n'
            b'd = "http://10.0.0.2:11439"\ne = 114390\nf = "http://127.0.0.1:11436"')
    new, changes, review = rewrite(text, {"11439": 11440, "11440": 11441}, {"11436": "shared"})
    assert new == (b'a = "http://127.0.0.1:11440"\nb = "http://localhost:11441/x"\nc = "https://0.0.0.0:11440"\n'
                   b'd = "http://10.0.0.2:11439"\ne = 114390\nf = "http://127.0.0.1:11436"')
    assert [c["line"] for c in changes] == [1, 2, 3]
    assert [(r["line"], r["port"]) for r in review] == [(4, 11439), (6, 11436)]
    assert rewrite(new, {}, {})[0] == new


def test_the_report_lists_each_client_file_and_line():
    outcomes = {"changed": 1, "ok": 0, "rolled_back": 0, "failed": 0, "unreachable": 0, "not_reached": 0}
    doc = {"check_mode": False, "summary": {"devices": 1, "outcomes": outcomes, "services": 0, "moved": 0,
                                            "failed_devices": [], "reached": 1},
           "client_changes": [], "fleet_map": [], "disagreements": [], "in_use": [], "stopped": None,
           "devices": {"pi4": {"outcome": "changed", "message": "", "notes": [], "ports": [], "restarted": [],
                               "health": {}, "rollback": None, "clients": [
                                   {"path": "/opt/hailo-web-portal", "unit": "hailo-web-portal", "restart": True,
                                    "files": [{"path": "/opt/hailo-web-portal/portal_client.py", "changes": [
                                        {"line": 7, "old": "http://127.0.0.1:11439",
                                         "new": "http://127.0.0.1:11440"}]}],
                                    "review": [{"path": "/opt/hailo-web-portal/TROUBLESHOOTING.md", "line": 9,
                                                "port": 11439, "why": "not a local URL"}], "skipped": []}]}}}
    text = fleet_report_markdown(doc)
    assert "Client /opt/hailo-web-portal (restarted hailo-web-portal):" in text
    assert "- /opt/hailo-web-portal/portal_client.py line 7: `http://127.0.0.1:11439` -> `http://127.0.0.1:11440`" in text
    assert "to review, unchanged: /opt/hailo-web-portal/TROUBLESHOOTING.md line 9 (port 11439)" in text
