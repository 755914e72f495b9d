# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end tests: run plugins/modules/health_check.py as a subprocess, the way
Ansible's module debugging entry point does, against real servers on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".collections")
MODULE = os.path.join(REPO_ROOT, "plugins", "modules", "health_check.py")
# Reports each stub's listener as its service's unit (the test process runs in none).
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_with_units.py")


class Stub:
    """HTTP server on 127.0.0.1 answering every GET with ``status`` and JSON ``body``."""

    def __init__(self, status, body):
        self.paths = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                stub.paths.append(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    made = []

    def make(status, body):
        server = Stub(status, body)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_module(tmp_path, args, squatted=()):
    """Run the module in a subprocess; return (parsed stdout JSON, returncode, seconds).

    The listener of each service's port counts as its unit's, except on the ``squatted`` ports:
    there the test process itself is the holder.
    """
    assert os.path.isdir(os.path.join(COLLECTIONS_DIR, "ansible_collections", "hailo", "services"))
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ)
    env["PYTHONPATH"] = COLLECTIONS_DIR
    env["HAILO_TEST_PORT_UNITS"] = json.dumps(dict(
        ("%d" % svc["port"], svc.get("unit") or svc["name"] + ".service")
        for svc in args.get("services") or () if isinstance(svc, dict) and isinstance(svc.get("port"), int)
        and svc["port"] not in squatted))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, RUNNER, MODULE, str(args_file)], env=env, cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=False)
    elapsed = time.monotonic() - start
    assert proc.stdout, "no output; stderr: %s" % proc.stderr.decode()
    return json.loads(proc.stdout.decode()), proc.returncode, elapsed


def test_all_healthy(tmp_path, stub):
    piper = stub(200, {"status": "healthy", "service": "hailo-piper", "model_loaded": True})
    ollama = stub(200, {"version": "0.5.1"})
    result, rc, elapsed = run_module(tmp_path, {
        "services": [
            {"name": "hailo-piper", "port": piper.port},
            {"name": "hailo-ollama", "port": ollama.port},
        ],
        "timeout": 5,
    })
    assert rc == 0, result
    assert elapsed < 5
    assert not result.get("failed")
    assert result["changed"] is False
    assert "results" not in result
    assert result["healthy"] == ["hailo-piper", "hailo-ollama"]
    assert result["unhealthy"] == []
    assert set(result["services"]) == {"hailo-piper", "hailo-ollama"}
    for entry in result["services"].values():
        assert entry["ok"] is True
        assert entry["status"] == 200
        assert entry["attempts"] == 1
        assert isinstance(entry["latency_ms"], float)
        assert entry["detail"].startswith("answered 200 in ")
    assert piper.paths == ["/health"]
    assert ollama.paths == ["/api/version"]


def test_unhealthy_services_fail_with_every_name(tmp_path, stub):
    clip = stub(200, {"status": "ok"})
    squatter = stub(200, {"status": "healthy", "service": "hailo-pose"})
    dead = free_port()
    result, rc, elapsed = run_module(tmp_path, {
        "services": [
            {"name": "hailo-clip", "port": clip.port},
            {"name": "hailo-depth", "port": squatter.port},
            {"name": "hailo-piper", "port": dead},
        ],
        "timeout": 1.5,
        "interval": 0.2,
    })
    assert rc != 0
    assert result["failed"] is True
    assert result["changed"] is False
    msg = result["msg"]
    assert msg == (
        "2 of 3 services unhealthy: "
        "hailo-depth: port %d answers as hailo-pose, not hailo-depth, until the 1.5 s deadline; "
        "hailo-piper: connection refused on 127.0.0.1:%d until the 1.5 s deadline"
        % (squatter.port, dead))
    assert "hailo-clip" not in msg
    # a rescue block can read the details
    assert result["healthy"] == ["hailo-clip"]
    assert result["unhealthy"] == ["hailo-depth", "hailo-piper"]
    assert result["services"]["hailo-depth"]["attempts"] > 1  # it may be about to give the port up
    assert result["services"]["hailo-piper"]["status"] is None
    assert result["services"]["hailo-clip"]["ok"] is True
    assert elapsed < 5


