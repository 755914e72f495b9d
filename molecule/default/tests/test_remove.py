"""What the rollout left on the device besides the services' files, and its removal.

Runs after test_default.py (file order): the rollout is done and confirmed. The device must hold
the boot revert unit, enabled and ordered before the services, no lease (the run released its
claim) and no unit of the collection's named hailo-*; then ``playbooks/remove.yml`` removes the
unit and the journal directory, and every service still serves where it did.
"""
import os
import subprocess
import sys

import pytest

JOURNAL_DIR = "/var/lib/hailo-services/transaction"
BOOT_UNIT = "port-reconcile-boot.service"
REPO = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def listeners(host):
    return host.run("ss -Hltn").stdout


def test_the_boot_revert_unit_is_installed_enabled_and_ordered_before_the_services(host):
    assert host.run("systemctl is-enabled %s" % BOOT_UNIT).stdout.strip() == "enabled"
    before = host.run("systemctl show -p Before --value %s" % BOOT_UNIT).stdout.split()
    assert "sysinit.target" in before
    # Every Hailo service starts after sysinit.target, so after the boot revert.
    after = host.run("systemctl show -p After --value hailo-depth.service").stdout.split()
    assert "sysinit.target" in after


def test_the_run_released_its_claim_and_left_no_journal(host):
    assert not host.file(JOURNAL_DIR + "/lease.json").exists
    assert not host.file(JOURNAL_DIR + "/journal.json").exists


def test_no_unit_the_collection_created_is_named_hailo(host):
    units = host.run("systemctl list-units --all --no-legend --plain 'port-reconcile-*' 'hailo-services-*'").stdout
    assert "hailo-services-" not in units
    assert not host.file("/etc/systemd/system/hailo-services-revert.service").exists


@pytest.fixture(scope="module")
def removed(host):
    serving = listeners(host)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(REPO, "playbooks", "remove.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return {"proc": proc, "serving_before": serving}


def test_remove_takes_away_the_boot_unit_and_the_journal_dir(host, removed):
    assert removed["proc"].returncode == 0, removed["proc"].stdout[-3000:]
    assert "changed=1" in removed["proc"].stdout
    assert not host.file("/etc/systemd/system/" + BOOT_UNIT).exists
    assert not host.file("/etc/systemd/system/sysinit.target.wants/" + BOOT_UNIT).exists
    assert not host.file(JOURNAL_DIR).exists
    assert host.run("systemctl is-enabled %s" % BOOT_UNIT).rc != 0


def test_remove_leaves_the_services_alone(host, removed):
    def ports(text):
        return sorted(line.split()[3] for line in text.splitlines() if line.strip())
    assert ports(listeners(host)) == ports(removed["serving_before"])
