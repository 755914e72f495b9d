#!/usr/bin/env python3
"""Stand-in for one Hailo AI service: a TEST FIXTURE, not part of the collection.

It behaves like the deployed service it replaces, as far as port reconciliation can see:

* It finds out which service it is from ``--service NAME``, the environment variable
  ``HAILO_STANDIN_SERVICE``, or its install path, the way each installer lays it out
  (nothing in the unit tells it): the directory under ``/opt`` of its script
  (``/opt/<service>/hailo_<x>_service.py``, ``/opt/<service>/hailo_<x>_server.py``, any
  script name), else the script's own name (``hailo-ollama`` as ``/usr/local/bin/hailo-ollama``
  run by ``/usr/bin/env hailo-ollama``; ``hailo_clip_service.py`` -> ``hailo-clip``).
* It reads the file its real counterpart reads: hailo-piper, -clip, -face, -scrfd (and the
  test-only hailo-standby-test) read ``$HAILO_CONFIG_DIR/<service>.yaml`` (default
  ``/etc/hailo``); hailo-depth, -pose, -whisper, -vision, -florence, -ocr and -ollama read the
  JSON copy ``$XDG_CONFIG_HOME/<service>/<service>.json`` (default ``/etc/xdg``).
  ``--config PATH`` overrides both. It takes ``server.host`` (default ``0.0.0.0``) and
  ``server.port`` (default: the service's built-in port, see ``SERVICES``). A missing file
  means built-in defaults, like the real services; an unreadable one is fatal.
* It binds that address. When the port is taken it prints uvicorn's message
  (``... address already in use``) and exits 1, so systemd's ``Restart=`` retries it.
* Fault injection: when ``$HAILO_STANDIN_FAULTS_DIR/<service>`` (default
  ``/etc/hailo/standin-faults/<service>``) exists and lists the port it is about to bind
  (numbers separated by blanks or commas, ``#`` comments allowed) or ``*``, it refuses to
  serve and exits 1: "a service that cannot bind its new port". A token ``bind-delay=N`` in
  that file makes it sleep N seconds before it binds, as a real service does that loads its
  model before uvicorn binds: "a slow start" (read at start, like everything else).
* HTTP: ``GET /health`` answers 200 JSON in the shape its real counterpart uses (some name
  the service, some do not). hailo-depth, -pose, -ocr and -whisper load a model first:
  for ``HAILO_STANDIN_LOAD_SECONDS`` (default 2) after start, ``GET /health/ready`` answers
  503 ``{"ready": false, "reason": "model_loading"}`` and ``GET /health`` answers 503 with
  ``"model_loaded": false``; afterwards 200 ``{"ready": true}`` and the normal body.
  hailo-ollama has no ``/health`` (404, Go style); it answers ``GET /api/version``,
  ``GET /api/tags`` and ``GET /`` ("Ollama is running") instead.
* It logs to stderr (the journal) and stops cleanly on SIGTERM/SIGINT (exit 0).

Standard library only; PyYAML is used when importable (as the real services do), with a
small fallback reader for the ``server:`` section otherwise.
"""

import argparse
import errno
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # The real services parse their YAML with PyYAML; prefer it when present.
    import yaml  # type: ignore
except ImportError:  # pragma: no cover - depends on the interpreter
    yaml = None

DEFAULT_HOST = "0.0.0.0"
DEFAULT_LOAD_SECONDS = 2.0
OLLAMA_VERSION = "0.5.7"

