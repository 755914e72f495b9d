# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of hailo.services.port_references.

Unit tests call the pure logic in plugins/module_utils/port_references.py.  End-to-end tests
run plugins/modules/port_references.py as a subprocess (Ansible's module debugging entry point)
on a copy of tests/unit/fixtures/system_services/ with extra traps (binary, non-UTF-8,
oversized, symlinked, hard-linked and CRLF files) added at run time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hailo.services.plugins.module_utils import port_references as pr

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "port_references.py")
FIXTURE = os.path.join(REPO_ROOT, "tests", "unit", "fixtures", "system_services")

# The engine filter's ``changes`` for the plan, reason included.
MOVES = [
    {"service": "hailo-depth", "from": 11436, "to": 11439,
     "reason": "shared 11436 with hailo-ocr; 11439 is the first free port after it in 11400-11499"},
    {"service": "hailo-piper", "from": 5002, "to": 5003,
     "reason": "shared 5002 with frozen hailo-face; 5003 is the first free port after it in 5000-5099"},
    {"service": "hailo-pose", "from": 11436, "to": 11440,
     "reason": "shared 11436 with hailo-ocr; 11440 is the first free port after it in 11400-11499"},
]
MOVED = dict((move["service"], (move["from"], move["to"])) for move in MOVES)
OLD_PORTS = (5002, 11436)

# Files the module must change (relative to the tree) and how many ports in each.
EXPECTED_FILES = {
    "hailo-depth/API_SPEC.md": 5,
    "hailo-depth/ARCHITECTURE.md": 3,
    "hailo-depth/config.yaml": 1,
    "hailo-depth/hailo_depth_server.py": 2,
    "hailo-depth/install.sh": 4,
    "hailo-depth/render_config.py": 1,
    "hailo-depth/tests/conftest.py": 1,
    "hailo-piper/.env.example": 1,
    "hailo-piper/API_SPEC.md": 6,
    "hailo-piper/BENCHMARKS.md": 1,
    "hailo-piper/README.md": 5,
    "hailo-piper/TROUBLESHOOTING.md": 6,
    "hailo-piper/config.yaml": 1,
    "hailo-piper/docs/windows.md": 2,  # CRLF, added at run time
    "hailo-piper/examples/client.js": 1,
    "hailo-piper/hailo_piper_server.py": 2,
    "hailo-piper/install.sh": 3,
    "hailo-piper/render_config.py": 1,
    "hailo-piper/tests/README.md": 2,
    "hailo-piper/tests/conftest.py": 1,
    "hailo-piper/tests/test_tts_manual.py": 1,
    "hailo-piper/verify.sh": 2,
    "hailo-pose/API_SPEC.md": 5,
    "hailo-pose/BUILD_PLAN.md": 4,
    "hailo-pose/README.md": 2,
    "hailo-pose/config.yaml": 1,
    "hailo-pose/hailo_pose_server.py": 2,
    "hailo-pose/install.sh": 3,
    "hailo-pose/render_config.py": 1,
    "hailo-pose/tests/test_pose_api.py": 1,
    "hailo-pose/verify.sh": 2,
}
EXPECTED_REPLACED = 73

# Lines in moved directories that still hold an old port afterwards, on purpose: a longer
# number or version, or a line about another service.
EXPECTED_SURVIVORS = {
    ("hailo-piper/BENCHMARKS.md",
     "Longest synthesis: 5002ms for a 5000-character input (build 5002.5 of the image)."),
    ("hailo-piper/README.md",
     "Note that hailo-face (frozen) also defaults to 5002; see TROUBLESHOOTING.md."),
    ("hailo-piper/TROUBLESHOOTING.md",
     "If the owner is hailo-face, the frozen face service sits on 5002 and wins; move piper."),
    ("hailo-piper/TROUBLESHOOTING.md",
     "If http://localhost:11436/health answers instead, you reached hailo-ocr, not this service."),
    ("hailo-piper/TROUBLESHOOTING.md",
     "en_US-lessac-medium is about 0.5002; the v5002 voice bundle is not supported."),
    ("hailo-depth/ARCHITECTURE.md",
     "- hailo-pose was also configured for 11436, so only one of the two could start."),
    ("hailo-pose/BUILD_PLAN.md",
     "6. hailo-pose and hailo-depth both want 11436: stop hailo-depth before testing."),
    ("hailo-pose/README.md",
     "Note: hailo-ocr keeps 11436 after the port reconciliation."),
}

# (file, line, port, moved_service, likely_service, text)
_D, _P, _PI = "hailo-depth", "hailo-pose", "hailo-piper"
_TOP_ROWS = {
    10: ("| hailo-ocr | 11436 | `hailo-ocr/` | |", "hailo-ocr"),
    13: ("| hailo-depth | 11436 | `hailo-depth/` | |", "hailo-depth"),
    14: ("| hailo-pose | 11436 | `hailo-pose/` | |", "hailo-pose"),
}
_LOOP = "for port in 11435 11436 11437 11438 5000 5001 5002; do"
EXPECTED_REVIEW = sorted(
    [("README.md", line, 11436, moved, likely, text)
     for line, (text, likely) in _TOP_ROWS.items() for moved in (_D, _P)]
    + [
        ("README.md", 17, 5002, _PI, "hailo-face", "| hailo-face | 5002 | `hailo-face/` | frozen |"),
        ("README.md", 18, 5002, _PI, "hailo-piper", "| hailo-piper | 5002 | `hailo-piper/` | |"),
        ("README.md", 23, 5002, _PI, None, _LOOP),
        ("README.md", 23, 11436, _D, None, _LOOP),
        ("README.md", 23, 11436, _P, None, _LOOP),
        ("build_plans/PORT_RECONCILIATION.md", 3, 5002, _PI, None,
         "- [ ] hailo-piper: 5002 -> 5003 (hailo-face keeps 5002)"),
    ]
    + [("build_plans/PORT_RECONCILIATION.md", 4, 11436, moved, "hailo-depth",
        "- [ ] hailo-depth: 11436 -> 11439") for moved in (_D, _P)]
    + [("build_plans/PORT_RECONCILIATION.md", 5, 11436, moved, "hailo-pose",
        "- [ ] hailo-pose: 11436 -> 11440") for moved in (_D, _P)]
    + [("hailo-depth/ARCHITECTURE.md", 10, 11436, moved, "hailo-pose",
        "- hailo-pose was also configured for 11436, so only one of the two could start.")
       for moved in (_D, _P)]
    + [
        ("hailo-face/API_SPEC.md", 3, 5002, _PI, "hailo-face", "**Base URL:** http://localhost:5002"),
        ("hailo-face/API_SPEC.md", 6, 5002, _PI, "hailo-face", "curl http://localhost:5002/health"),
        ("hailo-face/README.md", 5, 5002, _PI, "hailo-face",
         "Listens on port 5002 (frozen, standby; do not move)."),
        ("hailo-face/README.md", 6, 5002, _PI, "hailo-piper", "hailo-piper used to default to 5002 as well."),
        ("hailo-face/config.yaml", 3, 5002, _PI, "hailo-face", "port: 5002"),
        ("hailo-face/install.sh", 3, 5002, _PI, "hailo-face", 'DEFAULT_PORT="5002"'),
    ]
    + [(rel, line, 11436, moved, "hailo-ocr", text) for moved in (_D, _P) for rel, line, text in [
        ("hailo-ocr/API_SPEC.md", 3, "Base URL: http://localhost:11436"),
        ("hailo-ocr/API_SPEC.md", 6, 'curl -F "image=@receipt.jpg" http://localhost:11436/v1/ocr'),
        ("hailo-ocr/README.md", 5,
         "The port stays 11436 after the reconciliation (first of the three alphabetically)."),
        ("hailo-ocr/README.md", 6, "Before it, hailo-depth and hailo-pose also defaulted to 11436."),
        ("hailo-ocr/config.yaml", 4, "port: 11436"),
    ]]
    + [
        ("hailo-piper/README.md", 28, 5002, _PI, "hailo-face",
         "Note that hailo-face (frozen) also defaults to 5002; see TROUBLESHOOTING.md."),
        ("hailo-piper/TROUBLESHOOTING.md", 12, 5002, _PI, "hailo-face",
         "If the owner is hailo-face, the frozen face service sits on 5002 and wins; move piper."),
    ]
    + [("hailo-piper/TROUBLESHOOTING.md", 27, 11436, moved, "hailo-ocr",
        "If http://localhost:11436/health answers instead, you reached hailo-ocr, not this service.")
       for moved in (_D, _P)]
    + [("hailo-pose/README.md", 8, 11436, moved, "hailo-ocr",
        "Note: hailo-ocr keeps 11436 after the port reconciliation.") for moved in (_D, _P)]
    + [("hailo-pose/BUILD_PLAN.md", 8, 11436, moved, "hailo-pose",
        "6. hailo-pose and hailo-depth both want 11436: stop hailo-depth before testing.")
       for moved in (_D, _P)],
    key=lambda entry: (entry[0], entry[1], entry[2], entry[3]),
)

