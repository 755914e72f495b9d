# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ufw allow rules follow the services that move: which rules, which port, what stays."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hailo.services.plugins.module_utils import firewall

# `ufw show added` as ufw 0.36 (bookworm) prints it.
SHOW_ADDED = """Added user rules (see 'ufw status' for running firewall):
ufw allow 22/tcp
ufw allow 11439/tcp
ufw allow from 10.0.0.0/8 to any port 11440 proto tcp comment 'pose lan'
ufw allow 11436
ufw allow 11439/udp
ufw deny 11441/tcp
ufw allow out 11439/tcp
ufw allow 11430:11445/tcp
ufw allow from 192.168.1.0/24 port 11439 to any port 5000 proto tcp
ufw allow OpenSSH
"""


def rules():
    return firewall.parse_added(SHOW_ADDED)


def test_parse_keeps_inbound_allow_rules_for_tcp_or_any_protocol():
    found = dict((rule["text"], rule["port"]) for rule in rules())
    assert found == {
        "ufw allow 22/tcp": 22,
        "ufw allow 11439/tcp": 11439,
        "ufw allow from 10.0.0.0/8 to any port 11440 proto tcp comment 'pose lan'": 11440,
        "ufw allow 11436": 11436,
        "ufw allow 11430:11445/tcp": None,
        # the port after `from` is the client's; the destination is 5000
        "ufw allow from 192.168.1.0/24 port 11439 to any port 5000 proto tcp": 5000,
    }


def test_a_chain_move_adds_each_new_port_once_and_deletes_only_the_unused_old_port():
    # depth 11439 -> 11440 (pose's old port), pose 11440 -> 11441
    moves = {"hailo-depth": (11439, 11440), "hailo-pose": (11440, 11441)}
    planned = firewall.plan(rules(), moves, [11436, 11440, 11441])
    assert [item["rule"] for item in planned["add"]] == [
        "ufw allow 11440/tcp",
        "ufw allow from 10.0.0.0/8 to any port 11441 proto tcp comment 'pose lan'",
    ]
    assert [item["service"] for item in planned["add"]] == ["hailo-depth", "hailo-pose"]
    assert [item["rule"] for item in planned["delete"]] == ["ufw allow 11439/tcp"]
    assert planned["delete"][0]["args"] == ["delete", "allow", "11439/tcp"]
    assert [item["rule"] for item in planned["kept"]] == [
        "ufw allow from 10.0.0.0/8 to any port 11440 proto tcp comment 'pose lan'"]
    assert "hailo-depth" in planned["kept"][0]["why"]
    assert planned["review"] == [{"rule": "ufw allow 11430:11445/tcp",
                                  "why": "a rule for several ports, among them 11439, 11440, the old port of "
                                         "hailo-depth, hailo-pose; not changed"}]


def test_a_rule_for_the_new_port_that_exists_is_not_added_again():
    planned = firewall.plan(firewall.parse_added("ufw allow 11439/tcp\nufw allow 11440/tcp\n"),
                            {"hailo-depth": (11439, 11440)}, [11440])
    assert planned["add"] == []
    assert [item["rule"] for item in planned["delete"]] == ["ufw allow 11439/tcp"]


def test_a_shared_old_port_gets_a_rule_per_service_that_leaves_and_stays_while_one_keeps_it():
    planned = firewall.plan(rules(), {"hailo-depth": (11436, 11439), "hailo-pose": (11436, 11440)},
                            [11436, 11439, 11440])
    assert [item["rule"] for item in planned["add"]] == ["ufw allow 11439", "ufw allow 11440"]
    assert planned["delete"] == []
    assert planned["kept"][0]["rule"] == "ufw allow 11436"


def test_an_old_port_another_program_holds_keeps_its_rule():
    planned = firewall.plan(rules(), {"hailo-depth": (11439, 11440)}, [11440],
                            held={11439: "other-app.service"})
    assert planned["delete"] == []
    assert planned["kept"] == [{"rule": "ufw allow 11439/tcp", "why": "port 11439 is held by other-app.service"}]


