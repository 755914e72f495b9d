# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils/health.py against real HTTP servers on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.hailo.services.plugins.module_utils import health


# --------------------------------------------------------------------------- helpers

class StubService:
    """A real HTTP server on 127.0.0.1.

    ``responder(index, path)`` returns ``(status, body, delay)``: ``body`` is a dict
    (sent as JSON) or a str (sent as text), ``delay`` seconds are slept before answering.
    """

    def __init__(self, responder, port=0):
        self.responder = responder
        self.paths = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                with stub._lock:
                    index = len(stub.paths)
                    stub.paths.append(self.path)
                status, body, delay = stub.responder(index, self.path)
                if delay:
                    time.sleep(delay)
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                    ctype = "application/json"
                else:
                    data = str(body).encode()
                    ctype = "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    @property
    def count(self):
        with self._lock:
            return len(self.paths)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RawService:
    """A TCP listener that reads one request per connection, then either closes without
    answering (``behaviour(index) == "close"``) or answers a minimal HTTP 200."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.count = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn = self.sock.accept()[0]
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                index = self.count
                self.count += 1
                if self.behaviour(index) != "close":
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 16\r\n\r\n{\"status\": \"ok\"}")

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def always(status, body, delay=0.0):
    return lambda index, path: (status, body, delay)


@pytest.fixture
def stubs():
    made = []

    def make(responder, port=0):
        stub = StubService(responder, port=port)
        made.append(stub)
        return stub

    yield make
    for stub in made:
        stub.close()


def timed_check(services, **kwargs):
    start = time.monotonic()
    report = health.check_services(services, **kwargs)
    return report, time.monotonic() - start


# --------------------------------------------------------------------------- pure helpers

@pytest.mark.parametrize("name, expected", [
    ("hailo-ocr", "ocr"),
    ("Hailo_OCR", "ocr"),
    ("ocr", "ocr"),
    (" hailo-depth ", "depth"),
])
def test_canonical_service_name(name, expected):
    assert health.canonical_service_name(name) == expected


def test_default_paths():
    assert health.default_path("hailo-ollama") == "/api/version"
    assert health.default_path("hailo-piper") == "/health"
    items = health.normalize_services([
        {"name": "hailo-ollama", "port": 11434},
        {"name": "hailo-depth", "port": 11439, "path": "/health/ready"},
        {"name": "hailo-ocr", "port": 11436, "path": None},
    ])
    assert [i["path"] for i in items] == ["/api/version", "/health/ready", "/health"]


def test_validate_accepts_good_list():
    assert health.validate_services([]) == []
    assert health.validate_services([
        {"name": "hailo-ocr", "port": 11436, "path": None},
        {"name": "hailo-depth", "port": 1, "path": "/health/ready"},
        {"name": "hailo-pose", "port": 65535},
    ]) == []


@pytest.mark.parametrize("services, culprit", [
    ([{"name": "hailo-ocr", "port": 1}, {"name": "hailo-ocr", "port": 2}], "hailo-ocr is listed twice"),
    ([{"name": "hailo-pose", "port": 70000}], "hailo-pose: port 70000 is out of range"),
    ([{"name": "hailo-pose", "port": 0}], "hailo-pose: port 0 is out of range"),
    ([{"name": "hailo-pose", "port": True}], "hailo-pose: port True is not an integer"),
    ([{"name": "hailo-clip", "port": 5000, "path": "health"}], "hailo-clip: path 'health' must start with '/'"),
    ([{"name": "", "port": 5000}], "services[0] has no name"),
])
def test_validate_names_the_culprit(services, culprit):
    errors = health.validate_services(services)
    assert len(errors) == 1
    assert culprit in errors[0]


def test_failure_message_names_every_unhealthy_service():
    report = {
        "services": {
            "a": {"ok": True, "detail": "answered 200 in 1.0 ms"},
            "b": {"ok": False, "detail": "port 2 answers as c, not b"},
            "d": {"ok": False, "detail": "connection refused on 127.0.0.1:4 until the 1 s deadline"},
        },
        "healthy": ["a"],
        "unhealthy": ["b", "d"],
    }
    assert health.failure_message(report) == (
        "2 of 3 services unhealthy: b: port 2 answers as c, not b; "
        "d: connection refused on 127.0.0.1:4 until the 1 s deadline")
    report["unhealthy"] = []
    assert health.failure_message(report) is None


def test_empty_list_is_ok():
    report, elapsed = timed_check([], timeout=5)
    assert report == {"services": {}, "healthy": [], "unhealthy": []}
    assert elapsed < 0.5


# --------------------------------------------------------------------------- single services

def test_healthy_service(stubs):
    stub = stubs(always(200, {"status": "healthy", "service": "hailo-piper", "model_loaded": True}, 0.05))
    report, elapsed = timed_check([{"name": "hailo-piper", "port": stub.port}], timeout=5)
    entry = report["services"]["hailo-piper"]
    assert entry["ok"] is True
    assert entry["status"] == 200
    assert entry["attempts"] == 1
    assert entry["latency_ms"] >= 50.0
    assert entry["detail"] == "answered 200 in %.1f ms" % entry["latency_ms"]
    assert (entry["port"], entry["path"]) == (stub.port, "/health")
    assert report["healthy"] == ["hailo-piper"] and report["unhealthy"] == []
    assert stub.paths == ["/health"]
    assert elapsed < 1


def test_body_without_service_name_and_non_json_body_are_healthy(stubs):
    quiet = stubs(always(200, {"status": "ok", "model": "m", "model_loaded": True}))
    text = stubs(always(204, ""))
    same = stubs(always(200, {"service": "OCR"}))
    report = health.check_services([
        {"name": "hailo-clip", "port": quiet.port},
        {"name": "hailo-vision", "port": text.port},
        {"name": "hailo-ocr", "port": same.port},
    ], timeout=5)
    assert report["healthy"] == ["hailo-clip", "hailo-vision", "hailo-ocr"]
    assert report["services"]["hailo-vision"]["status"] == 204


def test_model_loading_503_is_retried_until_ready(stubs):
    def responder(index, path):
        if index < 3:
            return 503, {"ready": False, "reason": "model_loading"}, 0
        return 200, {"ready": True}, 0

    stub = stubs(responder)
    report, elapsed = timed_check(
        [{"name": "hailo-depth", "port": stub.port, "path": "/health/ready"}],
        timeout=5, interval=0.05)
    entry = report["services"]["hailo-depth"]
    assert entry["ok"] is True
    assert entry["status"] == 200
    assert entry["attempts"] == 4
    assert entry["detail"].endswith("after 4 attempts")
    assert stub.paths == ["/health/ready"] * 4
    assert elapsed < 2


def test_other_service_keeps_trying_until_the_deadline(stubs):
    # Another service on the port may be about to give it up: wait, then name it.
    stub = stubs(always(200, {"status": "healthy", "service": "hailo-ocr"}))
    report, elapsed = timed_check([{"name": "hailo-depth", "port": stub.port}], timeout=1, interval=0.1)
    entry = report["services"]["hailo-depth"]
    assert 0.9 <= elapsed < 1.8
    assert entry["ok"] is False
    assert entry["attempts"] > 3
    assert entry["status"] == 200
    assert entry["detail"] == "port %d answers as hailo-ocr, not hailo-depth, until the 1 s deadline" % stub.port
    assert report["unhealthy"] == ["hailo-depth"]


def test_other_service_while_loading_is_not_healthy(stubs):
    stub = stubs(always(503, {"ready": False, "reason": "model_loading", "service": "hailo-pose"}))
    report, elapsed = timed_check([{"name": "hailo-depth", "port": stub.port}], timeout=0.5, interval=0.1)
    assert report["services"]["hailo-depth"]["detail"].startswith("port %d answers as hailo-pose" % stub.port)


# --------------------------------------------------------------------------- ownership

def listener(port, unit=None, program="python3", pid=4242):
    """One entry as listeners.read_listeners returns it."""
    return {"port": port, "address": "0.0.0.0", "family": "tcp", "pid": pid, "pids": [pid] if pid else [],
            "program": program, "unit": unit}


class FakeListeners:
    """A listener source whose answer the test changes while a check runs."""

    def __init__(self, *items):
        self.items = list(items)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return list(self.items)


def test_an_answer_counts_when_the_services_own_unit_holds_the_port(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, "hailo-depth.service"), listener(1, "other.service"))
    report = health.check_services([{"name": "hailo-depth", "port": stub.port}], timeout=2, listeners=source)
    entry = report["services"]["hailo-depth"]
    assert entry["ok"] is True, entry
    assert entry["unit"] == "hailo-depth.service"
    assert entry["holder"] is None


def test_a_listener_of_another_cgroup_fails_naming_it(stubs):
    # The old check passed this: a 2xx from a program that took the port first.
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, None, "python3", 812))
    report, elapsed = timed_check([{"name": "hailo-depth", "port": stub.port}], timeout=1, interval=0.1,
                                  listeners=source)
    entry = report["services"]["hailo-depth"]
    assert entry["ok"] is False
    assert elapsed >= 0.9, "a squatter may still exit: keep probing until the deadline"
    assert entry["holder"] == "python3 (pid 812)"
    assert entry["detail"] == ("port %d is held by python3 (pid 812), not hailo-depth.service, "
                               "until the 1 s deadline" % stub.port)
    assert source.calls > 3


def test_a_listener_of_another_unit_is_named_by_its_unit(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, "hailo-depth.service", pid=5),
                           listener(stub.port, "hailo-pose.service", "python", 6))
    report = health.check_services([{"name": "hailo-depth", "port": stub.port}], timeout=0.5, interval=0.1,
                                   listeners=source)
    assert report["services"]["hailo-depth"]["holder"] == "hailo-pose.service (pid 6)"
    assert "not hailo-depth.service" in health.failure_message(report)


def test_the_service_counts_once_the_squatter_gives_the_port_up(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, None, "python3", 812))
    threading.Timer(0.4, lambda: setattr(source, "items", [listener(stub.port, "hailo-clip.service")])).start()
    report, elapsed = timed_check([{"name": "hailo-clip", "port": stub.port}], timeout=5, interval=0.1,
                                  listeners=source)
    assert report["services"]["hailo-clip"]["ok"] is True
    assert elapsed < 2


def test_a_unit_given_by_the_caller_is_the_one_that_must_hold_the_port(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, "ollama.service"))
    ok = health.check_services([{"name": "hailo-ollama", "port": stub.port, "unit": "ollama.service"}],
                               timeout=1, listeners=source)
    assert ok["healthy"] == ["hailo-ollama"]
    assert health.validate_services([{"name": "a", "port": 1, "unit": "x/y"}]) == [
        "service a: unit 'x/y' is not a unit name"]


def test_an_owner_that_cannot_be_read_does_not_count(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    source = FakeListeners(listener(stub.port, None, None, None))
    report = health.check_services([{"name": "hailo-clip", "port": stub.port}], timeout=0.3, interval=0.1,
                                   listeners=source)
    assert "cannot be identified" in report["services"]["hailo-clip"]["detail"]


def test_an_answer_without_a_visible_listener_does_not_count(stubs):
    stub = stubs(always(200, {"status": "ok"}))
    report = health.check_services([{"name": "hailo-clip", "port": stub.port}], timeout=0.3, interval=0.1,
                                   listeners=FakeListeners())
    assert "no listener on it shows in /proc" in report["services"]["hailo-clip"]["detail"]


def test_refused_until_deadline():
    port = free_port()
    report, elapsed = timed_check([{"name": "hailo-piper", "port": port}], timeout=1.5, interval=0.2)
    entry = report["services"]["hailo-piper"]
    assert 1.4 <= elapsed < 2.2
    assert entry["ok"] is False
    assert entry["status"] is None
    assert entry["attempts"] >= 5
    assert entry["detail"] == "connection refused on 127.0.0.1:%d until the 1.5 s deadline" % port


def test_service_that_starts_late_becomes_healthy(stubs):
    port = free_port()
    timer = threading.Timer(0.5, lambda: stubs(always(200, {"status": "healthy"}), port=port))
    timer.start()
    try:
        report, elapsed = timed_check([{"name": "hailo-clip", "port": port}], timeout=5, interval=0.1)
    finally:
        timer.join()
    entry = report["services"]["hailo-clip"]
    assert entry["ok"] is True, entry
    assert entry["attempts"] > 1
    assert 0.4 <= elapsed < 2


def test_ollama_defaults_to_api_version(stubs):
    def responder(index, path):
        if path == "/api/version":
            return 200, {"version": "0.5.1"}, 0
        return 404, "not found", 0

    stub = stubs(responder)
    report, elapsed = timed_check([{"name": "hailo-ollama", "port": stub.port}], timeout=3)
    entry = report["services"]["hailo-ollama"]
    assert entry["ok"] is True
    assert entry["path"] == "/api/version"
    assert "(version 0.5.1)" in entry["detail"]
    assert stub.paths == ["/api/version"]
    assert elapsed < 1


def test_connection_closed_without_answer_is_retried():
    raw = RawService(lambda index: "close" if index < 2 else "http")
    try:
        report = health.check_services([{"name": "hailo-face", "port": raw.port}], timeout=5, interval=0.05)
    finally:
        raw.close()
    entry = report["services"]["hailo-face"]
    assert entry["ok"] is True, entry
    assert entry["attempts"] == 3


def test_probe_once_kinds():
    raw = RawService(lambda index: "close")
    try:
        probe = health.probe_once("127.0.0.1", raw.port, "/health", 2)
    finally:
        raw.close()
    assert probe["kind"] == health.KIND_EMPTY
    assert probe["status"] is None
    probe = health.probe_once("127.0.0.1", free_port(), "/health", 2)
    assert probe["kind"] == health.KIND_REFUSED


# --------------------------------------------------------------------------- fleets

def test_concurrent_probes(stubs):
    servers = [stubs(always(200, {"status": "ok"}, 0.3)) for dummy in range(10)]
    services = [{"name": "svc-%d" % i, "port": s.port} for i, s in enumerate(servers)]
    report, elapsed = timed_check(services, timeout=10)
    assert report["healthy"] == [s["name"] for s in services]
    assert elapsed < 1.5, "10 x 0.3 s probes took %.2f s: not concurrent" % elapsed
    assert all(s.count == 1 for s in servers)


@pytest.fixture(scope="module")
def fleet_at_deadline():
    """One call, timeout 1 s, where nothing becomes healthy in time."""
    loading = StubService(always(503, {"ready": False, "reason": "model_loading"}))
    status_loading = StubService(always(503, {"status": "loading"}))
    broken = StubService(always(500, {"error": "boom"}))
    closing = RawService(lambda index: "close")
    hung = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # listens, never answers
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    dead = [free_port() for dummy in range(4)]
    ports = {
        "hailo-depth": loading.port,
        "hailo-whisper": status_loading.port,
        "hailo-vision": broken.port,
        "hailo-face": closing.port,
        "hailo-florence": hung.getsockname()[1],
    }
    for i, port in enumerate(dead):
        ports["dead-%d" % i] = port
    services = [{"name": n, "port": p} for n, p in ports.items()]
    try:
        report, elapsed = timed_check(services, timeout=1, interval=0.1)
    finally:
        for server in (loading, status_loading, broken, closing):
            server.close()
        hung.close()
    return {"report": report, "elapsed": elapsed, "ports": ports, "counts": {
        "hailo-depth": loading.count, "hailo-vision": broken.count}}


def test_deadline_is_global(fleet_at_deadline):
    assert 0.9 <= fleet_at_deadline["elapsed"] < 1.8
    report = fleet_at_deadline["report"]
    assert report["healthy"] == []
    assert report["unhealthy"] == list(fleet_at_deadline["ports"])


@pytest.mark.parametrize("name, status, detail", [
    ("hailo-depth", 503, "still loading (503 model_loading) on 127.0.0.1:{port} at the 1 s deadline"),
    ("hailo-whisper", 503, "still loading (503 loading) on 127.0.0.1:{port} at the 1 s deadline"),
    ("hailo-vision", 500, "answered 500 to GET /health on 127.0.0.1:{port} until the 1 s deadline"),
    ("hailo-face", None, "127.0.0.1:{port} closed the connection without answering until the 1 s deadline"),
    ("hailo-florence", None, "no answer from 127.0.0.1:{port} within the 1 s deadline"),
    ("dead-0", None, "connection refused on 127.0.0.1:{port} until the 1 s deadline"),
])
def test_detail_at_deadline(fleet_at_deadline, name, status, detail):
    entry = fleet_at_deadline["report"]["services"][name]
    port = fleet_at_deadline["ports"][name]
    assert entry["ok"] is False
    assert entry["status"] == status
    assert entry["detail"] == detail.format(port=port)
    if name != "hailo-florence":
        assert entry["attempts"] > 1, "must retry until the deadline"


def test_non_2xx_is_retried(fleet_at_deadline):
    assert fleet_at_deadline["counts"]["hailo-depth"] > 1
    assert fleet_at_deadline["counts"]["hailo-vision"] > 1


# --------------------------------------------------------------------------- hostile peers

class HostilePeer:
    """A TCP listener on 127.0.0.1 that serves every connection with ``script(conn, stop)``
    in its own thread.  ``stop`` is set on close; scripts must give up soon after."""

    def __init__(self, script):
        self.script = script
        self.count = 0
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept)
        self.thread.daemon = True
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn = self.sock.accept()[0]
            except (socket.timeout, OSError):
                continue
            self.count += 1
            thread = threading.Thread(target=self._serve, args=(conn,))
            thread.daemon = True
            thread.start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                self.script(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def trickle_headers(conn, stop):
    """One byte of a never-ending header block every 0.2 s."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    index = 0
    while not stop.is_set():
        conn.sendall(head[index % len(head):index % len(head) + 1] if index < len(head) else b"x")
        index += 1
        stop.wait(0.2)


