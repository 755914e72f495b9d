"""The source_tree role through real ansible-playbook runs of playbooks/migrate_references.yml.

Each run works on a copy of the fixture tree, with the moves computed from the bundled catalog:
hailo-piper 5002 -> 5003, hailo-depth 11436 -> 11439, hailo-pose 11436 -> 11440.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
FIXTURE = os.path.join(REPO, "tests", "unit", "fixtures", "system_services")
MOVED = ("hailo-depth", "hailo-piper", "hailo-pose")


def run_playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    result = subprocess.run(
        [PLAYBOOK_BIN, "playbooks/migrate_references.yml", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def recap(stdout):
    match = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)", stdout, re.M)
    assert match, stdout
    return int(match.group(2))


def snapshot(root):
    files = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = handle.read()
    return files


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as handle:
        return handle.read()


def fresh_tree(tmp_path, name):
    tree = tmp_path / name / "system_services"
    shutil.copytree(FIXTURE, tree, symlinks=True)
    return str(tree), str(tmp_path / name / "reports")


def load_report(report_dir):
    with open(os.path.join(report_dir, "source-references.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return data, read(report_dir, "source-references.md")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """Two real runs on one copy: the report and tree after each."""
    tree, reports = fresh_tree(tmp_path_factory.mktemp("real"), "run")
    first_out = run_playbook("-e", "source_tree_path=" + tree, "-e", "source_tree_report_dir=" + reports)
    first = load_report(reports)
    after_first = snapshot(tree)
    second_out = run_playbook("-e", "source_tree_path=" + tree, "-e", "source_tree_report_dir=" + reports)
    return dict(tree=tree, reports=reports, first_out=first_out, first=first, after_first=after_first,
                second_out=second_out, second=load_report(reports), after_second=snapshot(tree))


def test_moved_services_files_are_updated(migrated):
    tree = migrated["tree"]
    assert "**Base URL:** http://localhost:5003\n" in read(tree, "hailo-piper/API_SPEC.md")
    assert "localhost:5002" not in read(tree, "hailo-piper/API_SPEC.md")
    assert "  port: 5003\n" in read(tree, "hailo-piper/config.yaml")
    assert 'DEFAULT_PORT="5003"' in read(tree, "hailo-piper/verify.sh")
    assert "Base URL: http://localhost:11439\n" in read(tree, "hailo-depth/API_SPEC.md")
    assert 'default="http://localhost:11439"' in read(tree, "hailo-depth/tests/conftest.py")
    assert "\nhttp://localhost:11440\n" in read(tree, "hailo-pose/API_SPEC.md")
    assert "sudo ufw allow 11440/tcp" in read(tree, "hailo-pose/BUILD_PLAN.md")
    # Lines naming another service stay as they were.
    assert "Note that hailo-face (frozen) also defaults to 5002;" in read(tree, "hailo-piper/README.md")


def test_other_services_and_top_level_files_are_byte_identical(migrated):
    before, after = snapshot(FIXTURE), migrated["after_first"]
    assert sorted(before) == sorted(after)
    changed = {rel for rel in before if before[rel] != after[rel]}
    assert changed and all(rel.split(os.sep)[0] in MOVED for rel in changed)
    for rel in before:
        if rel.split(os.sep)[0] in ("hailo-face", "hailo-ocr", "hailo-clip", "README.md", "build_plans"):
            assert before[rel] == after[rel], rel
    # The report lists exactly the files that changed.
    data = migrated["first"][0]
    assert set(data["files"]) == {rel.replace(os.sep, "/") for rel in changed}


def test_report_has_counts_moves_and_review(migrated):
    data, markdown = migrated["first"]
    assert data["check_mode"] is False
    assert [(m["service"], m["from"], m["to"]) for m in data["moves"]] == [
        ("hailo-depth", 11436, 11439), ("hailo-piper", 5002, 5003), ("hailo-pose", 11436, 11440)]
    assert data["replaced"] == sum(data["files"].values()) > 0
    assert data["files_changed"] == len(data["files"])
    assert data["files"]["hailo-piper/config.yaml"] == 1
    review = {(e["file"], e["line"], e["moved_service"]): e for e in data["review"]}
    face = review[("hailo-face/config.yaml", 3, "hailo-piper")]
    assert (face["port"], face["likely_service"]) == (5002, "hailo-face")
    assert review[("hailo-piper/README.md", 28, "hailo-piper")]["likely_service"] == "hailo-face"
    assert review[("hailo-ocr/config.yaml", 4, "hailo-pose")]["likely_service"] == "hailo-ocr"
    assert all(e["why"] and e["text"] for e in data["review"])
    summary = "%d references in %d files updated;" % (data["replaced"], data["files_changed"])
    assert summary in markdown
    printed = " ".join(migrated["first_out"].split())  # the yaml callback wraps long lines
    assert "source_tree: %d references in %d files updated; %d occurrences outside moved services" \
        " listed for review." % (data["replaced"], data["files_changed"], len(data["review"])) in printed
    assert "report in %s" % os.path.join(os.path.realpath(migrated["reports"]), "source-references.md") in printed
    assert "| `hailo-piper/config.yaml` | 1 |" in markdown
    assert "| `hailo-face/config.yaml:3` | 5002 | hailo-piper | hailo-face | " in markdown
    assert "Check mode" not in markdown
    assert recap(migrated["first_out"]) == 1


def test_second_run_changes_nothing(migrated):
    assert recap(migrated["second_out"]) == 0
    assert migrated["after_second"] == migrated["after_first"]
    data, markdown = migrated["second"]
    assert (data["replaced"], data["files"]) == (0, {})
    assert len(data["review"]) == len(migrated["first"][0]["review"])
    assert "0 references in 0 files updated;" in markdown


def test_check_diff_writes_nothing_but_the_report(tmp_path, migrated):
    tree, reports = fresh_tree(tmp_path, "check")
    stdout = run_playbook("--check", "--diff", "-e", "source_tree_path=" + tree,
                          "-e", "source_tree_report_dir=" + reports)
    assert snapshot(tree) == snapshot(FIXTURE)
    assert "-Base URL: http://localhost:11436\n+Base URL: http://localhost:11439" in stdout
    assert "+**Base URL:** http://localhost:5003" in stdout
    data, markdown = load_report(reports)
    assert data["check_mode"] is True
    assert (data["replaced"], data["files"]) == (migrated["first"][0]["replaced"], migrated["first"][0]["files"])
    assert "Check mode: nothing was written." in markdown
    assert "files would be updated" in markdown


def test_without_a_path_the_role_does_nothing(tmp_path):
    stdout = run_playbook("-e", "source_tree_report_dir=" + str(tmp_path / "reports"))
    assert "source_tree_path is not set, nothing to do" in stdout
    assert recap(stdout) == 0
    assert not (tmp_path / "reports").exists()