EXPECTED_SKIPPED = [
    ("hailo-piper/assets/beep.bin", "binary"),
    ("hailo-piper/docs/latin1.txt", "binary"),
    ("hailo-piper/face_api_link.md", "symlink"),
    ("hailo-piper/models/voice.onnx.json", "too large"),
    ("hailo-piper/outside.txt", "symlink"),
    ("hailo-piper/shared", "symlink"),
]

# Exact lines that must read like this afterwards: every file kind and "Base URL" style.
EXPECTED_LINES = {
    "hailo-piper/API_SPEC.md": [
        "**Base URL:** http://localhost:5003",
        "curl http://localhost:5003/health",
        "curl -s http://localhost:5003/v1/voices | jq '.voices[].name'",
        "curl -X POST http://localhost:5003/v1/audio/speech \\",
        '    def __init__(self, base_url="http://localhost:5003", timeout=30):',
        "const baseURL = 'http://localhost:5003';",
        "| input | string | - | Text, at most 5000 characters |",
    ],
    "hailo-piper/README.md": [
        "The service listens on port 5003 on all interfaces (`0.0.0.0:5003`). Change `server.port` in",
        "| `/etc/hailo/hailo-piper.yaml` | configuration (port 5003 by default) |",
        "service was moved to 5003.",
    ],
    "hailo-piper/TROUBLESHOOTING.md": [
        "Something else holds port 5003. Find it:",
        "sudo ss -lntp | grep :5003",
        "sudo lsof -i :5003",
        "sudo ufw allow 5003/tcp",
        "sudo ufw status | grep 5003",
        'curl -s http://127.0.0.1:5003/health | jq .service   # expect "hailo-piper"',
    ],
    "hailo-piper/BENCHMARKS.md": [
        "| en_US-lessac-medium | 50020 | 150021 | 0.31 |",
        "| en_GB-alan-low | 25002 | 75002 | 0.19 |",
        "Measured with `python tests/test_tts_manual.py --api-url http://localhost:5003`.",
    ],
    "hailo-piper/config.yaml": ["  port: 5003", "  max_chars: 5000"],
    "hailo-piper/install.sh": [
        'DEFAULT_PORT="5003"',
        '    print(cfg.get("server", {}).get("port", 5003))',
        "    print(5003)",
    ],
    "hailo-piper/verify.sh": [
        'DEFAULT_PORT="5003"',
        'echo "OK: hailo-piper answers on port ${PORT} (expected 5003 unless configured)"',
    ],
    "hailo-piper/hailo_piper_server.py": [
        '    "server": {"host": "0.0.0.0", "port": 5003, "log_level": "info"},',
        '    port = int(server.get("port", 5003))',
    ],
    "hailo-piper/render_config.py": ['    server.setdefault("port", 5003)'],
    "hailo-piper/tests/conftest.py": ['        default="http://localhost:5003",'],
    "hailo-piper/tests/README.md": [
        "pytest tests/ --service-url http://localhost:5003",
        "Without `--service-url` the tests use `http://localhost:5003`. The ad-hoc script",
    ],
    "hailo-piper/tests/test_tts_manual.py": [
        '    parser.add_argument("--api-url", default="http://localhost:5003", help="hailo-piper base URL")',
    ],
    "hailo-piper/examples/client.js": [
        "const baseURL = process.env.HAILO_PIPER_URL || 'http://localhost:5003';",
    ],
    "hailo-depth/API_SPEC.md": [
        "Base URL: http://localhost:11439",
        "curl http://localhost:11439/health",
        "curl -X POST http://localhost:11439/v1/depth/estimate \\",
        'def estimate_depth(path, base_url="http://localhost:11439"):',
        'const baseURL = "http://localhost:11439";',
    ],
    "hailo-depth/ARCHITECTURE.md": [
        "client --HTTP--> 0.0.0.0:11439 (Flask, hailo-depth) --> HailoRT --> /dev/hailo0",
        "  `/etc/hailo/hailo-depth.yaml` by `render_config.py`; without it the port is 11439.",
        "- Input frames are resized to 256x320; the padded output buffer is 114360 bytes.",
        "- Readiness: `curl localhost:11439/health/ready` answers 503 while the model loads.",
    ],
    "hailo-depth/config.yaml": ["  port: 11439"],
    "hailo-depth/install.sh": [
        'DEFAULT_PORT="11439"',
        '        print(json.load(fh).get("server", {}).get("port", 11439))',
        "    print(11439)",
        "# Open the firewall if ufw is active: ufw allow 11439/tcp",
    ],
    "hailo-depth/hailo_depth_server.py": [
        '    "server": {"host": "0.0.0.0", "port": 11439, "debug": False},',
        '    app.run(host=server.get("host", "0.0.0.0"), port=int(server.get("port", 11439)))',
    ],
    "hailo-depth/render_config.py": ['cfg.setdefault("server", {}).setdefault("port", 11439)'],
    "hailo-depth/tests/conftest.py": [
        '    parser.addoption("--base-url", default="http://localhost:11439", help="hailo-depth base URL")',
    ],
    "hailo-pose/API_SPEC.md": [
        "curl -s http://localhost:11440/health | jq .",
        'curl -X POST http://localhost:11440/v1/pose/detect -F "image=@person.jpg"',
        '    def __init__(self, base_url="http://localhost:11440"):',
        "const baseURL = 'http://localhost:11440';",
    ],
    "hailo-pose/BUILD_PLAN.md": [
        "3. Open the port: `sudo ufw allow 11440/tcp`",
        "4. Check the listener: `ss -lntp | grep :11440` should show python3 on 0.0.0.0:11440.",
        "5. Run `./verify.sh`; it probes port 11440 and `/health/ready`.",
    ],
    "hailo-pose/README.md": [
        "- Port: 11440 (`server.port` in `/etc/hailo/hailo-pose.yaml`)",
        "- Health: `curl http://localhost:11440/health`",
    ],
    "hailo-pose/config.yaml": ["  port: 11440"],
    "hailo-pose/install.sh": [
        'DEFAULT_PORT="11440"',
        '    print(cfg.get("server", {}).get("port", 11440))',
        "    print(11440)",
    ],
    "hailo-pose/verify.sh": ["# Manual equivalent: lsof -i :11440", 'DEFAULT_PORT="11440"'],
    "hailo-pose/hailo_pose_server.py": [
        '    "server": {"host": "0.0.0.0", "port": 11440},',
        '    return server.get("host", "0.0.0.0"), server.get("port", 11440)',
    ],
    "hailo-pose/render_config.py": ['cfg["server"].setdefault("port", 11440)'],
    "hailo-pose/tests/test_pose_api.py": ['parser.add_argument("--api-url", default="http://localhost:11440")'],
}

_COUNTER = itertools.count()


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def make_tree(tmp_path, traps=True):
    """Copy the fixture tree to tmp_path/system_services and add the run-time traps."""
    root = str(tmp_path / "system_services")
    shutil.copytree(FIXTURE, root, symlinks=True)
    if not traps:
        return root
    piper = os.path.join(root, "hailo-piper")
    for sub in ("assets", "docs", "models", "node_modules/piper-client", ".git"):
        os.makedirs(os.path.join(piper, sub))
    with open(os.path.join(piper, "assets", "beep.bin"), "wb") as handle:
        handle.write(b"RIFF\x24\x08\x00\x00WAVE port=5002 \x00\x01 http://localhost:5002/health\n")
    with open(os.path.join(piper, "docs", "latin1.txt"), "wb") as handle:
        handle.write(u"Caf\u00e9 kiosk: curl http://localhost:5002/health\n".encode("latin-1"))
    with open(os.path.join(piper, "docs", "windows.md"), "wb") as handle:
        handle.write(b"# From Windows\r\n\r\ncurl.exe http://localhost:5002/health\r\n"
                     b"Test-NetConnection pi5 -Port 5002\r\n")
    with open(os.path.join(piper, "models", "voice.onnx.json"), "w") as handle:
        handle.write('{"server": "http://localhost:5002", "pad": "%s"}\n' % ("x" * (1024 * 1024)))
    with open(os.path.join(piper, "node_modules", "piper-client", "index.js"), "w") as handle:
        handle.write("module.exports = { port: 5002 };\n")
    with open(os.path.join(piper, ".git", "config"), "w") as handle:
        handle.write('[remote "pi"]\n\turl = ssh://pi5:5002/srv/git/hailo-piper.git\n')
    outside = str(tmp_path / "outside.txt")
    with open(outside, "w") as handle:
        handle.write("curl http://localhost:5002/health\n")
    os.symlink(outside, os.path.join(piper, "outside.txt"))
    os.symlink("../hailo-face/API_SPEC.md", os.path.join(piper, "face_api_link.md"))
    os.symlink("../hailo-face", os.path.join(piper, "shared"))
    return root