# Built-in defaults of each service (the ports before reconciliation; piper's upstream
# HTTP server defaults to 5000). "reads": which file the real service reads at run time.
# "style": the shape of its /health body. "loads": has /health/ready and a model load phase.
SERVICES = {
    "hailo-ollama": {"port": 11434, "reads": "json", "style": "ollama"},
    "hailo-vision": {"port": 11435, "reads": "json", "style": "ok",
                     "model": "qwen2-vl-2b-instruct"},
    "hailo-ocr": {"port": 11436, "reads": "json", "style": "healthy", "loads": True,
                  "model": "paddleocr-v3", "name": "hailo-ocr"},
    "hailo-whisper": {"port": 11437, "reads": "json", "style": "ok", "loads": True,
                      "model": "whisper-base"},
    "hailo-florence": {"port": 11438, "reads": "json", "style": "bare",
                       "model": "florence-2-base"},
    "hailo-depth": {"port": 11436, "reads": "json", "style": "ok", "loads": True,
                    "model": "scdepthv3"},
    "hailo-pose": {"port": 11436, "reads": "json", "style": "ok", "loads": True,
                   "model": "yolov8s_pose"},
    "hailo-clip": {"port": 5000, "reads": "yaml", "style": "healthy",
                   "model": "clip_vit_b_32", "name": "hailo-clip"},
    "hailo-scrfd": {"port": 5001, "reads": "yaml", "style": "healthy",
                    "model": "scrfd_2.5g", "name": "scrfd"},
    "hailo-face": {"port": 5002, "reads": "yaml", "style": "healthy",
                   "model": "arcface_mobilefacenet", "name": "hailo-face"},
    "hailo-piper": {"port": 5000, "reads": "yaml", "style": "healthy",
                    "model": "en_US-lessac-medium", "name": "hailo-piper"},
    "hailo-standby-test": {"port": 5010, "reads": "yaml", "style": "healthy",
                           "model": "none", "name": "hailo-standby-test"},
}

_SERVICE_RE = re.compile(r"^hailo-[a-z0-9][a-z0-9-]*$")


class StandinError(Exception):
    """A fatal start-up problem: printed on stderr, exit status 1."""


def log(service, message):
    sys.stderr.write("%s: %s\n" % (service or "hailo-standin", message))
    sys.stderr.flush()


# --------------------------------------------------------------------------- identity
def service_from_path(path):
    """The service a script path belongs to, ``None`` when the path names none.

    ``/opt/hailo-ocr/hailo_ocr_server.py`` -> ``hailo-ocr`` (the install directory wins);
    ``/usr/local/bin/hailo-ollama`` -> ``hailo-ollama``; ``/x/hailo_clip_service.py`` ->
    ``hailo-clip`` (``hailo_<x>_service.py`` / ``hailo_<x>_server.py``, ``_`` -> ``-``).
    """
    parts = os.path.abspath(path).split(os.sep)
    if "opt" in parts:
        idx = parts.index("opt")
        if idx + 1 < len(parts) - 1 and _SERVICE_RE.match(parts[idx + 1]):
            return parts[idx + 1]
    base = os.path.basename(path)
    if base.endswith(".py"):
        base = base[:-3]
    if _SERVICE_RE.match(base):
        return base
    # Only the installers' naming rule, so hailo_standin.py itself names no service.
    match = re.match(r"^(hailo_[a-z0-9_]+)_(?:service|server)$", base)
    if match:
        name = match.group(1).replace("_", "-")
        if _SERVICE_RE.match(name):
            return name
    return None


def service_info(service):
    fallback = {"port": None, "reads": "yaml", "style": "healthy", "model": "unknown", "name": service}
    info = dict(SERVICES.get(service) or fallback)
    info.setdefault("model", "unknown")
    info.setdefault("name", service)
    info.setdefault("loads", False)
    return info


def config_path(service, info, environ):
    if info["reads"] == "json":
        base = environ.get("XDG_CONFIG_HOME") or "/etc/xdg"
        return os.path.join(base, service, service + ".json")
    base = environ.get("HAILO_CONFIG_DIR") or "/etc/hailo"
    return os.path.join(base, service + ".yaml")


def faults_path(service, environ):
    base = environ.get("HAILO_STANDIN_FAULTS_DIR")
    if not base:
        base = os.path.join(environ.get("HAILO_CONFIG_DIR") or "/etc/hailo", "standin-faults")
    return os.path.join(base, service)


