# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Probe the HTTP health endpoints of the Hailo AI services.

Pure standard library so it can travel to the managed host with the module.

Every service is probed in its own thread against ONE shared deadline.  A probe
retries while the service is still starting (connection refused, reset, timed out,
closed without an answer), while it answers 503 (model loading) and while it
answers any other non-2xx status.  It gives up at once when the answer names a
different service in its JSON ``service`` field: the port belongs to someone else
and waiting will not change that.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import json
import socket
import threading
import time

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PATH = "/health"
DEFAULT_TIMEOUT = 60.0
DEFAULT_INTERVAL = 0.5

# Services whose health endpoint is not /health, keyed by canonical name.
SERVICE_DEFAULT_PATHS = {
    "ollama": "/api/version",
}

# Longest body read from a health endpoint; health answers are tiny.
MAX_BODY_BYTES = 65536

# Never wait less than this on a socket, even right at the deadline.
_MIN_SOCKET_TIMEOUT = 0.001
# Skip a final attempt when less than this is left before the deadline.
_MIN_ATTEMPT_WINDOW = 0.01

USER_AGENT = "hailo.services.health_check"

# Probe outcome kinds.
KIND_HTTP = "http"
KIND_REFUSED = "refused"
KIND_RESET = "reset"
KIND_TIMEOUT = "timeout"
KIND_EMPTY = "empty"
KIND_NOT_HTTP = "not_http"
KIND_ERROR = "error"


def canonical_service_name(name):
    """Compare service names loosely: ``hailo-ocr``, ``Hailo_OCR`` and ``ocr`` are equal."""
    text = str(name).strip().lower().replace("_", "-")
    if text.startswith("hailo-"):
        text = text[len("hailo-"):]
    return text


def default_path(name):
    """Health path for ``name`` when the caller gives none."""
    return SERVICE_DEFAULT_PATHS.get(canonical_service_name(name), DEFAULT_PATH)


def format_seconds(value):
    """``60.0`` -> ``'60'``, ``1.5`` -> ``'1.5'``."""
    return "%g" % float(value)


def format_address(host, port):
    if ":" in host and not host.startswith("["):
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def validate_services(services):
    """Return a list of error strings, each naming its culprit; empty when all is well."""
    errors = []
    seen = {}
    for index, svc in enumerate(services or []):
        if not isinstance(svc, dict):
            errors.append("services[%d] is not a dict" % index)
            continue
        name = svc.get("name")
        label = "services[%d]" % index
        if not isinstance(name, str) or not name.strip():
            errors.append("%s has no name" % label)
        else:
            label = "service %s" % name
            if name in seen:
                errors.append("service %s is listed twice (services[%d] and services[%d])"
                              % (name, seen[name], index))
            else:
                seen[name] = index
        port = svc.get("port")
        if isinstance(port, bool) or not isinstance(port, int):
            errors.append("%s: port %r is not an integer" % (label, port))
        elif not 1 <= port <= 65535:
            errors.append("%s: port %d is out of range 1-65535" % (label, port))
        path = svc.get("path")
        if path is not None:
            if not isinstance(path, str) or not path.startswith("/"):
                errors.append("%s: path %r must start with '/'" % (label, path))
    return errors


def normalize_services(services):
    """Copy the service list with every ``path`` filled in."""
    out = []
    for svc in services or []:
        path = svc.get("path")
        out.append({
            "name": svc["name"],
            "port": int(svc["port"]),
            "path": path if path else default_path(svc["name"]),
        })
    return out


def _parse_body(raw):
    try:
        text = raw.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with 'replace' does not raise
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def probe_once(host, port, path, timeout):
    """Make one GET request.

    Returns a dict with ``kind`` (one of the ``KIND_*`` values), ``status`` (int or
    None), ``body`` (parsed JSON or None), ``latency_ms`` (float) and ``error``
    (string or None).
    """
    result = {"kind": KIND_ERROR, "status": None, "body": None, "latency_ms": 0.0, "error": None}
    conn = http.client.HTTPConnection(host, port, timeout=max(timeout, _MIN_SOCKET_TIMEOUT))
    start = time.monotonic()
    try:
        conn.request("GET", path, headers={
            "Accept": "application/json",
            "Connection": "close",
            "User-Agent": USER_AGENT,
        })
        response = conn.getresponse()
        status = response.status
        raw = response.read(MAX_BODY_BYTES)
        result["kind"] = KIND_HTTP
        result["status"] = status
        result["body"] = _parse_body(raw)
    except http.client.RemoteDisconnected as exc:
        # Must come before ConnectionResetError (it subclasses it).
        result["kind"] = KIND_EMPTY
        result["error"] = str(exc) or "closed without an answer"
    except ConnectionRefusedError as exc:
        result["kind"] = KIND_REFUSED
        result["error"] = str(exc)
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
            http.client.IncompleteRead) as exc:
        result["kind"] = KIND_RESET
        result["error"] = str(exc) or type(exc).__name__
    except socket.timeout as exc:
        result["kind"] = KIND_TIMEOUT
        result["error"] = str(exc) or "timed out"
    except http.client.HTTPException as exc:
        result["kind"] = KIND_NOT_HTTP
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
    except (OSError, ValueError) as exc:
        result["kind"] = KIND_ERROR
        result["error"] = str(exc) or type(exc).__name__
    finally:
        result["latency_ms"] = round((time.monotonic() - start) * 1000.0, 3)
        conn.close()
    return result


