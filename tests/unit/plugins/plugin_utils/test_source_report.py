"""The source_tree role's report: data, Markdown, summary and settings check (pure helpers)."""
import os

import pytest

from ansible_collections.hailo.services.plugins.module_utils import port_references
from ansible_collections.hailo.services.plugins.plugin_utils.fleet_report import cell, plural
from ansible_collections.hailo.services.plugins.plugin_utils.source_report import (
    SourceReportError,
    code,
    is_local,
    report_data,
    report_markdown,
    settings_problems,
    summary_line,
    tree_root,
)

ROOT = "/srv/hailo/system_services"
FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "system_services")
MOVES = [
    {"service": "hailo-depth", "from": 11436, "to": 11439, "reason": "shared 11436 with hailo-ocr"},
    {"service": "hailo-piper", "from": 5002, "to": 5003},
    {"service": "hailo-pose", "from": 11436, "to": 11440, "reason": "shared | 11436"},
]


def review(rel, port, moved, likely, line=1, text="port: 0"):
    return {"file": os.path.join(ROOT, rel), "line": line, "text": text, "port": port,
            "moved_service": moved, "likely_service": likely}


def refs(files=None, review_items=(), skipped=()):
    files = dict(files or {})
    return {"changed": bool(files), "files": {os.path.join(ROOT, k): v for k, v in files.items()},
            "replaced": sum(files.values()), "review": list(review_items),
            "skipped": [{"file": os.path.join(ROOT, f), "reason": r} for f, r in skipped]}


def why(item):
    return report_data(refs(review_items=[item]), ROOT, MOVES, "localhost", False)["review"][0]["why"]


# ------------------------------------------------------------------------------------------ data

def test_data_keys_in_order_and_paths_relative():
    data = report_data(refs({"hailo-piper/config.yaml": 1, "hailo-depth/API_SPEC.md": 5},
                            [review("hailo-face/config.yaml", 5002, "hailo-piper", "hailo-face", 3)],
                            [("hailo-piper/model.onnx", "too large")]),
                       ROOT, MOVES, "pi1", False)
    assert list(data) == ["check_mode", "host", "path", "moves", "replaced", "files_changed",
                          "files", "review", "skipped"]
    assert (data["check_mode"], data["host"], data["path"]) == (False, "pi1", ROOT)
    assert data["files"] == {"hailo-piper/config.yaml": 1, "hailo-depth/API_SPEC.md": 5}
    assert list(data["files"]) == ["hailo-piper/config.yaml", "hailo-depth/API_SPEC.md"]
    assert (data["replaced"], data["files_changed"]) == (6, 2)
    assert data["review"] == [{
        "file": "hailo-face/config.yaml", "line": 3, "port": 5002, "moved_service": "hailo-piper",
        "likely_service": "hailo-face",
        "why": "Seems to mean hailo-face, which does not leave 5002: most likely right as it is; confirm.",
        "text": "port: 0"}]
    assert list(data["review"][0]) == ["file", "line", "port", "moved_service", "likely_service",
                                       "why", "text"]
    assert data["skipped"] == [{"file": "hailo-piper/model.onnx", "reason": "too large"}]


def test_moves_that_keep_their_port_are_left_out_and_ports_read_as_integers():
    moves = [{"service": "hailo-face", "from": 5002, "to": "5002"},
             {"service": "hailo-piper", "from": "5002", "to": 5003.0, "reason": "a reason"},
             {"service": "hailo-ocr", "from": 11436, "to": 11436, "reason": "stays"}]
    data = report_data(refs(), ROOT, moves, "localhost", False)
    assert data["moves"] == [{"service": "hailo-piper", "from": 5002, "to": 5003, "reason": "a reason"}]


def test_a_move_without_reason_gets_an_empty_one():
    data = report_data(refs(), ROOT, MOVES, "localhost", False)
    assert [m["reason"] for m in data["moves"]] == ["shared 11436 with hailo-ocr", "", "shared | 11436"]


def test_check_mode_is_a_bool():
    assert report_data(refs(), ROOT, [], "localhost", 1)["check_mode"] is True
    assert report_data(refs(), ROOT, None, "localhost", None)["check_mode"] is False


# ------------------------------------------------------------------------------ why, each branch

def test_why_no_single_service():
    assert why(review("README.md", 5002, "hailo-piper", None)) == (
        "Unclear which service this means (the line names none or several): if 5002 means "
        "hailo-piper, change it to 5003.")


def test_why_own_directory_but_names_another_service():
    assert why(review("hailo-pose/BUILD_PLAN.md", 11436, "hailo-pose", "hailo-pose")) == (
        "The line also names another service, so it was left alone: if 11436 means hailo-pose, "
        "change it to 11440.")