def test_empty_services_list_is_ok(tmp_path):
    result, rc, elapsed = run_module(tmp_path, {"services": []})
    assert rc == 0, result
    assert not result.get("failed")
    assert (result["services"], result["healthy"], result["unhealthy"]) == ({}, [], [])
    assert elapsed < 5


def test_check_mode_still_probes(tmp_path, stub):
    server = stub(200, {"status": "ok"})
    result, rc, elapsed = run_module(tmp_path, {
        "services": [{"name": "hailo-vision", "port": server.port}],
        "_ansible_check_mode": True,
    })
    assert rc == 0, result
    assert not result.get("skipped")
    assert result["changed"] is False
    assert result["healthy"] == ["hailo-vision"]
    assert server.paths == ["/health"]
    assert elapsed < 5


@pytest.mark.parametrize("args, culprit", [
    ({"services": [{"name": "hailo-ocr", "port": 11436}, {"name": "hailo-ocr", "port": 11437}]},
     "service hailo-ocr is listed twice"),
    ({"services": [{"name": "hailo-pose", "port": 70000}]},
     "service hailo-pose: port 70000 is out of range 1-65535"),
    ({"services": [{"name": "hailo-clip", "port": 5000, "path": "health"}]},
     "service hailo-clip: path 'health' must start with '/'"),
    ({"services": [], "timeout": 0}, "timeout must be greater than 0"),
    ({"services": [], "interval": -1}, "interval must not be negative"),
    ({"services": [{"name": "hailo-clip"}]}, "port"),
])
def test_invalid_arguments_name_the_culprit(tmp_path, args, culprit):
    result, rc, elapsed = run_module(tmp_path, args)
    assert rc != 0
    assert result["failed"] is True
    assert culprit in result["msg"]
    assert elapsed < 5


class Trickler:
    """TCP listener on 127.0.0.1 that answers every request with a header block that never
    ends, one byte every ``pace`` seconds."""

    def __init__(self, pace):
        self.pace = pace
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        thread = threading.Thread(target=self._accept)
        thread.daemon = True
        thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn = self.sock.accept()[0]
            except (socket.timeout, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,))
            thread.daemon = True
            thread.start()

    def _serve(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stop.is_set():
                    conn.sendall(b"X")
                    self.stop.wait(self.pace)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()


def test_trickling_peer_cannot_stretch_the_deadline(tmp_path):
    peer = Trickler(1.0)
    try:
        result, rc, elapsed = run_module(tmp_path, {
            "services": [{"name": "hailo-face", "port": peer.port}],
            "timeout": 3,
        })
    finally:
        peer.close()
    assert rc != 0
    assert result["unhealthy"] == ["hailo-face"]
    assert result["msg"].startswith(
        "1 of 1 service unhealthy: hailo-face: no complete answer from 127.0.0.1:%d within the 3 s "
        "deadline (" % peer.port)
    assert elapsed < 5, "a 3 s deadline took %.1f s" % elapsed


def test_a_program_that_took_the_port_first_fails_naming_it(tmp_path, stub):
    # A healthy answer from the test process itself, in no unit: read from the real /proc.
    squatter = stub(200, {"status": "ok"})
    result, rc, elapsed = run_module(tmp_path, {
        "services": [{"name": "hailo-clip", "port": squatter.port}],
        "timeout": 1,
        "interval": 0.2,
    }, squatted=[squatter.port])
    assert rc != 0
    entry = result["services"]["hailo-clip"]
    assert entry["status"] == 200
    assert entry["unit"] == "hailo-clip.service"
    assert entry["holder"].endswith("(pid %d)" % os.getpid()), entry
    assert result["msg"] == ("1 of 1 service unhealthy: hailo-clip: port %d is held by %s, not hailo-clip.service, "
                             "until the 1 s deadline" % (squatter.port, entry["holder"]))
    assert elapsed >= 1