def snapshot(root):
    """{relative path: fingerprint} of every entry under root, symlinks not followed."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            rel = os.path.relpath(full, root)
            if stat.S_ISLNK(info.st_mode):
                result[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                result[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                with open(full, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                result[rel] = ("file", digest, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return result


def run_module(tmp_path, args, check=False, diff=False):
    """Run the module in a subprocess; return (parsed stdout JSON, returncode)."""
    assert os.path.isdir(os.path.join(COLLECTIONS_DIR, "ansible_collections", "hailo", "services"))
    module_args = dict(args)
    if check:
        module_args["_ansible_check_mode"] = True
    if diff:
        module_args["_ansible_diff"] = True
    args_file = tmp_path / ("args-%d.json" % next(_COUNTER))
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
    env = dict(os.environ)
    env["PYTHONPATH"] = COLLECTIONS_DIR
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], env=env, cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    try:
        result = json.loads(proc.stdout.decode())
    except ValueError:
        pytest.fail("module printed no JSON: stdout=%r stderr=%r" % (proc.stdout, proc.stderr))
    return result, proc.returncode


def rel_files(result, root):
    return dict((os.path.relpath(name, root), count) for name, count in result["files"].items())


def rel_review(result, root):
    return [(os.path.relpath(item["file"], root), item["line"], item["port"], item["moved_service"],
             item["likely_service"], item["text"]) for item in result["review"]]


def fixture_files(service):
    """Relative paths of the committed fixture files of one service."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(os.path.join(FIXTURE, service)):
        for name in filenames:
            found.append(os.path.relpath(os.path.join(dirpath, name), FIXTURE))
    return sorted(found)


def read_lines(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8").split("\n")


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "5002", "http://localhost:5002", "http://localhost:5002/health", "port 5002.", "port 5002,",
    '"5002"', "'5002'", "5002/tcp", ":5002)", "0.0.0.0:5002", "(5002)", "[5002]", "=5002",
    "grep :5002", "-p 5002:5002", "5002.txt", "foo.5002", "5002-5003", "**5002**", "`5002`",
    u"\u7aef\u53e35002", "5002\r", "\t5002\n",
])
def test_standalone_port_matches(text):
    assert len(pr.find_ports(text, 5002)) >= 1


@pytest.mark.parametrize("text", [
    "50020", "150021", "15002", "05002", "v5002", "V5002", "0x5002", "port_5002", "5002_port",
    "5002ms", "5002px", "1.5002", "0.5002", "5002.5", "2.5002.1", "5002.0", "build5002",
    "25002", "75002", "114360", "",
])
def test_embedded_number_does_not_match(text):
    assert pr.find_ports(text, 5002) == []


def test_replace_port_spans_and_count():
    text = "a 5002 b 50020 c 1.5002 d :5002/ e 5002.5 f v5002 g 5002."
    new, count = pr.replace_port(text, 5002, 5003)
    assert new == "a 5003 b 50020 c 1.5002 d :5003/ e 5002.5 f v5002 g 5003."
    assert count == 3
    assert pr.find_ports(text, 5002) == [(2, 6), (27, 31), (52, 56)]


def test_replace_port_same_port_is_noop():
    assert pr.replace_port("x 5002 y", 5002, 5002) == ("x 5002 y", 0)


_DIGIT_RUN = re.compile(r"[0-9]+")
_TEXT = st.lists(
    st.sampled_from(list("0123456789.:/_-vx \n\r\"'=") + ["5002", "5003", "50020", "1.5002", "5002.5"]),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_replace_only_changes_whole_old_numbers(text):
    new, count = pr.replace_port(text, 5002, 5003)
    # Only digits change, and only a whole run of digits "5002" can become "5003".
    assert _DIGIT_RUN.sub("#", new) == _DIGIT_RUN.sub("#", text)
    pairs = list(zip(_DIGIT_RUN.findall(text), _DIGIT_RUN.findall(new)))
    changed = [pair for pair in pairs if pair[0] != pair[1]]
    assert all(pair == ("5002", "5003") for pair in changed)
    assert len(changed) == count
    # Nothing standalone is left, and a second pass finds nothing.
    assert pr.find_ports(new, 5002) == []
    assert pr.replace_port(new, 5002, 5003) == (new, 0)
    # The reverse move restores the text exactly when "5003" was not there to begin with.
    if "5003" not in text:
        assert pr.replace_port(new, 5003, 5002) == (text, count)


# ---------------------------------------------------------------------------------------------
# Names and moves
# ---------------------------------------------------------------------------------------------

def test_names_in_whole_names_only_in_order():
    pattern = pr.names_pattern(["hailo-face", "hailo-piper", "hailo-ocr"])
    assert pr.names_in("/etc/hailo/hailo-face.yaml and hailo-piper.service", pattern) == [
        "hailo-face", "hailo-piper"]
    assert pr.names_in("Hailo-Face, HAILO-FACE and hailo-face", pattern) == ["hailo-face"]
    assert pr.names_in("face, piper, hailo-face-v2, xhailo-ocr, hailo-ocr_2, hailo_face", pattern) == []
    assert pr.names_in("anything", pr.names_pattern([])) == []


def test_validate_moves_accepts_filter_output_and_normalises():
    moves = MOVES + [dict(MOVES[0]), {"service": "hailo-x", "from": "5010", "to": 5011}]
    assert pr.validate_moves(moves) == [
        {"service": "hailo-depth", "from": 11436, "to": 11439},
        {"service": "hailo-piper", "from": 5002, "to": 5003},
        {"service": "hailo-pose", "from": 11436, "to": 11440},
        {"service": "hailo-x", "from": 5010, "to": 5011},
    ]
    assert pr.validate_moves([]) == []
    assert pr.validate_moves(None) == []


@pytest.mark.parametrize("moves, culprit", [
    ("hailo-piper", "moves must be a list"),
    (["hailo-piper"], "moves[0] must be a dict"),
    ([{"service": "hailo-piper", "from": 5002}], "moves[0] lacks to"),
    ([{"from": 5002, "to": 5003}], "moves[0] lacks service"),
    ([{"service": "hailo-piper", "from": 0, "to": 5003}], "moves[0] (hailo-piper): from"),
    ([{"service": "hailo-piper", "from": 5002, "to": 65536}], "moves[0] (hailo-piper): to"),
    ([{"service": "hailo-piper", "from": 5002, "to": -1}], "-1"),
    ([{"service": "hailo-piper", "from": True, "to": 5003}], "True"),
    ([{"service": "hailo-piper", "from": 5002.0, "to": 5003}], "5002.0"),
    ([{"service": "hailo-piper", "from": "50o2", "to": 5003}], "50o2"),
    ([{"service": "../etc", "from": 5002, "to": 5003}], "'../etc'"),
    ([{"service": "a..b", "from": 5002, "to": 5003}], "'a..b'"),
    ([{"service": "Hailo-Piper", "from": 5002, "to": 5003}], "'Hailo-Piper'"),
    ([{"service": "-x", "from": 5002, "to": 5003}], "'-x'"),
    ([{"service": "a/b", "from": 5002, "to": 5003}], "'a/b'"),
    ([{"service": "", "from": 5002, "to": 5003}], "''"),
    ([{"service": "hailo-piper", "from": 5002, "to": 5003},
      {"service": "hailo-piper", "from": 5002, "to": 5004}], "hailo-piper is moved twice"),
])
def test_validate_moves_names_the_culprit(moves, culprit):
    with pytest.raises(pr.PortReferenceError) as info:
        pr.validate_moves(moves)
    assert culprit in str(info.value)


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------

def test_read_text_classifies(tmp_path):
    text_file = tmp_path / "ok.md"
    text_file.write_bytes(u"\ufeffCaf\u00e9\r\nport 5002\r\n".encode("utf-8"))
    assert pr.read_text(str(text_file)) == (u"\ufeffCaf\u00e9\r\nport 5002\r\n", None)

    (tmp_path / "nul.txt").write_bytes(b"port 5002\x00")
    assert pr.read_text(str(tmp_path / "nul.txt")) == (None, "binary")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 5002")
    assert pr.read_text(str(tmp_path / "latin1.txt")) == (None, "binary")

    (tmp_path / "exact.txt").write_bytes(b"5" * 64)
    assert pr.read_text(str(tmp_path / "exact.txt"), max_size=64) == ("5" * 64, None)
    assert pr.read_text(str(tmp_path / "exact.txt"), max_size=63) == (None, "too large")

    os.symlink(str(text_file), str(tmp_path / "link.md"))
    assert pr.read_text(str(tmp_path / "link.md")) == (None, "symlink")
    os.mkfifo(str(tmp_path / "fifo"))
    assert pr.read_text(str(tmp_path / "fifo")) == (None, "not a regular file")
    assert pr.read_text(str(tmp_path / "missing"))[1].startswith("unreadable: ")


def test_walk_never_follows_symlinks_and_prunes_caches(tmp_path):
    root = tmp_path / "t"
    (root / "svc" / "sub").mkdir(parents=True)
    (root / "svc" / "__pycache__").mkdir()
    (root / "svc" / "__pycache__" / "x.txt").write_text("5002")
    (root / "svc" / "sub" / "b.txt").write_text("b")
    (root / "svc" / "a.txt").write_text("a")
    (root / "top.md").write_text("t")
    os.symlink(str(root / "svc" / "sub"), str(root / "svc" / "dirlink"))
    os.mkfifo(str(root / "svc" / "pipe"))
    assert list(pr.walk(str(root))) == [
        ("top.md", "file"),
        (os.path.join("svc", "a.txt"), "file"),
        (os.path.join("svc", "dirlink"), "symlink"),
        (os.path.join("svc", "pipe"), "not a regular file"),
        (os.path.join("svc", "sub", "b.txt"), "file"),
    ]


# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------

def _tree(tmp_path, files):
    root = tmp_path / "tree"
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))
    return str(root)