def test_why_outside_the_moved_service_directory():
    assert why(review("hailo-face/README.md", 5002, "hailo-piper", "hailo-piper")) == (
        "Outside hailo-piper's directory but seems to mean it: change 5002 to 5003 if so.")
    # A directory whose name only starts like the service's is outside it.
    assert why(review("hailo-piper-old/README.md", 5002, "hailo-piper", "hailo-piper")).startswith(
        "Outside hailo-piper's directory")


def test_why_another_service_that_left_the_same_port():
    assert why(review("hailo-depth/README.md", 11436, "hailo-pose", "hailo-depth")) == (
        "Seems to mean hailo-depth, which also left 11436 (now 11439): change it to that if so.")


def test_why_another_service_that_keeps_the_port():
    assert why(review("hailo-ocr/config.yaml", 11436, "hailo-pose", "hailo-ocr")) == (
        "Seems to mean hailo-ocr, which does not leave 11436: most likely right as it is; confirm.")
    # A moved service that left another port does not keep this one.
    assert why(review("hailo-piper/README.md", 11436, "hailo-pose", "hailo-piper")) == (
        "Seems to mean hailo-piper, which does not leave 11436: most likely right as it is; confirm.")


def test_why_for_a_service_that_is_not_moved_names_the_line():
    with pytest.raises(SourceReportError, match=r"README.md:7: .* hailo-clip"):
        why(review("README.md", 5000, "hailo-clip", None, line=7))


# ------------------------------------------------------------------------------------- escaping

@pytest.mark.parametrize("text, in_table, expected", [
    ("plain", True, "`plain`"),
    ("a|b", True, "`a\\|b`"),
    ("a|b", False, "`a|b`"),
    ("say `x`", True, "`` say `x` ``"),
    ("a `b` c", True, "``a `b` c``"),
    ("two `` here", True, "```two `` here```"),
    ("`start", False, "`` `start ``"),
    ("end`", False, "`` end` ``"),
    ("| `a``b` ```c```", True, "```` \\| `a``b` ```c``` ````"),
    (5002, True, "`5002`"),
])
def test_code_survives_backticks_and_escapes_pipes_in_tables(text, in_table, expected):
    assert code(text, in_table) == expected