def trickle_body(conn, stop):
    """Complete headers, then one byte of a 1000-byte body every 0.2 s."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    while not stop.is_set():
        conn.sendall(b" ")
        stop.wait(0.2)


def never_answer(conn, stop):
    stop.wait(30)


def endless_body(conn, stop):
    """Complete headers without Content-Length, then body bytes as fast as possible."""
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
    block = b"{" * 8192
    while not stop.is_set():
        conn.sendall(block)


@pytest.fixture
def hostile():
    made = []

    def make(script):
        peer = HostilePeer(script)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


@pytest.mark.parametrize("script, detail", [
    (trickle_headers, "no complete answer from 127.0.0.1:{port} within the 2 s deadline "
                      "({received} bytes received, headers unfinished)"),
    (trickle_body, "no complete answer from 127.0.0.1:{port} within the 2 s deadline "
                   "(status 200 and headers received, body unfinished)"),
    (never_answer, "no answer from 127.0.0.1:{port} within the 2 s deadline"),
    (endless_body, "answered 200 to GET /health on 127.0.0.1:{port} but the body exceeds 64 KiB, "
                   "until the 2 s deadline"),
], ids=["trickled headers", "trickled body", "never answers", "endless body"])
def test_hostile_peer_cannot_stretch_the_deadline(hostile, script, detail):
    peer = hostile(script)
    report, elapsed = timed_check([{"name": "hailo-face", "port": peer.port}], timeout=2, interval=0.1)
    entry = report["services"]["hailo-face"]
    assert elapsed < 3.5, "the 2 s deadline took %.2f s" % elapsed
    assert elapsed >= 1.9
    assert report["unhealthy"] == ["hailo-face"] and report["healthy"] == []
    assert entry["ok"] is False
    if script is trickle_headers:
        received = int(entry["detail"].rsplit("(", 1)[1].split()[0])
        assert 5 <= received <= 15
    else:
        received = None
    assert entry["detail"] == detail.format(port=peer.port, received=received)
    if script is endless_body:
        assert entry["status"] == 200
        assert entry["attempts"] > 1, "an oversized answer is retried until the deadline"
    else:
        assert entry["status"] is None
        assert entry["attempts"] == 1


def test_hostile_peers_together_with_healthy_ones(hostile, stubs):
    peers = [hostile(script) for script in (trickle_headers, trickle_body, never_answer, endless_body)]
    good = stubs(always(200, {"status": "ok"}))
    services = [{"name": "bad-%d" % i, "port": p.port} for i, p in enumerate(peers)]
    services.append({"name": "hailo-ocr", "port": good.port})
    report, elapsed = timed_check(services, timeout=2, interval=0.1)
    assert elapsed < 3.5
    assert report["healthy"] == ["hailo-ocr"]
    assert report["unhealthy"] == ["bad-0", "bad-1", "bad-2", "bad-3"]
    message = health.failure_message(report)
    assert message.startswith("4 of 5 services unhealthy: bad-0: no complete answer from ")


def test_declared_oversized_body_is_refused_without_reading_it(hostile):
    def big(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n")
        stop.wait(30)

    peer = hostile(big)
    probe = health.probe_once("127.0.0.1", peer.port, "/health", 2)
    assert probe["kind"] == health.KIND_TOO_LARGE
    assert probe["status"] == 200
    assert probe["error"] == "the body (Content-Length 70000) exceeds 64 KiB"
    assert probe["latency_ms"] < 1000


def test_oversized_headers_are_refused(hostile):
    def fat(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 40000 + b"\r\n\r\n")

    peer = hostile(fat)
    probe = health.probe_once("127.0.0.1", peer.port, "/health", 2)
    assert probe["kind"] == health.KIND_TOO_LARGE
    assert probe["error"] == "the status line and headers exceed 32 KiB"


def test_not_http_peer(hostile):
    def ssh(conn, stop):
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        stop.wait(30)

    peer = hostile(ssh)
    report, elapsed = timed_check([{"name": "hailo-clip", "port": peer.port}], timeout=1, interval=0.1)
    entry = report["services"]["hailo-clip"]
    assert elapsed < 2
    assert entry["detail"].startswith("127.0.0.1:%d does not answer HTTP (the answer does not start "
                                      "with HTTP/" % peer.port)
    assert entry["attempts"] > 1


@pytest.mark.parametrize("answer, body", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"7\r\n{\"statu\r\n9;ext=1\r\ns\": \"ok\"}\r\n0\r\nX-Trailer: 1\r\n\r\n", {"status": "ok"}),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", {}),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"status\": \"ok\"}",
     {"status": "ok"}),
    (b"HTTP/1.0 200 OK\r\n\r\n{\"version\": \"1\"}", {"version": "1"}),
    (b"HTTP/1.1 204 No Content\r\n\r\n", None),
], ids=["chunked", "bare newlines", "interim 100", "read to close", "no content"])
def test_answer_framings(hostile, answer, body):
    def script(conn, stop):
        conn.sendall(answer)
        if b"Content-Length" in answer or b"chunked" in answer or b" 204 " in answer:
            stop.wait(30)  # keep the connection open: the framing must end the read

    peer = hostile(script)
    probe = health.probe_once("127.0.0.1", peer.port, "/health", 2)
    assert probe["kind"] == health.KIND_HTTP, probe
    assert probe["body"] == body
    assert probe["latency_ms"] < 1000


def test_request_is_a_plain_get(hostile):
    seen = []

    def record(conn, stop):
        pass

    class Recorder(HostilePeer):
        def _serve(self, conn):
            with conn:
                conn.settimeout(1)
                seen.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    peer = Recorder(record)
    try:
        report = health.check_services([{"name": "hailo-pose", "port": peer.port, "path": "/health/ready"}],
                                       timeout=2)
    finally:
        peer.close()
    assert report["healthy"] == ["hailo-pose"]
    head = seen[0].decode()
    assert head.startswith("GET /health/ready HTTP/1.1\r\n")
    assert "\r\nHost: 127.0.0.1:%d\r\n" % peer.port in head
    assert "\r\nConnection: close\r\n" in head
    assert head.endswith("\r\n\r\n")


def test_stuck_probe_is_abandoned(monkeypatch):
    """A probe stuck where no socket timeout reaches (name resolution) is abandoned."""
    release = threading.Event()

    def stuck_getaddrinfo(*args, **kwargs):
        release.wait(10)
        raise OSError("resolver gave up")

    monkeypatch.setattr(health.socket, "getaddrinfo", stuck_getaddrinfo)
    try:
        report, elapsed = timed_check([{"name": "hailo-piper", "port": 5002}], host="piper.invalid",
                                      timeout=1)
    finally:
        release.set()
    entry = report["services"]["hailo-piper"]
    assert elapsed < 2
    assert entry["ok"] is False
    assert entry["attempts"] == 1
    assert entry["detail"] == ("no complete answer from piper.invalid:5002 within the 1 s deadline "
                               "(the probe was abandoned)")
