"""Tests of the service stand-in used by the molecule scenarios.

molecule/resources/standin/hailo_standin.py is a test fixture, not product code: these
tests make sure it behaves like the real services where port reconciliation can see it
(config file it reads, port it binds, health bodies, model-load phase, fault injection).
Every server here listens on 127.0.0.1 and an ephemeral port.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESOURCES = os.path.join(REPO_ROOT, "molecule", "resources")
STANDIN = os.path.join(RESOURCES, "standin", "hailo_standin.py")
ETC_HAILO_TEMPLATES = os.path.join(RESOURCES, "files", "etc-hailo")

_spec = importlib.util.spec_from_file_location("hailo_standin", STANDIN)
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)

YAML_READERS = ["hailo-piper", "hailo-clip", "hailo-face", "hailo-scrfd", "hailo-standby-test"]
JSON_READERS = ["hailo-depth", "hailo-pose", "hailo-whisper", "hailo-vision", "hailo-florence",
                "hailo-ocr", "hailo-ollama"]


# --------------------------------------------------------------------------- helpers
class Standin(object):
    """One stand-in process; ``port`` is known once it logged "listening on"."""

    def __init__(self, args, env, cwd=None, executable=None):
        cmd = [sys.executable] + ([executable] if executable else [STANDIN]) + list(args)
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, universal_newlines=True)
        self.lines = []
        self._listening = threading.Event()
        self.port = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            match = re.search(r"listening on \S+:(\d+) ", line)
            if match:
                self.port = int(match.group(1))
                self._listening.set()

    @property
    def stderr(self):
        return "\n".join(self.lines)

    def wait_listening(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._listening.wait(0.05):
                return self.port
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise AssertionError("stand-in exited %s: %s" % (self.proc.returncode, self.stderr))
        raise AssertionError("stand-in did not start listening: %s" % self.stderr)

    def wait_exit(self, timeout=10):
        code = self.proc.wait(timeout)
        self._reader.join(2)
        return code

    def get(self, path):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, resp.read().decode("utf-8"), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8"), exc.headers.get("Content-Type")

    def get_json(self, path):
        status, body, _content_type = self.get(path)
        return status, json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(2)


@pytest.fixture
def env(tmp_path):
    """Environment pointing every config location into tmp_path."""
    values = dict(os.environ)
    for key in list(values):
        if key.startswith("HAILO_STANDIN_") or key in ("XDG_CONFIG_HOME", "HAILO_CONFIG_DIR"):
            del values[key]
    values["HAILO_CONFIG_DIR"] = str(tmp_path / "etc-hailo")
    values["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    values["HAILO_STANDIN_LOAD_SECONDS"] = "0"
    os.makedirs(values["HAILO_CONFIG_DIR"])
    os.makedirs(values["XDG_CONFIG_HOME"])
    return values


@pytest.fixture
def run_standin():
    started = []

    def start(args, env, **kwargs):
        proc = Standin(args, env, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def write_yaml(env, service, text):
    path = os.path.join(env["HAILO_CONFIG_DIR"], service + ".yaml")
    with open(path, "w") as handle:
        handle.write(text)
    return path


def write_json(env, service, data):
    directory = os.path.join(env["XDG_CONFIG_HOME"], service)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, service + ".json")
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
    return path


def loopback_config(port=0):
    return {"server": {"host": "127.0.0.1", "port": port}}


def busy_port():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def render_template(service, port):
    with open(os.path.join(ETC_HAILO_TEMPLATES, service + ".yaml.j2")) as handle:
        return handle.read().replace("{{ port }}", str(port))


# --------------------------------------------------------------------------- pure logic
def test_every_service_has_a_default_port_and_reader():
    assert sorted(YAML_READERS + JSON_READERS) == sorted(standin.SERVICES)
    for name in YAML_READERS:
        assert standin.SERVICES[name]["reads"] == "yaml"
    for name in JSON_READERS:
        assert standin.SERVICES[name]["reads"] == "json"
    ports = {name: info["port"] for name, info in standin.SERVICES.items()}
    assert ports["hailo-piper"] == 5000  # piper's upstream default, not its seeded 5002
    assert ports["hailo-ocr"] == ports["hailo-depth"] == ports["hailo-pose"] == 11436
    assert ports["hailo-ollama"] == 11434


@pytest.mark.parametrize("path, expected", [
    # The script paths of the seeded units (molecule/resources/files/units/).
    ("/opt/hailo-ocr/hailo_ocr_server.py", "hailo-ocr"),
    ("/opt/hailo-clip/hailo_clip_service.py", "hailo-clip"),
    ("/opt/hailo-face/hailo_face_service.py", "hailo-face"),
    ("/opt/hailo-standby-test/hailo_standby_test_service.py", "hailo-standby-test"),
    ("/usr/local/bin/hailo-ollama", "hailo-ollama"),
    # The install directory wins over the script name; any script name works there.
    ("/opt/hailo-ocr/server.py", "hailo-ocr"),
    ("/opt/hailo-depth/hailo_pose_server.py", "hailo-depth"),
    # Outside /opt the script's own name tells.
    ("/tmp/x/hailo_clip_service.py", "hailo-clip"),
    ("/tmp/x/hailo_depth_server.py", "hailo-depth"),
    ("/tmp/x/hailo_standby_test_service.py", "hailo-standby-test"),
    ("/tmp/x/hailo-clip.py", "hailo-clip"),
    ("/usr/local/bin/server.py", None),
    ("/usr/local/bin/main.py", None),
    ("/work/standin/hailo_standin.py", None),  # itself: no naming-rule suffix
])
def test_service_from_path(path, expected):
    assert standin.service_from_path(path) == expected


def test_config_paths_follow_the_real_services():
    environ = {}
    assert standin.config_path("hailo-piper", standin.service_info("hailo-piper"), environ) \
        == "/etc/hailo/hailo-piper.yaml"
    assert standin.config_path("hailo-depth", standin.service_info("hailo-depth"), environ) \
        == "/etc/xdg/hailo-depth/hailo-depth.json"
    environ = {"XDG_CONFIG_HOME": "/x", "HAILO_CONFIG_DIR": "/h"}
    assert standin.config_path("hailo-ollama", standin.service_info("hailo-ollama"), environ) \
        == "/x/hailo-ollama/hailo-ollama.json"
    assert standin.config_path("hailo-face", standin.service_info("hailo-face"), environ) \
        == "/h/hailo-face.yaml"
    assert standin.faults_path("hailo-face", environ) == "/h/standin-faults/hailo-face"
    assert standin.faults_path("hailo-face", {}) == "/etc/hailo/standin-faults/hailo-face"


def test_missing_port_uses_the_built_in_default():
    info = standin.service_info("hailo-piper")
    assert standin.resolve_address({}, info, "x") == ("0.0.0.0", 5000)
    assert standin.resolve_address(None, info, "x") == ("0.0.0.0", 5000)
    assert standin.resolve_address({"host": "127.0.0.1"}, info, "x") == ("127.0.0.1", 5000)
    assert standin.resolve_address({"port": "5003"}, info, "x") == ("0.0.0.0", 5003)
    with pytest.raises(standin.StandinError):
        standin.resolve_address({"port": "fifty"}, info, "x")


@pytest.mark.parametrize("service", sorted(standin.SERVICES))
def test_seeded_yaml_files_parse_the_same_with_and_without_pyyaml(service):
    yaml = pytest.importorskip("yaml")
    text = render_template(service, 12345)
    expected = yaml.safe_load(text)["server"]
    assert expected["port"] == 12345
    assert standin.read_server_section_fallback(text) == expected


def test_fallback_reader_ignores_other_port_keys():
    text = ("# c\nlibrary: {host: r.example, port: 443}\n"
            "server:   # the API\n  # port: 1\n  host: \"0.0.0.0\"  # all\n"
            "  port: 5003 # moved\n  extra: {port: 9}\nother:\n  port: 7\n")
    assert standin.read_server_section_fallback(text) == {
        "host": "0.0.0.0", "port": 5003, "extra": {"port": 9}}


def test_fault_file_formats(tmp_path):
    path = str(tmp_path / "fault")
    standin.check_fault(path, 5003)  # no file: no fault
    with open(path, "w") as handle:
        handle.write("# cannot bind the new port\n11439, 11440\n")
    standin.check_fault(path, 11436)
    with pytest.raises(standin.StandinError, match="refusing to serve on port 11440"):
        standin.check_fault(path, 11440)
    with open(path, "w") as handle:
        handle.write("*\n")
    with pytest.raises(standin.StandinError):
        standin.check_fault(path, 1)
    with open(path, "w") as handle:
        handle.write("# a keeper that loads slowly\nbind-delay=2.5\n")
    assert standin.check_fault(path, 11436) == 2.5
    assert standin.check_fault(str(tmp_path / "none"), 11436) == 0.0


# --------------------------------------------------------------------------- processes
def test_yaml_reader_health_names_the_service(env, run_standin):
    write_yaml(env, "hailo-piper", "# piper\nserver:\n  host: \"127.0.0.1\"\n"
                                   "  port: 0   # ephemeral\n  log_level: info\n")
    proc = run_standin(["--service", "hailo-piper"], env)
    proc.wait_listening()
    status, body = proc.get_json("/health")
    assert status == 200
    assert body["status"] == "healthy"
    assert body["service"] == "hailo-piper"
    assert body["model_loaded"] is True
    assert proc.get("/health/ready")[0] == 404  # piper has no readiness endpoint
    assert proc.get("/nope")[0] == 404


def test_json_reader_reads_the_json_copy_not_the_yaml(env, run_standin):
    # A stale JSON copy wins over the YAML: the service stays where the JSON says.
    write_yaml(env, "hailo-vision", "server:\n  host: 127.0.0.1\n  port: 1\n")
    write_json(env, "hailo-vision", loopback_config())
    proc = run_standin(["--service", "hailo-vision"], env)
    proc.wait_listening()
    assert env["XDG_CONFIG_HOME"] in proc.stderr
    status, body = proc.get_json("/health")
    assert status == 200
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert "service" not in body
    assert isinstance(body["uptime_seconds"], (int, float))


def test_florence_body_names_no_service(env, run_standin):
    write_json(env, "hailo-florence", loopback_config())
    proc = run_standin(["--service", "hailo-florence"], env)
    proc.wait_listening()
    status, body = proc.get_json("/health")
    assert status == 200 and body["status"] == "healthy" and "service" not in body


@pytest.mark.parametrize("service", ["hailo-depth", "hailo-pose", "hailo-ocr", "hailo-whisper"])
def test_model_loading_phase(env, run_standin, service):
    env["HAILO_STANDIN_LOAD_SECONDS"] = "0.8"
    write_json(env, service, loopback_config())
    proc = run_standin(["--service", service], env)
    proc.wait_listening()
    assert proc.get_json("/health/ready") == (503, {"ready": False, "reason": "model_loading"})
    status, body = proc.get_json("/health")
    assert status == 503 and body["model_loaded"] is False
    time.sleep(0.9)
    assert proc.get_json("/health/ready") == (200, {"ready": True})
    status, body = proc.get_json("/health")
    assert status == 200 and body["model_loaded"] is True


def test_per_service_load_time_overrides_the_global_one(env, run_standin):
    env["HAILO_STANDIN_LOAD_SECONDS"] = "0"
    env["HAILO_STANDIN_LOAD_SECONDS_HAILO_WHISPER"] = "30"
    write_json(env, "hailo-whisper", loopback_config())
    proc = run_standin(["--service", "hailo-whisper"], env)
    proc.wait_listening()
    assert proc.get("/health/ready")[0] == 503


def test_ollama_has_no_health_but_a_version(env, run_standin, tmp_path):
    # Installed as /usr/local/bin/hailo-ollama: the name comes from the file name.
    binary = tmp_path / "bin" / "hailo-ollama"
    binary.parent.mkdir()
    shutil.copy(STANDIN, str(binary))
    write_json(env, "hailo-ollama", loopback_config())
    proc = run_standin([], env, executable=str(binary))
    proc.wait_listening()
    status, body = proc.get_json("/api/version")
    assert status == 200 and re.match(r"^\d+\.\d+\.\d+$", body["version"])
    assert proc.get("/health")[0] == 404
    assert proc.get("/")[1] == "Ollama is running"


def test_name_from_opt_install_path(env, run_standin, tmp_path):
    server = tmp_path / "opt" / "hailo-scrfd" / "hailo_scrfd_service.py"
    server.parent.mkdir(parents=True)
    shutil.copy(STANDIN, str(server))
    write_yaml(env, "hailo-scrfd", "server: {host: 127.0.0.1, port: 0}\n")
    proc = run_standin([], env, executable=str(server))
    proc.wait_listening()
    status, body = proc.get_json("/health")
    assert status == 200 and body["service"] == "scrfd"


def test_port_in_use_exits_non_zero(env, run_standin):
    sock = busy_port()
    try:
        write_json(env, "hailo-depth", loopback_config(sock.getsockname()[1]))
        proc = run_standin(["--service", "hailo-depth"], env)
        assert proc.wait_exit() == 1
        assert "address already in use" in proc.stderr
    finally:
        sock.close()


def test_fault_file_refuses_the_port(env, run_standin):
    probe = busy_port()
    port = probe.getsockname()[1]
    probe.close()
    write_json(env, "hailo-depth", loopback_config(port))
    faults = os.path.join(env["HAILO_CONFIG_DIR"], "standin-faults")
    os.makedirs(faults)
    with open(os.path.join(faults, "hailo-depth"), "w") as handle:
        handle.write("%d\n" % port)
    proc = run_standin(["--service", "hailo-depth"], env)
    assert proc.wait_exit() == 1
    assert "refusing to serve on port %d" % port in proc.stderr


def test_fault_for_another_port_is_ignored(env, run_standin):
    write_json(env, "hailo-depth", loopback_config())
    faults = os.path.join(env["HAILO_CONFIG_DIR"], "standin-faults")
    os.makedirs(faults)
    with open(os.path.join(faults, "hailo-depth"), "w") as handle:
        handle.write("1\n")
    proc = run_standin(["--service", "hailo-depth"], env)
    proc.wait_listening()


def test_bind_delay_binds_late(env, run_standin):
    # A keeper that loads slowly: the port stays free for the delay, then it serves as usual.
    probe = busy_port()
    port = probe.getsockname()[1]
    probe.close()
    write_json(env, "hailo-ocr", loopback_config(port))
    faults = os.path.join(env["HAILO_CONFIG_DIR"], "standin-faults")
    os.makedirs(faults)
    with open(os.path.join(faults, "hailo-ocr"), "w") as handle:
        handle.write("bind-delay=1.5\n")
    started = time.monotonic()
    proc = run_standin(["--service", "hailo-ocr"], env)
    time.sleep(0.8)
    with socket.socket() as sock:  # still free: another program could take it now
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    proc.wait_listening()
    assert time.monotonic() - started >= 1.5
    assert proc.get_json("/health")[0] == 200


def test_bad_config_exits_non_zero(env, run_standin):
    write_json(env, "hailo-ocr", loopback_config())
    with open(os.path.join(env["XDG_CONFIG_HOME"], "hailo-ocr", "hailo-ocr.json"), "a") as handle:
        handle.write("{")
    proc = run_standin(["--service", "hailo-ocr"], env)
    assert proc.wait_exit() == 1
    assert "cannot parse" in proc.stderr


def test_sigterm_stops_cleanly(env, run_standin):
    write_yaml(env, "hailo-clip", "server:\n  host: 127.0.0.1\n  port: 0\n")
    proc = run_standin(["--service", "hailo-clip"], env)
    proc.wait_listening()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait_exit() == 0
    assert "stopped" in proc.stderr


def test_unknown_name_exits_with_usage_error(env, run_standin):
    proc = run_standin([], env)  # run as .../standin/hailo_standin.py: no service in the path
    assert proc.wait_exit() == 2
    assert "--service" in proc.stderr