def test_no_rule_for_a_moving_port_plans_nothing():
    planned = firewall.plan(firewall.parse_added("ufw allow 22/tcp\n"), {"hailo-depth": (11439, 11440)}, [11440])
    assert planned == {"add": [], "delete": [], "kept": [], "review": []}


def test_rules_after_shows_the_diff_a_user_reads():
    moves = {"hailo-depth": (11439, 11440)}
    before = firewall.parse_added("ufw allow 22/tcp\nufw allow 11439/tcp\n")
    planned = firewall.plan(before, moves, [11440])
    assert firewall.rules_after(before, planned) == ["ufw allow 22/tcp", "ufw allow 11440/tcp"]


class FakeUfw:
    def __init__(self, status="Status: active\n", added="ufw allow 11439/tcp\n", refuse=None):
        self.status, self.added, self.refuse, self.calls = status, added, refuse, []

    def __call__(self, argv):
        self.calls.append(argv[1:])
        if argv[1:] == ["status"]:
            return 0, self.status, ""
        if argv[1:] == ["show", "added"]:
            return 0, "Added user rules (see 'ufw status' for running firewall):\n" + self.added, ""
        if self.refuse and self.refuse in argv:
            return 1, "", "ERROR: Bad port"
        return 0, "Rule added\n", ""


def test_status_reads_active_and_rules():
    active, found = firewall.status(FakeUfw(), "/usr/sbin/ufw")
    assert active is True and [rule["port"] for rule in found] == [11439]
    active, found = firewall.status(FakeUfw(status="Status: inactive\n"), "/usr/sbin/ufw")
    assert active is False


def test_apply_adds_before_it_deletes_and_stops_at_a_refusal():
    ufw = FakeUfw()
    active, found = firewall.status(ufw, "/usr/sbin/ufw")
    planned = firewall.plan(found, {"hailo-depth": (11439, 11440)}, [11440])
    assert firewall.apply(ufw, "/usr/sbin/ufw", planned) == ["ufw allow 11440/tcp", "ufw delete allow 11439/tcp"]
    assert ufw.calls[-2:] == [["allow", "11440/tcp"], ["delete", "allow", "11439/tcp"]]
    refusing = FakeUfw(refuse="11440/tcp")
    with pytest.raises(firewall.FirewallError, match="ufw allow 11440/tcp failed: ERROR: Bad port"):
        firewall.apply(refusing, "/usr/sbin/ufw", planned)
    assert ["delete", "allow", "11439/tcp"] not in refusing.calls


def test_reload_without_ufw_says_so():
    assert "no longer installed" in firewall.reload(FakeUfw(), None)
    assert firewall.reload(FakeUfw(), "/usr/sbin/ufw") is None


def test_a_revert_of_a_change_that_moved_rules_reloads_ufw_on_its_restored_files(tmp_path, monkeypatch):
    from ansible_collections.hailo.services.plugins.module_utils import transaction

    ran, systemctl = [], []
    monkeypatch.setattr(transaction, "_run", lambda argv: ran.append(argv) or (0, "Firewall reloaded\n", ""))
    monkeypatch.setattr(transaction, "_systemctl", lambda *args: systemctl.append(args) or (0, ""))
    monkeypatch.setattr(firewall, "find_ufw", lambda: "/usr/sbin/ufw")
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir(mode=0o700)
    report = transaction.revert(str(journal_dir), {"id": "1-abc", "files": [], "firewall_changed": True}, "test")
    assert ran == [["/usr/sbin/ufw", "reload"]]
    assert report["firewall_reloaded"] and report["errors"] == []
    ran[:] = []
    transaction.revert(str(journal_dir), {"id": "2-abc", "files": []}, "test")
    assert ran == []  # a change that left the rules alone does not touch ufw


def test_a_ufw_its_conf_says_is_disabled_is_not_asked():
    ufw = FakeUfw(status="ERROR: problem running iptables")
    assert firewall.status(ufw, "/usr/sbin/ufw", "# comment\nENABLED=no\nLOGLEVEL=low\n") == (False, [])
    assert ufw.calls == []
    active, found = firewall.status(FakeUfw(), "/usr/sbin/ufw", "ENABLED='yes'\n")
    assert active and found
    assert firewall.enabled("ENABLED = yes\n") and not firewall.enabled("LOGLEVEL=low\n")