def test_shared_helpers():
    assert [plural(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert cell("a | b") == "a \\| b"
    assert cell(None) == "None"


# ------------------------------------------------------------------------------------- markdown

def sample(check_mode=False):
    return report_data(
        refs({"hailo-piper/config.yaml": 1},
             [review("hailo-face/a|b.md", 5002, "hailo-piper", "hailo-face", 3, "`curl :5002` | x"),
              review("README.md", 5002, "hailo-piper", None, 9, "5002")],
             [("hailo-piper/we|ird`.bin", "binary")]),
        ROOT, [{"service": "hailo-piper", "from": 5002, "to": 5003, "reason": "clash | with face"}],
        "pi`1", check_mode)


REVIEW_ROWS = (
    "| `hailo-face/a\\|b.md:3` | 5002 | hailo-piper | hailo-face | Seems to mean hailo-face, which does "
    "not leave 5002: most likely right as it is; confirm. | `` `curl :5002` \\| x `` |\n"
    "| `README.md:9` | 5002 | hailo-piper | ? | Unclear which service this means (the line names none or "
    "several): if 5002 means hailo-piper, change it to 5003. | `5002` |\n")


def test_markdown_whole_report():
    assert report_markdown(sample(), "Ansible managed") == """\
<!-- Ansible managed: written by the hailo.services.source_tree role on every run. -->
## Source references

Source tree `/srv/hailo/system_services` on ``pi`1``.
1 reference in 1 file updated;
2 occurrences outside the moved services listed for review.

### Moves

| Service | From | To | Why it moved |
|---|--:|--:|---|
| hailo-piper | 5002 | 5003 | clash \\| with face |

### Files updated

Every standalone old port inside each moved service's own directory.

| File | References |
|---|--:|
| `hailo-piper/config.yaml` | 1 |
| **Total: 1 file** | **1** |

### To review

These lines hold a moved service's old port but were left alone: they lie outside that
service's directory or name another service, so the port may mean a service that did not move.
Read each one and edit by hand if it means the moved service.

| Where | Port | Moved service | Likely means | Why it needs a human | Line |
|---|--:|---|---|---|---|
{rows}
### Skipped

Not read, so not checked:

- ``hailo-piper/we|ird`.bin``: binary
""".format(rows=REVIEW_ROWS)


def test_markdown_check_mode():
    markdown = report_markdown(sample(check_mode=True), "Ansible managed")
    assert "\n## Source references\n\n> **Check mode: nothing was written.** The counts below are " \
        "what a real run would change.\n\nSource tree " in markdown
    assert "1 reference in 1 file would be updated;\n" in markdown
    assert "\n### Files to update\n" in markdown
    assert "Check mode" not in report_markdown(sample(), "Ansible managed")


def test_markdown_nothing_to_do():
    markdown = report_markdown(report_data(refs(), ROOT, [], "localhost", False), "Managed")
    assert markdown == """\
<!-- Managed: written by the hailo.services.source_tree role on every run. -->
## Source references

Source tree `/srv/hailo/system_services` on `localhost`.
0 references in 0 files updated;
0 occurrences outside the moved services listed for review.

### Moves

No service moved, so no reference needed updating.

### Files updated

None: no moved service's directory holds its old port.

### To review

Nothing: no old port was found outside the moved services' directories.
"""


def test_markdown_after_the_move_and_a_move_without_reason():
    markdown = report_markdown(report_data(refs(), ROOT, MOVES, "localhost", False), "Managed")
    assert "None: no moved service's directory holds its old port any more.\n" in markdown
    assert "| hailo-piper | 5002 | 5003 | - |\n" in markdown
    assert "| hailo-pose | 11436 | 11440 | shared \\| 11436 |\n" in markdown
    assert "### Skipped" not in markdown


def test_markdown_on_the_fixture_tree_matches_the_documented_excerpt():
    scan = port_references.scan(os.path.realpath(FIXTURE), MOVES)
    result = {"files": {name: edit["count"] for name, edit in scan["edits"].items()},
              "replaced": sum(edit["count"] for edit in scan["edits"].values()),
              "review": scan["review"], "skipped": scan["skipped"]}
    data = report_data(result, os.path.realpath(FIXTURE), MOVES, "localhost", False)
    markdown = report_markdown(data, "Ansible managed")
    assert "| `hailo-face/config.yaml:3` | 5002 | hailo-piper | hailo-face | Seems to mean hailo-face, " \
        "which does not leave 5002: most likely right as it is; confirm. | `port: 5002` |\n" in markdown
    assert "| `hailo-face/README.md:6` | 5002 | hailo-piper | hailo-piper | Outside hailo-piper's " \
        "directory but seems to mean it: change 5002 to 5003 if so. | `hailo-piper used to default " \
        "to 5002 as well.` |\n" in markdown
    assert "| `hailo-pose/BUILD_PLAN.md:8` | 11436 | hailo-pose | hailo-pose | The line also names " \
        "another service, so it was left alone: if 11436 means hailo-pose, change it to 11440. | " \
        "`6. hailo-pose and hailo-depth both want 11436: stop hailo-depth before testing.` |\n" in markdown
    assert all(entry["why"] for entry in data["review"])


# -------------------------------------------------------------------------------------- summary

def test_summary_line():
    data = report_data(refs({"a/x": 3, "a/y": 1}, [review("b/z", 5002, "hailo-piper", None)] * 2),
                       ROOT, MOVES, "localhost", False)
    assert summary_line(data) == ("source_tree: 4 references in 2 files updated; 2 occurrences "
                                  "outside moved services listed for review.")


def test_summary_line_singular_check_mode_and_skipped():
    data = report_data(refs({"a/x": 1}, [review("b/z", 5002, "hailo-piper", None)],
                            [("c", "symlink"), ("d", "binary")]),
                       ROOT, MOVES, "localhost", True)
    assert summary_line(data) == (
        "source_tree: 1 reference in 1 file would be updated (check mode); 1 occurrence outside "
        "moved services listed for review; 2 file(s) skipped.")


# ------------------------------------------------------------------------------------- settings

def test_good_settings_have_no_problem():
    assert settings_problems(1048576, "system_services", True, "localhost", True, "reports") == []
    assert settings_problems("1", "/srv/tree", False, "pi1", False, "") == []


@pytest.mark.parametrize("max_size", [0, "0", -3, "x", None])
def test_max_size_below_one(max_size):
    assert settings_problems(max_size, "/t", True, "localhost", False, "") == [
        "source_tree_max_size must be at least 1, not %s" % max_size]


def test_relative_path_only_on_the_controller():
    assert settings_problems(1, "rel/tree", False, "pi1", False, None) == [
        "source_tree_path must be absolute on pi1, not rel/tree"]
    assert settings_problems(1, "rel/tree", True, "pi1", False, None) == []


def test_report_needs_a_directory():
    for report_dir in ("", None):
        assert settings_problems(1, "/t", True, "localhost", True, report_dir) == [
            "source_tree_report_dir must be set when source_tree_report is true"]


def test_every_problem_in_order():
    assert settings_problems(-3, "rel", False, "pi1", True, "") == [
        "source_tree_max_size must be at least 1, not -3",
        "source_tree_path must be absolute on pi1, not rel",
        "source_tree_report_dir must be set when source_tree_report is true"]


@pytest.mark.parametrize("host, connection, local", [
    ("localhost", "", True), ("127.0.0.1", "ssh", True), ("::1", None, True),
    ("pi1", "local", True), ("pi1", "ssh", False), ("pi1", "", False),
])
def test_is_local(host, connection, local):
    assert is_local(host, connection) is local


def test_tree_root(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    assert tree_root("link", True) == str((tmp_path / "real").resolve())
    assert tree_root("link", False) == "link"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tree_root("~/link/", True) == str((tmp_path / "real").resolve())