def _named_service(body):
    if isinstance(body, dict):
        value = body.get("service")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _loading_reason(body):
    if isinstance(body, dict):
        for key in ("reason", "status"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _success_detail(probe, attempts):
    detail = "answered %d in %.1f ms" % (probe["status"], probe["latency_ms"])
    body = probe["body"]
    if isinstance(body, dict) and isinstance(body.get("version"), str):
        detail += " (version %s)" % body["version"]
    if attempts > 1:
        detail += " after %d attempts" % attempts
    return detail


def _failure_detail(probe, host, port, path, deadline_text):
    address = format_address(host, port)
    kind = probe["kind"]
    if kind == KIND_HTTP:
        status = probe["status"]
        if status == 503:
            reason = _loading_reason(probe["body"])
            what = "503 %s" % reason if reason else "503"
            return "still loading (%s) on %s at the %s s deadline" % (what, address, deadline_text)
        return "answered %d to GET %s on %s until the %s s deadline" % (
            status, path, address, deadline_text)
    if kind == KIND_REFUSED:
        return "connection refused on %s until the %s s deadline" % (address, deadline_text)
    if kind == KIND_RESET:
        return "connection reset on %s until the %s s deadline" % (address, deadline_text)
    if kind == KIND_TIMEOUT:
        return "no answer from %s within the %s s deadline" % (address, deadline_text)
    if kind == KIND_EMPTY:
        return "%s closed the connection without answering until the %s s deadline" % (
            address, deadline_text)
    if kind == KIND_NOT_HTTP:
        return "%s does not answer HTTP (%s) until the %s s deadline" % (
            address, probe["error"], deadline_text)
    return "cannot reach %s (%s) until the %s s deadline" % (address, probe["error"], deadline_text)


def check_service(name, port, path, host, deadline, timeout, interval):
    """Probe one service until it is healthy, answers as another service, or ``deadline``
    (a ``time.monotonic()`` value) passes.  ``timeout`` is only used in messages."""
    deadline_text = format_seconds(timeout)
    attempts = 0
    probe = None
    while True:
        remaining = deadline - time.monotonic()
        if attempts and remaining < _MIN_ATTEMPT_WINDOW:
            break
        attempts += 1
        probe = probe_once(host, port, path, remaining)
        if probe["kind"] == KIND_HTTP:
            other = _named_service(probe["body"])
            if other is not None and canonical_service_name(other) != canonical_service_name(name):
                return _entry(False, probe, attempts, port, path,
                              "port %d answers as %s, not %s" % (port, other, name))
            if 200 <= probe["status"] < 300:
                return _entry(True, probe, attempts, port, path, _success_detail(probe, attempts))
        remaining = deadline - time.monotonic()
        if remaining < _MIN_ATTEMPT_WINDOW:
            break
        time.sleep(min(interval, remaining))
    return _entry(False, probe, attempts, port, path,
                  _failure_detail(probe, host, port, path, deadline_text))


def _entry(ok, probe, attempts, port, path, detail):
    return {
        "ok": ok,
        "status": probe["status"],
        "latency_ms": probe["latency_ms"],
        "attempts": attempts,
        "detail": detail,
        "port": port,
        "path": path,
    }


def check_services(services, host=DEFAULT_HOST, timeout=DEFAULT_TIMEOUT, interval=DEFAULT_INTERVAL):
    """Probe every service concurrently against one deadline ``timeout`` seconds away.

    ``services`` is a list of ``{name, port, path?}`` dicts (validate them first with
    :func:`validate_services`).  Returns ``{"services": {name: entry}, "healthy": [...],
    "unhealthy": [...]}`` with names in input order.
    """
    items = normalize_services(services)
    deadline = time.monotonic() + float(timeout)
    entries = {}
    lock = threading.Lock()

    def worker(svc):
        try:
            entry = check_service(svc["name"], svc["port"], svc["path"], host,
                                  deadline, timeout, interval)
        except Exception as exc:  # a bug must not hang or hide the other services
            entry = {"ok": False, "status": None, "latency_ms": 0.0, "attempts": 0,
                     "detail": "probe crashed: %s: %s" % (type(exc).__name__, exc),
                     "port": svc["port"], "path": svc["path"]}
        with lock:
            entries[svc["name"]] = entry

    threads = []
    for svc in items:
        thread = threading.Thread(target=worker, args=(svc,),
                                  name="health-%s" % svc["name"])
        thread.daemon = True
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()

    report = {"services": {}, "healthy": [], "unhealthy": []}
    for svc in items:
        entry = entries[svc["name"]]
        report["services"][svc["name"]] = entry
        report["healthy" if entry["ok"] else "unhealthy"].append(svc["name"])
    return report


def failure_message(report):
    """One sentence naming every unhealthy service and why, or None when all are healthy."""
    bad = report["unhealthy"]
    if not bad:
        return None
    total = len(report["services"])
    noun = "service" if total == 1 else "services"
    reasons = "; ".join("%s: %s" % (name, report["services"][name]["detail"]) for name in bad)
    return "%d of %d %s unhealthy: %s" % (len(bad), total, noun, reasons)
