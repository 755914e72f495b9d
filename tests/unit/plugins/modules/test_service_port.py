# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end tests: run plugins/modules/service_port.py as a subprocess on real files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys
import time

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "service_port.py")

PIPER = (
    b"# hailo-piper: text to speech\n"
    b"# The port below used to be 5002 (port: 5002).\n"
    b"server:\n"
    b'  host: "0.0.0.0"\n'
    b"  port: 5002  # piper\n"
    b"  log_level: info\n"
    b"  debug: false\n"
    b"piper:\n"
    b"  voice: en_US-lessac-medium  # \xc3\xa9\n"
)
PIPER_5003 = PIPER.replace(b"  port: 5002  # piper\n", b"  port: 5003  # piper\n")
assert PIPER_5003 != PIPER

OLLAMA = (
    b"---\n"
    b"server: {host: 0.0.0.0, port: 11434}  # priority\n"
    b"library: {host: registry.ollama.ai, port: 443}\n"
)

# Owner and group that differ from the test user, to see that they survive the rewrite.
UID, GID = 4321, 8765


def run(args, check_mode=False, diff=False, env=None):
    """Run the module with ``args`` and return ``(returncode, result)``."""
    payload = dict(args)
    if check_mode:
        payload["_ansible_check_mode"] = True
    if diff:
        payload["_ansible_diff"] = True
    args_file = os.path.join(os.path.dirname(args["path"]), ".args.json")
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    full_env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, MODULE, args_file], capture_output=True, env=full_env,
                          timeout=60, check=False)
    os.unlink(args_file)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from module: %r %r" % (proc.stdout, proc.stderr))
    return proc.returncode, result


def read(path):
    with open(str(path), "rb") as handle:
        return handle.read()


def write(path, data, mode=0o640):
    with open(str(path), "wb") as handle:
        handle.write(data)
    os.chmod(str(path), mode)
    if os.geteuid() == 0:
        os.chown(str(path), UID, GID)


def listing(directory):
    return sorted(os.listdir(str(directory)))


def expected_json(yaml_bytes):
    return json.dumps(yaml.safe_load(yaml_bytes.decode("utf-8")), indent=2).encode("utf-8")


@pytest.fixture
def host(tmp_path):
    """A fake host: /etc/hailo/hailo-piper.yaml and the /etc/xdg/hailo-piper directory."""
    etc = tmp_path / "etc" / "hailo"
    etc.mkdir(parents=True)
    xdg = tmp_path / "etc" / "xdg" / "hailo-piper"
    xdg.mkdir(parents=True)
    yaml_path = etc / "hailo-piper.yaml"
    write(yaml_path, PIPER)
    return {"yaml": yaml_path, "json": xdg / "hailo-piper.json", "etc": etc, "xdg": xdg}


def test_changes_only_the_port_and_keeps_mode_and_owner(host):
    before = os.stat(str(host["yaml"]))
    rc, result = run({"path": str(host["yaml"]), "port": 5003})
    assert rc == 0, result
    assert result["changed"] is True
    assert result["previous_port"] == 5002
    assert result["port"] == 5003
    assert result["yaml_changed"] is True
    assert result["json_changed"] is False
    assert result["json_path"] is None
    assert "backup_file" not in result
    assert "results" not in result
    assert read(host["yaml"]) == PIPER_5003
    after = os.stat(str(host["yaml"]))
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert after.st_ino != before.st_ino  # replaced by rename, not rewritten in place
    assert listing(host["etc"]) == ["hailo-piper.yaml"]  # no temp files left


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_owner_is_kept_as_root(host):
    run({"path": str(host["yaml"]), "port": 5003})
    st = os.stat(str(host["yaml"]))
    assert (st.st_uid, st.st_gid) == (UID, GID)


def test_idempotent(host):
    rc, first = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])})
    assert rc == 0 and first["changed"] is True
    yaml_stat = os.stat(str(host["yaml"]))
    json_stat = os.stat(str(host["json"]))
    rc, second = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"]),
                      "backup": True})
    assert rc == 0
    assert second["changed"] is False
    assert second["yaml_changed"] is False and second["json_changed"] is False
    assert second["previous_port"] == 5003
    assert "backup_file" not in second and "json_backup_file" not in second
    assert os.stat(str(host["yaml"])).st_ino == yaml_stat.st_ino
    assert os.stat(str(host["json"])).st_mtime_ns == json_stat.st_mtime_ns
    assert listing(host["etc"]) == ["hailo-piper.yaml"]