def _rel_edits(plan, root):
    return dict((os.path.relpath(name, root), (edit["after"], edit["count"]))
                for name, edit in plan["edits"].items())


def test_scan_shared_old_port_goes_to_each_own_directory(tmp_path):
    root = _tree(tmp_path, {
        "hailo-depth/API_SPEC.md": "Base URL: http://localhost:11436\n",
        "hailo-pose/API_SPEC.md": "## Base URL\n\n```\nhttp://localhost:11436\n```\n",
        "hailo-ocr/API_SPEC.md": "Base URL: http://localhost:11436\n",
        "PORTS.md": "ocr, depth and pose: 11436\n",
    })
    moves = [{"service": "hailo-depth", "from": 11436, "to": 11439},
             {"service": "hailo-pose", "from": 11436, "to": 11440}]
    plan = pr.scan(root, moves)
    assert _rel_edits(plan, root) == {
        "hailo-depth/API_SPEC.md": ("Base URL: http://localhost:11439\n", 1),
        "hailo-pose/API_SPEC.md": ("## Base URL\n\n```\nhttp://localhost:11440\n```\n", 1),
    }
    assert [(os.path.relpath(r["file"], root), r["line"], r["moved_service"], r["likely_service"])
            for r in plan["review"]] == [
        ("PORTS.md", 1, "hailo-depth", None),
        ("PORTS.md", 1, "hailo-pose", None),
        ("hailo-ocr/API_SPEC.md", 1, "hailo-depth", "hailo-ocr"),
        ("hailo-ocr/API_SPEC.md", 1, "hailo-pose", "hailo-ocr"),
    ]
    assert plan["skipped"] == []


def test_scan_lines_naming_another_service_are_reviewed_not_changed(tmp_path):
    root = _tree(tmp_path, {
        "hailo-piper/README.md": (
            "hailo-piper listens on 5002\n"
            "hailo-face keeps 5002\n"
            "hailo-piper and hailo-face both wanted 5002\n"
            "face detection is not on 5002\n"
            "hailo-unknown says 5002\n"
        ),
        "hailo-face/README.md": "x\n",
    })
    plan = pr.scan(root, [{"service": "hailo-piper", "from": 5002, "to": 5003}])
    assert _rel_edits(plan, root) == {"hailo-piper/README.md": (
        "hailo-piper listens on 5003\n"
        "hailo-face keeps 5002\n"
        "hailo-piper and hailo-face both wanted 5002\n"
        "face detection is not on 5003\n"
        "hailo-unknown says 5003\n", 3)}
    assert [(r["line"], r["likely_service"]) for r in plan["review"]] == [
        (2, "hailo-face"), (3, "hailo-piper")]


def test_scan_likely_service_from_line_directory_or_path(tmp_path):
    root = _tree(tmp_path, {
        "hailo-piper/a.md": "5002\n",
        "hailo-face/a.md": "5002\nhailo-piper was on 5002\nhailo-piper and hailo-clip: 5002\n",
        "hailo-clip/a.md": "x\n",
        "docs/hailo-face/notes.md": "5002\n",
        "docs/misc.md": "5002\n",
        "top.md": "hailo-face 5002\n",
        "hailo-nodir.md": "5002\n",
    })
    plan = pr.scan(root, [{"service": "hailo-piper", "from": 5002, "to": 5003}])
    assert [(os.path.relpath(r["file"], root), r["line"], r["likely_service"]) for r in plan["review"]] == [
        ("docs/hailo-face/notes.md", 1, "hailo-face"),
        ("docs/misc.md", 1, None),
        ("hailo-face/a.md", 1, "hailo-face"),
        ("hailo-face/a.md", 2, "hailo-piper"),
        ("hailo-face/a.md", 3, "hailo-face"),
        ("hailo-nodir.md", 1, None),
        ("top.md", 1, "hailo-face"),
    ]


def test_scan_chained_moves_do_not_review_the_owners_new_port(tmp_path):
    root = _tree(tmp_path, {
        "hailo-a/x.md": "old 5002, new 5003\n",
        "hailo-b/x.md": "old 5003\n",
    })
    moves = [{"service": "hailo-a", "from": 5002, "to": 5003},
             {"service": "hailo-b", "from": 5003, "to": 5004}]
    plan = pr.scan(root, moves)
    assert _rel_edits(plan, root) == {
        "hailo-a/x.md": ("old 5003, new 5003\n", 1),
        "hailo-b/x.md": ("old 5004\n", 1),
    }
    assert plan["review"] == []


def test_scan_keeps_every_other_byte(tmp_path):
    content = u"\ufeff# t\u00eate\r\nport: 5002\r\n\tcurl http://localhost:5002/\r\nend 5002"
    root = _tree(tmp_path, {"hailo-piper/x.md": content})
    plan = pr.scan(root, [{"service": "hailo-piper", "from": 5002, "to": 5003}])
    after, count = _rel_edits(plan, root)["hailo-piper/x.md"]
    assert after == content.replace("5002", "5003")
    assert count == 3