# --------------------------------------------------------------------------- config
def _strip_comment(text):
    """Drop a YAML comment (`` #`` outside quotes) from one line."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if re.match(r"^[+-]?[0-9]+$", text):
        return int(text)
    if text in ("", "~", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _split_flow(body):
    items, depth, quote, cur = [], 0, None, ""
    for ch in body:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        items.append(cur)
    return items


def _value(text):
    """A scalar, flow mapping or flow sequence."""
    text = text.strip()
    if text.startswith("{"):
        return _flow_mapping(text)
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError("bad flow sequence %r" % text)
        return [_value(item) for item in _split_flow(text[1:-1])]
    return _scalar(text)


def _flow_mapping(text):
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError("expected a flow mapping, got %r" % text)
    out = {}
    for item in _split_flow(text[1:-1]):
        key, sep, value = item.partition(":")
        if not sep:
            raise ValueError("bad flow mapping entry %r" % item)
        out[_scalar(key)] = _value(value)
    return out


def read_server_section_fallback(text):
    """Read the top-level ``server`` mapping of a YAML text without PyYAML.

    Enough for the hand-written service configs: block or flow style, comments, quoted
    scalars and sequences. Returns ``{}`` when there is no ``server`` key.
    """
    lines = text.splitlines()
    for idx, raw in enumerate(lines):
        match = re.match(r"^server\s*:(.*)$", raw)
        if not match:
            continue
        rest = _strip_comment(match.group(1)).strip()
        if rest.startswith("{"):
            # A flow mapping may continue on the next lines until the braces balance.
            buf, j = rest, idx
            while buf.count("{") > buf.count("}") and j + 1 < len(lines):
                j += 1
                buf += " " + _strip_comment(lines[j]).strip()
            return _flow_mapping(buf)
        if rest:
            raise ValueError("server is not a mapping: %r" % rest)
        out, child_indent = {}, None
        for line in lines[idx + 1:]:
            content = _strip_comment(line)
            if not content.strip():
                continue
            indent = len(content) - len(content.lstrip(" "))
            if indent == 0:
                break
            if child_indent is None:
                child_indent = indent
            if indent != child_indent:
                continue
            key, sep, value = content.strip().partition(":")
            if sep:
                out[_scalar(key)] = _value(value)
        return out
    return {}


def load_config(path, reads):
    """Return the ``server`` mapping of the config file, ``None`` when it does not exist."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StandinError("cannot read %s: %s" % (path, exc))
    try:
        if reads == "json":
            data = json.loads(text)
        elif yaml is not None:
            data = yaml.safe_load(text)
        else:
            return read_server_section_fallback(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise StandinError("cannot parse %s: %s" % (path, exc))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StandinError("%s: top level is not a mapping" % path)
    server = data.get("server") or {}
    if not isinstance(server, dict):
        raise StandinError("%s: server is not a mapping" % path)
    return server


def resolve_address(server, info, path):
    host = server.get("host", DEFAULT_HOST) if server else DEFAULT_HOST
    port = server.get("port", info["port"]) if server else info["port"]
    if port is None:
        raise StandinError("%s sets no server.port and this service has no built-in default" % path)
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise StandinError("%s: server.port %r is not a port number" % (path, port))
    return str(host or DEFAULT_HOST), port


def check_fault(path, port):
    """Raise when the fault file forbids ``port``; else return its bind delay in seconds (0)."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return 0.0
    except OSError as exc:
        raise StandinError("cannot read fault file %s: %s" % (path, exc))
    tokens = set()
    for line in text.splitlines():
        tokens.update(t for t in re.split(r"[\s,]+", line.split("#", 1)[0]) if t)
    if "*" in tokens or str(port) in tokens:
        raise StandinError("fault injected by %s: refusing to serve on port %d" % (path, port))
    delay = 0.0
    for token in tokens:
        if token.startswith("bind-delay="):
            try:
                delay = float(token[len("bind-delay="):])
            except ValueError:
                raise StandinError("%s: %r is not a number of seconds" % (path, token))
    return delay


# --------------------------------------------------------------------------- HTTP
class StandinState(object):
    def __init__(self, service, info, load_seconds):
        self.service = service
        self.info = info
        self.load_seconds = load_seconds if info["loads"] else 0.0
        self.started = time.monotonic()

    def uptime(self):
        return round(time.monotonic() - self.started, 1)

    def loading(self):
        return self.uptime() < self.load_seconds

    def health(self):
        """(status code, body) of GET /health."""
        info, loaded = self.info, not self.loading()
        style = info["style"]
        if style == "healthy":
            body = {"status": "healthy" if loaded else "loading", "service": info["name"],
                    "model_loaded": loaded, "model": info["model"], "device": "/dev/hailo0",
                    "version": "1.2.0"}
        elif style == "ok":
            body = {"status": "ok" if loaded else "loading", "model": info["model"],
                    "model_loaded": loaded, "uptime_seconds": self.uptime()}
        else:  # "bare": no service, no uptime
            body = {"status": "healthy" if loaded else "loading", "model_loaded": loaded,
                    "hailo_device": "/dev/hailo0"}
        return (200 if loaded else 503), body

    def ready(self):
        if self.loading():
            return 503, {"ready": False, "reason": "model_loading"}
        return 200, {"ready": True}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        def version_string(self):
            return "uvicorn" if state.info["style"] != "ollama" else "hailo-ollama"
        protocol_version = "HTTP/1.1"

        def _send(self, code, body, content_type="application/json"):
            if isinstance(body, (dict, list)):
                payload = json.dumps(body).encode("utf-8")
            else:
                payload = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def do_GET(self):  # noqa: N802 - http.server naming
            path = self.path.split("?", 1)[0]
            if state.info["style"] == "ollama":
                if path == "/api/version":
                    return self._send(200, {"version": OLLAMA_VERSION})
                if path == "/api/tags":
                    return self._send(200, {"models": []})
                if path == "/":
                    return self._send(200, "Ollama is running", "text/plain; charset=utf-8")
                return self._send(404, "404 page not found", "text/plain; charset=utf-8")
            if path == "/health":
                return self._send(*state.health())
            if path == "/health/ready" and state.info["loads"]:
                return self._send(*state.ready())
            return self._send(404, {"detail": "Not Found"})

        do_HEAD = do_GET

        def log_message(self, fmt, *args):
            log(state.service, "%s - %s" % (self.address_string(), fmt % args))

    return Handler


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # like uvicorn: SO_REUSEADDR, still exclusive for listeners


def make_server(host, port, handler):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("StandinServer", (StandinServer,), {"address_family": family})
    try:
        return server_class((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StandinError("[Errno %d] error while attempting to bind on address (%r, %d): "
                               "address already in use" % (exc.errno, host, port))
        raise StandinError("cannot bind %s:%d: %s" % (host, port, exc))


# --------------------------------------------------------------------------- main
def parse_args(argv):
    parser = argparse.ArgumentParser(description="Stand-in for a Hailo AI service (test fixture).")
    parser.add_argument("--service", help="service name, e.g. hailo-ocr (default: from the install path)")
    parser.add_argument("--config", help="config file to read instead of the service's usual one")
    return parser.parse_args(argv)


def main(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    args = parse_args(sys.argv[1:] if argv is None else argv)
    service = args.service or environ.get("HAILO_STANDIN_SERVICE") or service_from_path(sys.argv[0])
    if not service:
        log(None, "cannot tell which service to be: pass --service NAME or install as "
                  "/opt/<service>/<script>.py")
        return 2
    info = service_info(service)
    load_var = "HAILO_STANDIN_LOAD_SECONDS_" + re.sub(r"[^A-Z0-9]", "_", service.upper())
    if load_var not in environ:
        load_var = "HAILO_STANDIN_LOAD_SECONDS"
    try:
        load_seconds = float(environ.get(load_var, DEFAULT_LOAD_SECONDS))
    except ValueError:
        log(service, "%s is not a number" % load_var)
        return 2
    path = args.config or config_path(service, info, environ)
    try:
        server_cfg = load_config(path, "json" if path.endswith(".json") else "yaml")
        if server_cfg is None:
            log(service, "%s not found; using built-in defaults" % path)
        host, port = resolve_address(server_cfg, info, path)
        delay = check_fault(faults_path(service, environ), port)
        if delay:
            log(service, "fault injected: binding %s:%d in %g s" % (host, port, delay))
            time.sleep(delay)
        state = StandinState(service, info, load_seconds)
        httpd = make_server(host, port, make_handler(state))
    except StandinError as exc:
        log(service, str(exc))
        return 1

    stop = threading.Event()

    def on_signal(signum, _frame):
        log(service, "received %s, shutting down" % signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bound_port = httpd.server_address[1]
    log(service, "listening on %s:%d (config %s, %s)" % (
        host, bound_port, path,
        "model loads for %gs" % state.load_seconds if state.load_seconds else "ready"))
    worker = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2})
    worker.daemon = True
    worker.start()
    while not stop.wait(1.0):
        if not worker.is_alive():
            log(service, "server thread died")
            return 1
    httpd.shutdown()
    httpd.server_close()
    log(service, "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
