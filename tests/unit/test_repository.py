"""Conventions of the repository as a whole (issue 18): no mirror host named anywhere, and the
README's example inventory safe to copy."""
import os
import re
import subprocess

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Debian and PyPI hosts (and their mirrors): the machine's own configuration says where those
# come from (APT sources, pip.conf), never this repository.
MIRROR_HOST = re.compile(r"(?i)\b(deb\.debian\.org|(ftp|security|snapshot|[a-z0-9-]+\.mirrors?)\.[a-z0-9.-]*debian\.(org|net)|"
                         r"pypi\.org|pypi\.python\.org|files\.pythonhosted\.org|[a-z0-9.-]*mirror[a-z0-9.-]*\.(org|net|com|edu)/(debian|pypi|simple))\b")


def test_no_debian_or_pypi_mirror_host_is_named():
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    found = []
    for name in files:
        path = os.path.join(REPO, name)
        if not os.path.isfile(path) or name == "tests/unit/test_repository.py":
            continue
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        found += ["%s: %s" % (name, m.group(0)) for m in MIRROR_HOST.finditer(text)]
    assert found == []


def test_build_image_fails_without_a_mirror_instead_of_guessing_one():
    with open(os.path.join(REPO, "molecule", "resources", "build-image.sh"), encoding="utf-8") as handle:
        script = handle.read()
    assert "no $SUITE mirror found in this machine's APT sources" in script
    assert 'MIRROR="http' not in script


def test_the_readme_example_inventory_restarts_nothing_if_copied():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    block = re.search(r"```yaml\n(# my-fleet\.yml.*?)```", readme, re.S).group(1)
    fleet = yaml.safe_load(block)["hailo_devices"]
    settings = dict(fleet.get("vars") or {})
    for host in (fleet.get("hosts") or {}).values():
        settings.update(host or {})
    assert "reconcile_unit_settings" not in settings
    assert not any("unit" in (entry or {}) for entry in (settings.get("reconcile_services") or {}).values())