def test_creates_missing_json_copy_like_the_installer(host):
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])})
    assert rc == 0, result
    assert result["json_changed"] is True
    assert result["json_path"] == str(host["json"])
    data = read(host["json"])
    assert data == expected_json(PIPER_5003)
    assert not data.endswith(b"\n")
    assert json.loads(data.decode())["server"]["port"] == 5003
    yaml_st, json_st = os.stat(str(host["yaml"])), os.stat(str(host["json"]))
    assert stat.S_IMODE(json_st.st_mode) == 0o640
    assert (json_st.st_uid, json_st.st_gid) == (yaml_st.st_uid, yaml_st.st_gid)


def test_json_rewritten_when_only_the_json_is_stale(host):
    """YAML already at the new port, JSON still at the old one: only the JSON changes."""
    write(host["yaml"], PIPER_5003)
    write(host["json"], expected_json(PIPER), mode=0o644)
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"]),
                      "backup": True})
    assert rc == 0, result
    assert result["changed"] is True
    assert result["yaml_changed"] is False
    assert result["json_changed"] is True
    assert "backup_file" not in result
    assert read(host["json"]) == expected_json(PIPER_5003)
    assert read(result["json_backup_file"]) == expected_json(PIPER)
    assert stat.S_IMODE(os.stat(str(host["json"])).st_mode) == 0o644  # existing mode kept
    assert read(host["yaml"]) == PIPER_5003


def test_json_in_step_but_formatted_differently_is_left_alone(host):
    write(host["yaml"], PIPER_5003)
    data = yaml.safe_load(PIPER_5003.decode())
    compact = (json.dumps(data, sort_keys=True) + "\n").encode()
    write(host["json"], compact)
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])})
    assert rc == 0, result
    assert result["changed"] is False
    assert read(host["json"]) == compact


@pytest.mark.parametrize("content", [b"{broken", b"", b"\xff\xfe not utf-8", b"[]"])
def test_invalid_json_copy_is_rewritten_and_backed_up(host, content):
    write(host["json"], content)
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"]),
                      "backup": True})
    assert rc == 0, result
    assert result["json_changed"] is True
    assert read(host["json"]) == expected_json(PIPER_5003)
    assert read(result["json_backup_file"]) == content
    assert read(result["backup_file"]) == PIPER


def test_backup_keeps_original_bytes_and_mode(host):
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "backup": True})
    assert rc == 0, result
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(host["etc"])
    assert read(backup) == PIPER
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o640
    assert "json_backup_file" not in result


def test_check_mode_writes_nothing(host):
    yaml_stat = os.stat(str(host["yaml"]))
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"]),
                      "backup": True}, check_mode=True)
    assert rc == 0, result
    assert result["changed"] is True
    assert result["yaml_changed"] is True and result["json_changed"] is True
    assert result["previous_port"] == 5002
    assert "backup_file" not in result and "json_backup_file" not in result
    assert read(host["yaml"]) == PIPER
    assert os.stat(str(host["yaml"])).st_ino == yaml_stat.st_ino
    assert not host["json"].exists()
    assert listing(host["etc"]) == ["hailo-piper.yaml"]
    assert listing(host["xdg"]) == []


def test_diff_mode_shows_both_files(host):
    write(host["json"], b'{"old": true}')
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])},
                     check_mode=True, diff=True)
    assert rc == 0, result
    assert result["diff"] == [
        {"before_header": str(host["yaml"]), "after_header": str(host["yaml"]),
         "before": PIPER.decode(), "after": PIPER_5003.decode()},
        {"before_header": str(host["json"]), "after_header": str(host["json"]),
         "before": '{"old": true}', "after": expected_json(PIPER_5003).decode()},
    ]
    assert read(host["json"]) == b'{"old": true}'


def test_diff_mode_leaves_out_unchanged_files(host):
    write(host["yaml"], PIPER_5003)
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])},
                     diff=True)
    assert rc == 0, result
    assert [d["before_header"] for d in result["diff"]] == [str(host["json"])]
    assert result["diff"][0]["before"] == ""


def test_ollama_library_port_untouched(host):
    path = host["etc"] / "hailo-ollama.yaml"
    write(path, OLLAMA)
    json_path = host["xdg"] / "ollama.json"
    rc, result = run({"path": str(path), "port": 11500, "json_path": str(json_path)})
    assert rc == 0, result
    assert read(path) == OLLAMA.replace(b"port: 11434}", b"port: 11500}")
    data = json.loads(read(json_path).decode())
    assert data == {"server": {"host": "0.0.0.0", "port": 11500},
                    "library": {"host": "registry.ollama.ai", "port": 443}}


def test_crlf_and_quoted_port(host):
    original = b'# x\r\nserver:\r\n  host: "0.0.0.0"\r\n  port: "5002"\r\n'
    write(host["yaml"], original)
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])})
    assert rc == 0, result
    assert result["previous_port"] == 5002
    assert read(host["yaml"]) == b'# x\r\nserver:\r\n  host: "0.0.0.0"\r\n  port: "5003"\r\n'
    assert json.loads(read(host["json"]).decode())["server"]["port"] == "5003"