def test_scan_noop_and_empty_moves_read_nothing(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/x.md": "5002\n", "top.md": "5002\n"})
    assert pr.scan(root, [{"service": "hailo-piper", "from": 5002, "to": 5002}]) == {
        "edits": {}, "review": [], "skipped": []}
    assert pr.scan(root, []) == {"edits": {}, "review": [], "skipped": []}


def test_scan_long_review_line_is_cut_around_the_port(tmp_path):
    line = "a" * 500 + " 5002 " + "b" * 500
    root = _tree(tmp_path, {"hailo-piper/x.md": "x\n", "top.md": line + "\n"})
    plan = pr.scan(root, [{"service": "hailo-piper", "from": 5002, "to": 5003}])
    text = plan["review"][0]["text"]
    assert len(text) <= pr.MAX_REVIEW_TEXT
    assert " 5002 " in text and text.startswith("...") and text.endswith("...")


def test_scan_errors_name_the_culprit(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/x.md": "5002\n", "afile": "x"})
    with pytest.raises(pr.PortReferenceError, match="path %s does not exist" % re.escape(root + "/nope")):
        pr.scan(root + "/nope", [])
    with pytest.raises(pr.PortReferenceError, match="is not a directory"):
        pr.scan(os.path.join(root, "afile"), [])
    with pytest.raises(pr.PortReferenceError, match="moved services hailo-a, hailo-b$"):
        pr.scan(root, [{"service": "hailo-a", "from": 1, "to": 2}, {"service": "hailo-piper", "from": 5002, "to": 5003},
                       {"service": "hailo-b", "from": 3, "to": 4}])
    with pytest.raises(pr.PortReferenceError, match="max_size"):
        pr.scan(root, [], max_size=0)


def test_unified_diff_format():
    entry = pr.unified_diff("a\nport 5002\nb", "a\nport 5003\nb", "/x/y.md")
    assert entry["before_header"] == entry["after_header"] == "/x/y.md"
    assert entry["prepared"] == (
        "--- before: /x/y.md\n+++ after: /x/y.md\n@@ -1,3 +1,3 @@\n a\n-port 5002\n+port 5003\n"
        " b\n\\ No newline at end of file\n")


# ---------------------------------------------------------------------------------------------
# End to end: the real module as a subprocess
# ---------------------------------------------------------------------------------------------

def test_module_rewrites_every_stale_reference_and_nothing_else(tmp_path):
    root = make_tree(tmp_path)
    os.chmod(os.path.join(root, "hailo-piper", "install.sh"), 0o754)
    os.chmod(os.path.join(root, "hailo-depth", "config.yaml"), 0o640)
    if os.geteuid() == 0:
        os.chown(os.path.join(root, "hailo-pose", "config.yaml"), 4321, 4322)
    inode = os.stat(os.path.join(root, "hailo-piper", "config.yaml")).st_ino
    before = snapshot(root)

    result, rc = run_module(tmp_path, {"path": root, "moves": MOVES})
    assert rc == 0, result
    assert "results" not in result
    assert result["changed"] is True
    assert rel_files(result, root) == EXPECTED_FILES
    assert result["replaced"] == EXPECTED_REPLACED == sum(EXPECTED_FILES.values())
    assert rel_review(result, root) == EXPECTED_REVIEW
    assert [(os.path.relpath(s["file"], root), s["reason"]) for s in result["skipped"]] == EXPECTED_SKIPPED
    assert "diff" not in result
    assert result["msg"] == "rewrote 73 port reference(s) in 31 file(s); 42 line(s) to review"

    # Zero bytes changed outside the expected files (other services, top level, symlinks and
    # their targets, binary, oversized and cache files), and no file added or removed.
    after = snapshot(root)
    assert sorted(after) == sorted(before)
    changed = sorted(rel for rel in before if before[rel] != after[rel])
    assert changed == sorted(EXPECTED_FILES)
    with open(str(tmp_path / "outside.txt")) as handle:
        assert handle.read() == "curl http://localhost:5002/health\n"

    # Mode and owner kept; written by rename (new inode), no temporary file left behind.
    for rel in EXPECTED_FILES:
        assert after[rel][2:] == before[rel][2:], rel
    assert stat.S_IMODE(os.stat(os.path.join(root, "hailo-piper", "install.sh")).st_mode) == 0o754
    assert stat.S_IMODE(os.stat(os.path.join(root, "hailo-depth", "config.yaml")).st_mode) == 0o640
    if os.geteuid() == 0:
        info = os.stat(os.path.join(root, "hailo-pose", "config.yaml"))
        assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert os.stat(os.path.join(root, "hailo-piper", "config.yaml")).st_ino != inode

    # Each expected line is there, exactly.
    for rel, lines in EXPECTED_LINES.items():
        have = read_lines(os.path.join(root, rel))
        for line in lines:
            assert line in have, (rel, line)
    with open(os.path.join(root, "hailo-piper", "docs", "windows.md"), "rb") as handle:
        assert handle.read() == (b"# From Windows\r\n\r\ncurl.exe http://localhost:5003/health\r\n"
                                 b"Test-NetConnection pi5 -Port 5003\r\n")
    with open(os.path.join(root, "hailo-piper", ".env.example"), "rb") as handle:
        assert handle.read() == b"HAILO_PIPER_URL=http://localhost:5003"
    with open(os.path.join(root, "hailo-pose", "API_SPEC.md")) as handle:
        assert "## Base URL\n\n```\nhttp://localhost:11440\n```\n" in handle.read()

    # Independent of the module's own number rule: in every moved directory, the only runs of
    # digits that changed are old -> new ports of that directory's service, nothing else
    # moved, and the old port is left only on the lines listed as deliberate survivors.
    survivors = set()
    old_any = re.compile(r"(?<![0-9])(?:%s)(?![0-9])" % "|".join(str(port) for port in OLD_PORTS))
    for service, (old, new) in MOVED.items():
        for rel in fixture_files(service):
            new_lines = read_lines(os.path.join(root, rel))
            old_lines = read_lines(os.path.join(FIXTURE, rel))
            assert len(new_lines) == len(old_lines), rel
            pairs = 0
            for was, now in zip(old_lines, new_lines):
                assert _DIGIT_RUN.sub("#", was) == _DIGIT_RUN.sub("#", now), (rel, was, now)
                for run_was, run_now in zip(_DIGIT_RUN.findall(was), _DIGIT_RUN.findall(now)):
                    if run_was != run_now:
                        assert (run_was, run_now) == (str(old), str(new)), (rel, was, now)
                        pairs += 1
                if old_any.search(now):
                    survivors.add((rel, now.strip()))
            assert pairs == EXPECTED_FILES.get(rel, 0), rel
    assert survivors == EXPECTED_SURVIVORS


def test_module_second_run_changes_nothing(tmp_path):
    root = make_tree(tmp_path)
    first, rc = run_module(tmp_path, {"path": root, "moves": MOVES})
    assert rc == 0 and first["changed"] is True
    middle = snapshot(root)
    second, rc = run_module(tmp_path, {"path": root, "moves": MOVES}, diff=True)
    assert rc == 0, second
    assert second["changed"] is False
    assert second["replaced"] == 0
    assert second["files"] == {}
    assert second["diff"] == []
    assert second["review"] == first["review"]
    assert snapshot(root) == middle


def test_module_check_mode_reports_and_writes_nothing(tmp_path):
    root = make_tree(tmp_path)
    before = snapshot(root)
    checked, rc = run_module(tmp_path, {"path": root, "moves": MOVES}, check=True)
    assert rc == 0, checked
    assert checked["changed"] is True
    assert rel_files(checked, root) == EXPECTED_FILES
    assert checked["replaced"] == EXPECTED_REPLACED
    assert rel_review(checked, root) == EXPECTED_REVIEW
    assert checked["msg"].startswith("would rewrite 73 ")
    assert snapshot(root) == before
    real, rc = run_module(tmp_path, {"path": root, "moves": MOVES})
    assert rc == 0
    for key in ("changed", "files", "replaced", "review", "skipped"):
        assert real[key] == checked[key], key
    assert snapshot(root) != before


@pytest.mark.parametrize("check", [True, False])
def test_module_diff_mode(tmp_path, check):
    root = make_tree(tmp_path)
    before = snapshot(root)
    result, rc = run_module(tmp_path, {"path": root, "moves": MOVES}, check=check, diff=True)
    assert rc == 0, result
    assert [os.path.relpath(d["before_header"], root) for d in result["diff"]] == sorted(EXPECTED_FILES)
    assert (snapshot(root) == before) is check
    for entry in result["diff"]:
        name = entry["before_header"]
        assert entry["after_header"] == name
        prepared = entry["prepared"]
        assert prepared.startswith("--- before: %s\n+++ after: %s\n@@ " % (name, name))
        rel = os.path.relpath(name, root)
        old, new = MOVED[rel.split("/")[0]]
        minus = [line[1:] for line in prepared.splitlines() if line.startswith("-") and not line.startswith("---")]
        plus = [line[1:] for line in prepared.splitlines() if line.startswith("+") and not line.startswith("+++")]
        assert len(minus) == len(plus) >= 1
        assert [line.replace(str(old), str(new)) for line in minus] == plus
    piper_api = [d["prepared"] for d in result["diff"] if d["before_header"].endswith("hailo-piper/API_SPEC.md")][0]
    assert "\n-**Base URL:** http://localhost:5002\n+**Base URL:** http://localhost:5003\n" in piper_api
    env_diff = [d["prepared"] for d in result["diff"] if d["before_header"].endswith(".env.example")][0]
    assert env_diff.endswith("+HAILO_PIPER_URL=http://localhost:5003\n\\ No newline at end of file\n")


def test_module_hard_link_into_another_service_stays_untouched(tmp_path):
    root = make_tree(tmp_path, traps=False)
    shared = os.path.join(root, "hailo-face", "shared.md")
    with open(shared, "w") as handle:
        handle.write("curl http://localhost:5002/health\n")
    os.link(shared, os.path.join(root, "hailo-piper", "shared.md"))
    result, rc = run_module(tmp_path, {"path": root, "moves": MOVES})
    assert rc == 0, result
    with open(shared) as handle:
        assert handle.read() == "curl http://localhost:5002/health\n"
    with open(os.path.join(root, "hailo-piper", "shared.md")) as handle:
        assert handle.read() == "curl http://localhost:5003/health\n"


def test_module_max_size_option(tmp_path):
    root = make_tree(tmp_path, traps=False)
    result, rc = run_module(tmp_path, {"path": root, "moves": MOVES, "max_size": 600})
    assert rc == 0, result
    skipped = dict((os.path.relpath(s["file"], root), s["reason"]) for s in result["skipped"])
    large = sorted(rel for rel in EXPECTED_FILES if os.path.exists(os.path.join(FIXTURE, rel))
                   and os.path.getsize(os.path.join(FIXTURE, rel)) > 600)
    assert large and all(skipped[rel] == "too large" for rel in large)
    assert not set(large) & set(rel_files(result, root))
    small = [rel for rel in EXPECTED_FILES if rel not in large and rel != "hailo-piper/docs/windows.md"]
    assert sorted(rel_files(result, root)) == sorted(small)


def test_module_noop_moves(tmp_path):
    root = make_tree(tmp_path, traps=False)
    before = snapshot(root)
    for moves in ([], [{"service": "hailo-piper", "from": 5002, "to": 5002, "reason": "stays"}]):
        result, rc = run_module(tmp_path, {"path": root, "moves": moves})
        assert rc == 0, result
        assert (result["changed"], result["replaced"], result["files"], result["review"]) == (False, 0, {}, [])
    assert snapshot(root) == before


@pytest.mark.parametrize("args, culprit", [
    ({"path": "{root}/missing", "moves": MOVES}, "path {root}/missing does not exist"),
    ({"path": "{root}/README.md", "moves": MOVES}, "path {root}/README.md is not a directory"),
    ({"path": "{root}", "moves": MOVES + [{"service": "hailo-nope", "from": 5002, "to": 5004}]},
     "no directory under {root} for moved service hailo-nope"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": 0, "to": 5003}]},
     "moves[0] (hailo-piper): from must be an integer port in 1-65535, got 0"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": 5002, "to": 70000}]},
     "moves[0] (hailo-piper): to must be an integer port in 1-65535, got 70000"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": True, "to": 5003}]}, "True"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": "abc", "to": 5003}]}, "from"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": 5002}]}, "to"),
    ({"path": "{root}", "moves": [{"service": "../hailo-piper", "from": 5002, "to": 5003}]},
     "'../hailo-piper' is not a safe name"),
    ({"path": "{root}", "moves": [{"service": "hailo..piper", "from": 5002, "to": 5003}]}, "'hailo..piper'"),
    ({"path": "{root}", "moves": [{"service": "hailo-piper", "from": 5002, "to": 5003},
                                  {"service": "hailo-piper", "from": 5002, "to": 5004}]},
     "service hailo-piper is moved twice: 5002 -> 5003 and 5002 -> 5004"),
    ({"path": "{root}", "moves": MOVES, "max_size": 0}, "max_size must be a positive number"),
])
def test_module_errors_name_the_culprit_and_change_nothing(tmp_path, args, culprit):
    root = make_tree(tmp_path, traps=False)
    before = snapshot(root)
    args = dict((key, value.format(root=root) if isinstance(value, str) else value) for key, value in args.items())
    result, rc = run_module(tmp_path, args)
    assert rc != 0
    assert result.get("failed") is True
    assert culprit.format(root=root) in result["msg"]
    assert snapshot(root) == before


