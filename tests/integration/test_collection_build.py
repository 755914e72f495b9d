"""The collection builds and installs, and nothing test-only ships in the tarball."""
import os
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def test_build_and_install(tmp_path):
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                    str(tmp_path)], cwd=REPO, check=True, capture_output=True, timeout=300)
    tarballs = list(tmp_path.glob("hailo-services-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as archive:
        names = archive.getnames()
    assert "plugins/filter/port_map.py" in names  # the public filters (reconcile_ports, port_table, ...)
    assert "plugins/filter/reconcile_ports.yml" in names  # and their docs beside them
    assert "plugins/action/device_change.py" in names
    assert "plugins/action/fleet_map.py" in names
    assert "roles/reconcile/tasks/main.yml" in names
    assert "playbooks/reconcile.yml" in names
    for test_only in ("tests", "molecule", "bench", ".ci", ".collections", ".venv", "Makefile"):
        assert not any(n == test_only or n.startswith(test_only + "/") for n in names), test_only

    # Away from the checkout and its ansible.cfg, which already make the collection visible.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    target = tmp_path / "installed"
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", str(tarballs[0]),
                    "-p", str(target)], cwd=str(tmp_path), env=env, check=True,
                   capture_output=True, timeout=300)
    doc = subprocess.run(
        [os.path.join(BIN, "ansible-doc"), "-t", "filter", "hailo.services.reconcile_ports"],
        env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(target)), cwd=str(tmp_path),
        capture_output=True, text=True, check=False, timeout=300)
    assert doc.returncode == 0, doc.stderr
    assert str(target) in doc.stdout