def test_symlink_is_followed(host):
    target = host["etc"] / "real.yaml"
    write(target, PIPER)
    link = host["etc"] / "link.yaml"
    os.symlink("real.yaml", str(link))
    rc, result = run({"path": str(link), "port": 5003})
    assert rc == 0, result
    assert result["path"] == str(target)
    assert os.path.islink(str(link))
    assert read(target) == PIPER_5003


BROKEN = [
    (b"server: [unclosed\n", "invalid YAML at line 2"),
    (b"# no server here\nlibrary: {port: 443}\n", "no server mapping"),
    (b"server: 5002\n", "server is not a mapping"),
    (b"server:\n  host: 0.0.0.0\n  tls: {port: 443}\n", "server.port is missing"),
    (b"server:\n  port: fast\n", "server.port is not an integer"),
    (b"server:\n  port: &p 5002\nother: *p\n", "anchor or alias"),
    (b"server: {port: 5002}\n\xff\n", "not UTF-8"),
    (b"server: {port: 5002}\n" + b"# padding\n" * 146800,
     "refused: the file is 1468021 bytes, more than the 262144-byte limit"),
    (('a: &a ["x","x","x","x","x","x","x","x","x"]\n'
      + "".join("%s: &%s [%s]\n" % (n, n, ",".join(["*" + p] * 9)) for p, n in zip("abcdefgh", "bcdefghi"))
      + "server: {port: 5002}\n").encode("ascii"),
     "refused: YAML aliases expand too far (28 aliases stand for more than 10000 nodes)"),
]


@pytest.mark.parametrize("content, problem", BROKEN, ids=[b[1] for b in BROKEN])
def test_errors_leave_files_untouched_and_name_the_file(host, content, problem):
    write(host["yaml"], content)
    write(host["json"], b'{"keep": 1}')
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"]),
                      "backup": True})
    assert rc != 0
    assert result["failed"] is True
    assert str(host["yaml"]) in result["msg"]
    assert problem in result["msg"]
    assert read(host["yaml"]) == content
    assert read(host["json"]) == b'{"keep": 1}'
    assert listing(host["etc"]) == ["hailo-piper.yaml"]
    assert listing(host["xdg"]) == ["hailo-piper.json"]


def test_config_just_under_the_size_limit_is_edited_quickly(host):
    head = b"# hailo-piper\nserver:\n  host: 0.0.0.0\n  port: 5002  # piper\nvoices:\n"
    item = b'  - {name: "en_US-%06d", path: /opt/voices/v.onnx, rate: 22050}  # voice\n'
    content = head + b"".join(item % i for i in range((256 * 1024 - 200 - len(head)) // len(item % 0)))
    assert 256 * 1024 - 300 < len(content) <= 256 * 1024
    write(host["yaml"], content)
    start = time.monotonic()
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(host["json"])})
    elapsed = time.monotonic() - start
    assert rc == 0, result
    assert read(host["yaml"]) == content.replace(b"port: 5002", b"port: 5003", 1)
    assert read(host["json"]) == expected_json(read(host["yaml"]))
    assert elapsed < 10, "%.1f s for a %d-byte config" % (elapsed, len(content))


@pytest.mark.parametrize("port", [0, 65536, -5])
def test_port_out_of_range(host, port):
    rc, result = run({"path": str(host["yaml"]), "port": port})
    assert rc != 0
    assert "port must be from 1 to 65535" in result["msg"]
    assert read(host["yaml"]) == PIPER


def test_missing_yaml(host):
    missing = host["etc"] / "hailo-nothing.yaml"
    rc, result = run({"path": str(missing), "port": 5003})
    assert rc != 0
    assert str(missing) in result["msg"]


def test_missing_json_directory_fails_before_any_write(host):
    json_path = host["xdg"].parent / "hailo-nothing" / "hailo-nothing.json"
    rc, result = run({"path": str(host["yaml"]), "port": 5003, "json_path": str(json_path)})
    assert rc != 0
    assert "does not exist" in result["msg"] and str(json_path) in result["msg"]
    assert read(host["yaml"]) == PIPER


def test_missing_pyyaml_gives_a_clear_message(host, tmp_path):
    blocker = tmp_path / "block"
    (blocker / "yaml").mkdir(parents=True)
    (blocker / "yaml" / "__init__.py").write_text("raise ImportError('No module named yaml')\n")
    rc, result = run({"path": str(host["yaml"]), "port": 5003},
                     env={"PYTHONPATH": os.pathsep.join([str(blocker), COLLECTIONS_DIR])})
    assert rc != 0
    assert "PyYAML (python3-yaml)" in result["msg"]
    assert read(host["yaml"]) == PIPER