def test_module_refuses_a_symlinked_service_directory(tmp_path):
    root = make_tree(tmp_path, traps=False)
    real = str(tmp_path / "piper-real")
    os.rename(os.path.join(root, "hailo-piper"), real)
    os.symlink(real, os.path.join(root, "hailo-piper"))
    before = snapshot(real)
    result, rc = run_module(tmp_path, {"path": root, "moves": MOVES})
    assert rc != 0
    assert "hailo-piper is a symlink" in result["msg"]
    assert snapshot(real) == before


# ---------------------------------------------------------------------------------------------
# Safety: system roots, symlinks swapped in, unreadable entries, partial failures, names
# ---------------------------------------------------------------------------------------------

PIPER = [{"service": "hailo-piper", "from": 5002, "to": 5003}]


def run_module_patched(tmp_path, args, hook):
    """Run the real module in a subprocess after ``hook`` (Python source, with ``pr``, ``os``
    and ``errno`` in scope) has patched it, for failures that cannot be set up from outside."""
    driver = tmp_path / ("driver-%d.py" % next(_COUNTER))
    driver.write_text(
        "import errno, os, runpy, sys\n"
        "from ansible_collections.hailo.services.plugins.module_utils import port_references as pr\n"
        + hook + "\n"
        "sys.argv = [%r, sys.argv[1]]\n"
        "runpy.run_path(%r, run_name='__main__')\n" % (MODULE, MODULE)
    )
    args_file = tmp_path / ("args-%d.json" % next(_COUNTER))
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_DIR)
    proc = subprocess.run([sys.executable, str(driver), str(args_file)], env=env, cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    try:
        result = json.loads(proc.stdout.decode())
    except ValueError:
        pytest.fail("module printed no JSON: stdout=%r stderr=%r" % (proc.stdout, proc.stderr))
    return result, proc.returncode


def _leftover_temps(root):
    return [os.path.join(dirpath, name) for dirpath, _dirs, names in os.walk(root)
            for name in names if name.endswith(".tmp")]


@pytest.mark.parametrize("path, refused", [
    ("/", "/"), ("//", "/"), ("///", "/"), ("/.", "/"), ("/etc", "/etc"), ("/etc/", "/etc"),
    ("//usr//", "/usr"), ("/bin", "/bin"), ("/boot", "/boot"), ("/dev", "/dev"), ("/lib", "/lib"),
    ("/lib64", "/lib64"), ("/proc", "/proc"), ("/root", "/root"), ("/run", "/run"),
    ("/sbin", "/sbin"), ("/sys", "/sys"), ("/usr", "/usr"), ("/var", "/var"), ("/usr/lib", "/usr/lib"),
    ("/var/lib", "/var/lib"), ("/tmp", "/tmp"),
])
def test_system_root_refused(path, refused):
    assert pr.system_root(path) == refused


@pytest.mark.parametrize("path", [
    "/srv/hailo/system_services", "/var/lib/hailo/system_services", "/usr/local/src/hailo",
    "/root/system_services", "/etc/hailo", "/opt/hailo", "/home/pi/system_services",
    "relative/path", "", None,
])
def test_system_root_accepts_trees_below(path):
    assert pr.system_root(path) is None


def test_check_root_resolves_symlinks_and_dotdot(tmp_path):
    link = tmp_path / "looks-harmless"
    os.symlink("/etc", str(link))
    with pytest.raises(pr.PortReferenceError, match=r"resolves to /etc, which is the system directory /etc"):
        pr.check_root(str(link))
    with pytest.raises(pr.PortReferenceError, match=r"^path /srv/\.\./etc/ is the system directory /etc; refusing"):
        pr.check_root("/srv/../etc/")
    pr.check_root(str(tmp_path))


def test_scan_refuses_root_before_opening_anything(monkeypatch):
    opened = []
    monkeypatch.setattr(os, "open", lambda *args, **kwargs: opened.append(args) or pytest.fail("opened"))
    monkeypatch.setattr(os, "listdir", lambda *args, **kwargs: pytest.fail("listed"))
    with pytest.raises(pr.PortReferenceError, match="^path / is the system directory /; refusing"):
        pr.scan("/", PIPER)
    with pytest.raises(pr.PortReferenceError, match="system directory /"):
        pr.scan("/", [{"service": "bad\n", "from": 1, "to": 2}], max_size=0)
    assert opened == []


@pytest.mark.parametrize("path", ["/", "/usr/../", "/etc"])
def test_module_refuses_system_roots(tmp_path, path):
    result, rc = run_module(tmp_path, {"path": path, "moves": PIPER})
    assert rc != 0
    assert result.get("failed") is True
    assert "is the system directory" in result["msg"] and "refusing to rewrite files there" in result["msg"]
    assert "files" not in result and "written" not in result


def test_module_refuses_a_symlink_to_root(tmp_path):
    os.symlink("/", str(tmp_path / "tree"))
    result, rc = run_module(tmp_path, {"path": str(tmp_path / "tree"), "moves": PIPER})
    assert rc != 0
    assert "resolves to /, which is the system directory /" in result["msg"]


@pytest.mark.parametrize("name", ["hailo-ocr\n", "hailo-ocr\r\n", "\nhailo-ocr", "hailo-ocr\n\n", "hailo-ocr "])
def test_newline_suffixed_service_name_refused(name):
    assert pr.is_service_name("hailo-ocr")
    assert not pr.is_service_name(name)
    with pytest.raises(pr.PortReferenceError, match="is not a safe name"):
        pr.check_service_name(name)
    with pytest.raises(pr.PortReferenceError, match=r"moves\[0\]: service name .* is not a safe name"):
        pr.validate_moves([{"service": name, "from": 5002, "to": 5003}])


def test_validation_regexes_are_anchored_with_A_and_Z():
    source = open(pr.__file__).read() + open(MODULE).read()
    # No validation regex anchored with ^ or $ (which matches before a trailing newline).
    assert not re.findall(r"""re\.(?:compile|match|search|fullmatch)\(\s*r?["']\^""", source)
    assert not re.findall(r"""re\.(?:compile|match|search|fullmatch)\(\s*r?["'][^"']*\$["']""", source)
    assert pr.validate_moves([{"service": "hailo-x", "from": "5010\n", "to": " 5011 "}]) == [
        {"service": "hailo-x", "from": 5010, "to": 5011}]


def test_known_directory_with_a_newline_is_not_a_service_name(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/a.md": "hailo-face\n keeps 5002\n", "hailo-face\n/x.md": "x\n"})
    plan = pr.scan(root, PIPER)
    assert _rel_edits(plan, root) == {"hailo-piper/a.md": ("hailo-face\n keeps 5003\n", 1)}


def test_module_refuses_newline_suffixed_service_name(tmp_path):
    root = make_tree(tmp_path, traps=False)
    os.mkdir(os.path.join(root, "hailo-piper\n"))
    before = snapshot(root)
    result, rc = run_module(tmp_path, {"path": root, "moves": [
        {"service": "hailo-piper\n", "from": 5002, "to": 5003}]})
    assert rc != 0
    assert "moves[0]: service name 'hailo-piper\\n' is not a safe name" in result["msg"]
    assert snapshot(root) == before


# --- symlinks and changes between scan and write ---------------------------------------------

def _swap_tree(tmp_path):
    root = _tree(tmp_path, {
        "hailo-piper/config.yaml": "port: 5002\n",
        "hailo-piper/tests/conftest.py": 'URL = "http://localhost:5002"\n',
        "hailo-pose/config.yaml": "port: 11436\n",
    })
    moves = PIPER + [{"service": "hailo-pose", "from": 11436, "to": 11440}]
    # A directory the attacker would like root to write into, with the same files.
    victim = tmp_path / "victim"
    (victim / "tests").mkdir(parents=True)
    (victim / "config.yaml").write_text("port: 5002\n")
    (victim / "tests" / "conftest.py").write_text('URL = "http://localhost:5002"\n')
    return root, moves, str(victim)


def test_directory_swapped_for_symlink_between_scan_and_write_is_not_followed(tmp_path):
    root, moves, victim = _swap_tree(tmp_path)
    plan = pr.scan(root, moves)
    assert sorted(_rel_edits(plan, root)) == [
        "hailo-piper/config.yaml", "hailo-piper/tests/conftest.py", "hailo-pose/config.yaml"]
    victim_before = snapshot(victim)

    os.rename(os.path.join(root, "hailo-piper"), str(tmp_path / "piper-away"))
    os.symlink(victim, os.path.join(root, "hailo-piper"))
    outcome = pr.apply_edits(root, plan["edits"])

    piper = os.path.join(root, "hailo-piper")
    assert outcome["written"] == [{"file": os.path.join(root, "hailo-pose", "config.yaml"), "count": 1}]
    assert outcome["failed"] == [
        {"file": os.path.join(piper, "config.yaml"),
         "reason": "changed since scan: directory %s is now a symlink (not followed)" % piper},
        {"file": os.path.join(piper, "tests", "conftest.py"),
         "reason": "changed since scan: directory %s is now a symlink (not followed)" % piper},
    ]
    assert snapshot(victim) == victim_before
    assert _leftover_temps(str(tmp_path)) == []
    with open(os.path.join(root, "hailo-pose", "config.yaml")) as handle:
        assert handle.read() == "port: 11440\n"


def test_nested_directory_swapped_for_symlink_or_file(tmp_path):
    root, moves, victim = _swap_tree(tmp_path)
    plan = pr.scan(root, moves)
    tests_dir = os.path.join(root, "hailo-piper", "tests")
    shutil.rmtree(tests_dir)
    os.symlink(os.path.join(victim, "tests"), tests_dir)
    outcome = pr.apply_edits(root, plan["edits"])
    assert [item["file"] for item in outcome["written"]] == [
        os.path.join(root, "hailo-piper", "config.yaml"), os.path.join(root, "hailo-pose", "config.yaml")]
    assert outcome["failed"] == [{
        "file": os.path.join(tests_dir, "conftest.py"),
        "reason": "changed since scan: directory %s is now a symlink (not followed)" % tests_dir}]
    with open(os.path.join(victim, "tests", "conftest.py")) as handle:
        assert handle.read() == 'URL = "http://localhost:5002"\n'

    os.unlink(tests_dir)
    with open(tests_dir, "w") as handle:
        handle.write("now a file\n")
    outcome = pr.apply_edits(root, dict((k, v) for k, v in plan["edits"].items() if "tests" in k))
    assert outcome["failed"][0]["reason"] == "changed since scan: %s is no longer a directory" % tests_dir


def test_file_changed_since_scan_is_skipped_and_reported(tmp_path):
    root = _tree(tmp_path, {
        "hailo-piper/edited.md": "5002\n",
        "hailo-piper/linked.md": "5002\n",
        "hailo-piper/removed.md": "5002\n",
        "hailo-piper/replaced.md": "5002\n",
        "hailo-piper/same.md": "5002\n",
    })
    plan = pr.scan(root, PIPER)
    piper = os.path.join(root, "hailo-piper")
    with open(os.path.join(piper, "edited.md"), "a") as handle:
        handle.write("edited by hand meanwhile\n")
    os.unlink(os.path.join(piper, "linked.md"))
    os.symlink(str(tmp_path / "outside.md"), os.path.join(piper, "linked.md"))
    (tmp_path / "outside.md").write_text("5002\n")
    os.unlink(os.path.join(piper, "removed.md"))
    # Same bytes, but another file (for example a hard link to something else).
    (tmp_path / "other.md").write_text("5002\n")
    os.rename(str(tmp_path / "other.md"), os.path.join(piper, "replaced.md"))

    outcome = pr.apply_edits(root, plan["edits"])
    assert outcome["written"] == [{"file": os.path.join(piper, "same.md"), "count": 1}]
    assert [(os.path.basename(item["file"]), item["reason"]) for item in outcome["failed"]] == [
        ("edited.md", "changed since scan: its content is not what was scanned"),
        ("linked.md", "changed since scan: it is now a symlink (not followed)"),
        ("removed.md", "changed since scan: it was removed"),
        ("replaced.md", "changed since scan: it was replaced by another file"),
    ]
    with open(os.path.join(piper, "edited.md")) as handle:
        assert handle.read() == "5002\nedited by hand meanwhile\n"
    assert (tmp_path / "outside.md").read_text() == "5002\n"
    assert (tmp_path / "tree" / "hailo-piper" / "replaced.md").read_text() == "5002\n"
    assert _leftover_temps(str(tmp_path)) == []


def test_planted_temp_name_is_never_followed(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"hailo-piper/config.yaml": "port: 5002\n"})
    plan = pr.scan(root, PIPER)
    (tmp_path / "target").write_text("precious\n")
    monkeypatch.setattr(os, "urandom", lambda size: b"\x00" * size)
    planted = os.path.join(root, "hailo-piper", ".config.yaml.000000000000.tmp")
    os.symlink(str(tmp_path / "target"), planted)
    outcome = pr.apply_edits(root, plan["edits"])
    assert outcome["written"] == []
    assert outcome["failed"][0]["reason"] == "cannot write it: no free temporary file name"
    assert (tmp_path / "target").read_text() == "precious\n"
    assert os.readlink(planted) == str(tmp_path / "target")
    assert (tmp_path / "tree" / "hailo-piper" / "config.yaml").read_text() == "port: 5002\n"


def test_replace_at_keeps_mode_and_owner_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.md"
    path.write_bytes(b"5002\n")
    os.chmod(str(path), 0o751)
    if os.geteuid() == 0:
        os.chown(str(path), 1234, 5678)
    info = os.stat(str(path))
    dir_fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        pr.replace_at(dir_fd, "f.md", b"5002\n", b"5003\n", (info.st_dev, info.st_ino))
        with pytest.raises(pr.WriteRefused, match="changed since scan: its content"):
            pr.replace_at(dir_fd, "f.md", b"5002\n", b"x\n")
    finally:
        os.close(dir_fd)
    after = os.stat(str(path))
    assert path.read_bytes() == b"5003\n"
    assert after.st_ino != info.st_ino
    assert stat.S_IMODE(after.st_mode) == 0o751
    assert (after.st_uid, after.st_gid) == (info.st_uid, info.st_gid)
    assert sorted(os.listdir(str(tmp_path))) == ["f.md"]


def test_module_directory_swapped_between_scan_and_write(tmp_path):
    root, moves, victim = _swap_tree(tmp_path)
    victim_before = snapshot(victim)
    hook = (
        "_scan = pr.scan\n"
        "def scan(root, *args, **kwargs):\n"
        "    plan = _scan(root, *args, **kwargs)\n"
        "    os.rename(os.path.join(root, 'hailo-piper'), os.path.join(root, '..', 'piper-away'))\n"
        "    os.symlink(%r, os.path.join(root, 'hailo-piper'))\n"
        "    return plan\n"
        "pr.scan = scan\n" % victim
    )
    result, rc = run_module_patched(tmp_path, {"path": root, "moves": moves}, hook)
    assert rc != 0 and result["failed"] is True
    piper = os.path.join(root, "hailo-piper")
    assert result["written"] == [{"file": os.path.join(root, "hailo-pose", "config.yaml"), "count": 1}]
    assert [item["file"] for item in result["failed_files"]] == [
        os.path.join(piper, "config.yaml"), os.path.join(piper, "tests", "conftest.py")]
    assert all(item["reason"].startswith("changed since scan: directory %s is now a symlink" % piper)
               for item in result["failed_files"])
    assert result["changed"] is True
    assert snapshot(victim) == victim_before


# --- unreadable entries ----------------------------------------------------------------------

def _deny(monkeypatch, names, error=errno.EACCES):
    """Make os.open fail with ``error`` for the entries called ``names`` (as root, chmod 000
    does not stop anything)."""
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if os.path.basename(path) in names:
            raise OSError(error, os.strerror(error), path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", fake_open)


def test_unreadable_directory_and_file_are_skipped_not_fatal(tmp_path, monkeypatch):
    root = _tree(tmp_path, {
        "hailo-piper/a.md": "5002\n",
        "hailo-piper/secret/b.md": "5002\n",
        "hailo-piper/locked.md": "5002\n",
        "hailo-piper/z/c.md": "5002\n",
        "hailo-face/looped/d.md": "5002\n",
    })
    _deny(monkeypatch, ("secret", "locked.md"))
    real_open = os.open

    def loop_open(path, flags, *args, **kwargs):
        if path == "looped":
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", loop_open)
    plan = pr.scan(root, PIPER)
    assert [(os.path.relpath(s["file"], root), s["reason"]) for s in plan["skipped"]] == [
        ("hailo-face/looped", "symlink"),
        ("hailo-piper/locked.md", "unreadable: Permission denied"),
        ("hailo-piper/secret", "unreadable: Permission denied"),
    ]
    assert sorted(_rel_edits(plan, root)) == ["hailo-piper/a.md", "hailo-piper/z/c.md"]


def test_unlistable_directory_is_skipped(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002\n", "hailo-piper/secret/b.md": "5002\n"})
    real_listdir = os.listdir
    fds = {}
    real_open = os.open

    def spy_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        fds[fd] = path
        return fd

    def fake_listdir(path="."):
        if fds.get(path) == "secret":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real_listdir(path)
    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "listdir", fake_listdir)
    plan = pr.scan(root, PIPER)
    assert [(os.path.relpath(s["file"], root), s["reason"]) for s in plan["skipped"]] == [
        ("hailo-piper/secret", "unreadable: Permission denied")]
    assert sorted(_rel_edits(plan, root)) == ["hailo-piper/a.md"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode 000 directory anyway")
def test_mode_000_directory_is_skipped(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002\n", "hailo-piper/secret/b.md": "5002\n"})
    os.chmod(os.path.join(root, "hailo-piper", "secret"), 0)
    try:
        plan = pr.scan(root, PIPER)
    finally:
        os.chmod(os.path.join(root, "hailo-piper", "secret"), 0o755)
    assert [(os.path.relpath(s["file"], root), s["reason"]) for s in plan["skipped"]] == [
        ("hailo-piper/secret", "unreadable: Permission denied")]


def test_module_lists_unreadable_entries_in_skipped(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002\n", "hailo-piper/secret/b.md": "5002\n"})
    hook = (
        "_open = os.open\n"
        "def fake_open(path, flags, *args, **kwargs):\n"
        "    if path == 'secret':\n"
        "        raise PermissionError(errno.EACCES, 'Permission denied', path)\n"
        "    return _open(path, flags, *args, **kwargs)\n"
        "os.open = fake_open\n"
    )
    result, rc = run_module_patched(tmp_path, {"path": root, "moves": PIPER}, hook)
    assert rc == 0, result
    assert result["skipped"] == [
        {"file": os.path.join(root, "hailo-piper", "secret"), "reason": "unreadable: Permission denied"}]
    assert result["written"] == [{"file": os.path.join(root, "hailo-piper", "a.md"), "count": 1}]
    assert result["failed_files"] == []


def test_walk_closes_every_directory_it_opens(tmp_path):
    root = _tree(tmp_path, dict(("hailo-piper/%s/x.md" % "/".join("d%d" % i for i in range(depth)), "5002\n")
                                for depth in range(1, 30)))
    before = sorted(os.listdir("/proc/self/fd"))
    plan = pr.scan(root, PIPER)
    assert len(plan["edits"]) == 29
    walker = pr.walk(root)
    next(walker)
    walker.close()
    pr.apply_edits(root, plan["edits"])
    assert sorted(os.listdir("/proc/self/fd")) == before


# --- partial failure -------------------------------------------------------------------------

def test_apply_edits_reports_exactly_what_was_written(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002 5002\n", "hailo-piper/b.md": "5002\n",
                            "hailo-piper/c.md": "5002\n"})
    plan = pr.scan(root, PIPER)
    real_rename = os.rename

    def fake_rename(src, dst, *args, **kwargs):
        if dst == "b.md":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_rename(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "rename", fake_rename)
    outcome = pr.apply_edits(root, plan["edits"])
    piper = os.path.join(root, "hailo-piper")
    assert outcome == {
        "written": [{"file": os.path.join(piper, "a.md"), "count": 2},
                    {"file": os.path.join(piper, "c.md"), "count": 1}],
        "failed": [{"file": os.path.join(piper, "b.md"), "reason": "cannot write it: Input/output error"}],
    }
    assert sorted(os.listdir(piper)) == ["a.md", "b.md", "c.md"]
    assert [(tmp_path / "tree" / "hailo-piper" / name).read_text() for name in ("a.md", "b.md", "c.md")] == [
        "5003 5003\n", "5002\n", "5003\n"]


def test_failure_message_lists_written_and_failed():
    assert pr.failure_message(
        [{"file": "/t/a.md", "count": 2}, {"file": "/t/c.md", "count": 1}],
        [{"file": "/t/b.md", "reason": "cannot write it: Input/output error"}],
    ) == ("port_references: 1 of 3 file(s) could not be written; written (each completely, atomically): "
          "/t/a.md (2 replacements), /t/c.md (1 replacement); failed (not written): "
          "/t/b.md (cannot write it: Input/output error)")
    assert pr.failure_message([], [{"file": "/t/a.md", "reason": "x"}]).endswith(
        "atomically): none; failed (not written): /t/a.md (x)")


def test_module_partial_failure_fails_and_names_the_files(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002 5002\n", "hailo-piper/b.md": "5002\n",
                            "hailo-piper/c.md": "5002\n", "top.md": "5002\n"})
    hook = (
        "_rename = os.rename\n"
        "def fake_rename(src, dst, *args, **kwargs):\n"
        "    if dst == 'b.md':\n"
        "        raise OSError(errno.EROFS, os.strerror(errno.EROFS))\n"
        "    return _rename(src, dst, *args, **kwargs)\n"
        "os.rename = fake_rename\n"
    )
    result, rc = run_module_patched(tmp_path, {"path": root, "moves": PIPER}, hook)
    piper = os.path.join(root, "hailo-piper")
    assert rc != 0 and result["failed"] is True
    assert result["changed"] is True
    assert result["written"] == [{"file": os.path.join(piper, "a.md"), "count": 2},
                                 {"file": os.path.join(piper, "c.md"), "count": 1}]
    assert result["failed_files"] == [{"file": os.path.join(piper, "b.md"),
                                       "reason": "cannot write it: Read-only file system"}]
    assert result["msg"] == (
        "port_references: 1 of 3 file(s) could not be written; written (each completely, atomically): "
        "%s/a.md (2 replacements), %s/c.md (1 replacement); failed (not written): "
        "%s/b.md (cannot write it: Read-only file system)" % (piper, piper, piper))
    assert rel_files(result, root) == {"hailo-piper/a.md": 2, "hailo-piper/b.md": 1, "hailo-piper/c.md": 1}
    assert [os.path.relpath(item["file"], root) for item in result["review"]] == ["top.md"]
    assert [(tmp_path / "tree" / "hailo-piper" / name).read_text() for name in ("a.md", "b.md", "c.md")] == [
        "5003 5003\n", "5002\n", "5003\n"]
    assert _leftover_temps(root) == []


def test_module_success_reports_written_and_empty_failed(tmp_path):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002\n"})
    checked, rc = run_module(tmp_path, {"path": root, "moves": PIPER}, check=True)
    assert rc == 0 and (checked["written"], checked["failed_files"]) == ([], [])
    assert "failed" not in checked
    result, rc = run_module(tmp_path, {"path": root, "moves": PIPER})
    assert rc == 0
    assert result["written"] == [{"file": os.path.join(root, "hailo-piper", "a.md"), "count": 1}]
    assert result["failed_files"] == []


def test_root_swapped_to_a_system_directory_after_the_check_is_refused(tmp_path, monkeypatch):
    root = _tree(tmp_path, {"hailo-piper/a.md": "5002\n"})
    plan = pr.scan(root, PIPER)
    moved = str(tmp_path / "tree-away")
    os.rename(root, moved)
    os.symlink("/", root)
    # The realpath check would now refuse it; skip it to model the swap right after it.
    monkeypatch.setattr(pr, "check_root", lambda path: None)
    with pytest.raises(pr.PortReferenceError, match="path %s is now the system directory /;" % re.escape(root)):
        pr.scan(root, PIPER)
    outcome = pr.apply_edits(root, plan["edits"])
    assert outcome["written"] == []
    assert outcome["failed"] == [{"file": os.path.join(root, "hailo-piper", "a.md"), "reason": (
        "path %s is now the system directory /; refusing to rewrite files there" % root)}]
    fd = os.open(moved, os.O_RDONLY)
    try:
        assert pr.opened_system_root(fd) is None
    finally:
        os.close(fd)
