# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Probe the HTTP health endpoints of the Hailo AI services.

Pure standard library so it can travel to the managed host with the module.

Every service is probed in its own thread against ONE shared deadline.  A probe
retries while the service is still starting (connection refused, reset, timed out,
closed without an answer), while it answers 503 (model loading) and while it
answers any other non-2xx status.

A 2xx answer proves little by itself: a program that took the port before the service did
answers too.  So a port counts only when every listener on it belongs to the service's own
systemd unit (``unit``, default ``<name>.service``), as the caller's ``listeners`` source
tells from the cgroup of the listening process (``listeners.read_listeners`` reads it from
``/proc``).  While another unit or program holds the port, or the answer names a different
service in its JSON ``service`` field, the probe keeps trying until the deadline: the
service may be starting behind a program that is about to exit.  Then it fails, naming the
holder (unit or program, pid).  The source is passed in, not imported, so that this file
stays standard library only.

The deadline holds against any peer.  The HTTP exchange is done by hand over a plain
socket, and before every send and recv the socket timeout is set to what is left of the
probe's time, so a peer that trickles its headers or body, never answers, or sends an
endless body cannot keep a probe past the deadline.  Headers and body are capped
(``MAX_HEADER_BYTES``, ``MAX_BODY_BYTES``); an answer over a cap is not healthy.  A
probe still unfinished at the deadline is reported as timed out, and a worker thread that
is stuck where no socket timeout reaches it (name resolution) is abandoned shortly after
the deadline: it is a daemon thread and does not hold up the caller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
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

# Longest body read from a health endpoint; health answers are tiny.  A longer body makes
# the answer unusable (it is not read to its end).
MAX_BODY_BYTES = 65536
# Longest status line plus headers accepted.
MAX_HEADER_BYTES = 32768
# Most bytes asked for in one recv.
_RECV_BYTES = 16384
# Longest chunk-size line of a chunked body.
_MAX_CHUNK_LINE = 1024
# Extra time check_services waits for a probe thread after the deadline before it abandons
# the probe (only a probe stuck in name resolution can need it).
_ABANDON_GRACE = 0.5

_HTTP_PREFIX = b"HTTP/"
_STATUS_LINE = re.compile(r"\AHTTP/[0-9]\.[0-9] +([0-9]{3})(?: .*)?\Z")
_HEX_DIGITS = re.compile(br"\A[0-9A-Fa-f]{1,16}\Z")
_DECIMAL = re.compile(r"\A[0-9]{1,18}\Z")

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
KIND_INCOMPLETE = "incomplete"
KIND_TOO_LARGE = "too_large"
KIND_ABANDONED = "abandoned"
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
        unit = svc.get("unit")
        if unit is not None and (not isinstance(unit, str) or not unit.strip() or "/" in unit):
            errors.append("%s: unit %r is not a unit name" % (label, unit))
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
            "unit": service_unit(svc["name"], svc.get("unit")),
        })
    return out


def service_unit(name, unit=None):
    """The systemd unit a service runs in: ``unit`` as given, else ``<name>.service``."""
    if unit:
        return unit if "." in unit else unit + ".service"
    return "%s.service" % name


def port_holders(listeners, port):
    """The listeners (``listeners.read_listeners`` entries) on ``port``, any address."""
    return [item for item in listeners or () if item.get("port") == port]


def foreign_holders(listeners, port, unit):
    """The listeners on ``port`` that do not run in ``unit``."""
    return [item for item in port_holders(listeners, port) if item.get("unit") != unit]


def describe_holder(item):
    """``hailo-depth.service (pid 812)``, ``python3 (pid 77)``, or why the owner is unknown."""
    if item.get("pid") is None:
        # Another user's sockets cannot be traced to a process without root.
        return "a process that cannot be identified (not running as root?)"
    name = item.get("unit") or item.get("program") or "an unknown process"
    return "%s (pid %d)" % (name, item["pid"])


def describe_holders(items):
    """Every distinct holder of a list of listeners, joined with ``, ``."""
    names = []
    for item in items:
        text = describe_holder(item)
        if text not in names:
            names.append(text)
    return ", ".join(names)


def _parse_body(raw):
    try:
        text = raw.decode("utf-8", "replace")
    except Exception:  # pragma: no cover - decode with 'replace' does not raise
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class _ProbeTimeout(Exception):
    """The probe's end passed before the answer was complete."""


class _NotHTTP(Exception):
    """The peer answered something that is not an HTTP response."""


class _TooLarge(Exception):
    """The answer's headers or body exceed their cap."""


class _Closed(Exception):
    """The peer closed the connection before the answer was complete."""


class _Exchange:
    """One GET over a plain socket, every wait bounded by the absolute ``end``.

    The socket timeout is set to what is left before ``end`` ahead of every send and recv,
    so a peer that trickles bytes cannot stretch the probe past ``end``.
    """

    def __init__(self, host, port, path, end):
        self.host = host
        self.port = port
        self.path = path
        self.end = end
        self.sock = None
        self.buffer = bytearray()
        self.received = 0
        self.stage = "connect"
        self.status = None

    def _remaining(self):
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise _ProbeTimeout()
        return max(remaining, _MIN_SOCKET_TIMEOUT)

    def connect(self):
        # Name resolution cannot be bounded here; check_services abandons a probe stuck in it.
        addresses = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
        last_error = OSError("no address for %s" % self.host)
        for family, socktype, proto, dummy, address in addresses:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(self._remaining())
                sock.connect(address)
            except socket.timeout:
                sock.close()
                raise _ProbeTimeout()
            except _ProbeTimeout:
                sock.close()
                raise
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            self.sock = sock
            return
        raise last_error

    def send_request(self):
        self.stage = "send"
        request = (
            "GET %s HTTP/1.1\r\n"
            "Host: %s\r\n"
            "Accept: application/json\r\n"
            "Accept-Encoding: identity\r\n"
            "Connection: close\r\n"
            "User-Agent: %s\r\n"
            "\r\n" % (self.path, format_address(self.host, self.port), USER_AGENT)
        ).encode("latin-1")
        while request:
            self.sock.settimeout(self._remaining())
            try:
                sent = self.sock.send(request)
            except socket.timeout:
                raise _ProbeTimeout()
            request = request[sent:]

    def _fill(self):
        """Receive more bytes into the buffer; False when the peer closed the connection."""
        self.sock.settimeout(self._remaining())
        try:
            chunk = self.sock.recv(_RECV_BYTES)
        except socket.timeout:
            raise _ProbeTimeout()
        if not chunk:
            return False
        self.received += len(chunk)
        self.buffer += chunk
        return True

    def _take(self, count):
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def _read_head(self):
        """Status line and headers of one response: ``(status, {lower-case name: [values]})``."""
        limit = MAX_HEADER_BYTES
        scanned = 0
        while True:
            if not _HTTP_PREFIX.startswith(bytes(self.buffer[:len(_HTTP_PREFIX)])):
                raise _NotHTTP("the answer does not start with HTTP/: %r" % bytes(self.buffer[:32]))
            end = _head_end(self.buffer, scanned)
            if end is not None:
                break
            scanned = max(len(self.buffer) - 3, 0)
            if len(self.buffer) > limit:
                raise _TooLarge("the status line and headers exceed %s" % _format_bytes(limit))
            if not self._fill():
                if not self.buffer:
                    raise _Closed("closed without an answer")
                raise _Closed("closed in the middle of the headers")
        if end > limit:
            raise _TooLarge("the status line and headers exceed %s" % _format_bytes(limit))
        head = self._take(end).decode("latin-1")
        lines = head.split("\n")
        match = _STATUS_LINE.match(lines[0].rstrip("\r"))
        if not match:
            raise _NotHTTP("bad status line %r" % lines[0].rstrip("\r")[:80])
        headers = {}
        for line in lines[1:]:
            line = line.rstrip("\r")
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                # Blank, folded or malformed lines carry nothing this probe needs.
                continue
            headers.setdefault(name.lower(), []).append(value.strip())
        return int(match.group(1)), headers

    def _read_exact(self, count):
        while len(self.buffer) < count:
            if not self._fill():
                raise _Closed("closed after %d of %d body bytes" % (len(self.buffer), count))
        return self._take(count)

    def _read_line(self, what):
        while True:
            index = self.buffer.find(b"\n")
            if index >= 0:
                return self._take(index + 1).rstrip(b"\r\n")
            if len(self.buffer) > _MAX_CHUNK_LINE:
                raise _NotHTTP("%s is too long" % what)
            if not self._fill():
                raise _Closed("closed in the middle of the chunked body")

    def _read_chunked(self):
        body = bytearray()
        while True:
            line = self._read_line("a chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            if not _HEX_DIGITS.match(size_text):
                raise _NotHTTP("bad chunk size %r" % line[:40])
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise _TooLarge("the body exceeds %s" % _format_bytes(MAX_BODY_BYTES))
            body += self._read_exact(size)
            if self._read_line("the end of a chunk"):
                raise _NotHTTP("chunk data is not followed by a line end")
        # Trailers end with an empty line; the body is complete without them, so do not
        # wait for them.
        return bytes(body)

    def _read_to_close(self):
        while True:
            if len(self.buffer) > MAX_BODY_BYTES:
                raise _TooLarge("the body exceeds %s" % _format_bytes(MAX_BODY_BYTES))
            if not self._fill():
                return self._take(len(self.buffer))

    def read_response(self):
        """``(status, body bytes)``; 1xx interim answers are skipped."""
        self.stage = "headers"
        while True:
            status, headers = self._read_head()
            if 100 <= status < 200 and status != 101:
                continue
            break
        self.status = status
        self.stage = "body"
        if status in (101, 204, 304):
            return status, b""
        encodings = ",".join(headers.get("transfer-encoding", [])).lower()
        if encodings:
            if [item.strip() for item in encodings.split(",")][-1] != "chunked":
                raise _NotHTTP("unsupported Transfer-Encoding %r" % encodings)
            return status, self._read_chunked()
        lengths = set(headers.get("content-length", []))
        if lengths:
            if len(lengths) != 1 or not _DECIMAL.match(next(iter(lengths))):
                raise _NotHTTP("bad Content-Length %r" % ", ".join(sorted(lengths)))
            length = int(next(iter(lengths)))
            if length > MAX_BODY_BYTES:
                raise _TooLarge("the body (Content-Length %d) exceeds %s"
                                % (length, _format_bytes(MAX_BODY_BYTES)))
            return status, self._read_exact(length)
        return status, self._read_to_close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:  # pragma: no cover - close of a plain socket does not fail
                pass


def _head_end(buffer, start=0):
    """Index just past the empty line that ends the headers, or None.  ``start`` skips
    bytes already searched."""
    found = None
    for marker in (b"\r\n\r\n", b"\n\n", b"\n\r\n"):
        index = buffer.find(marker, start)
        if index >= 0 and (found is None or index + len(marker) < found):
            found = index + len(marker)
    return found


def _format_bytes(count):
    if count % 1024 == 0:
        return "%d KiB" % (count // 1024)
    return "%d bytes" % count


def probe_once(host, port, path, timeout):
    """Make one GET request that takes at most ``timeout`` seconds, however the peer behaves.

    Returns a dict with ``kind`` (one of the ``KIND_*`` values), ``status`` (int or
    None), ``body`` (parsed JSON or None), ``latency_ms`` (float) and ``error``
    (string or None).
    """
    result = {"kind": KIND_ERROR, "status": None, "body": None, "latency_ms": 0.0, "error": None}
    start = time.monotonic()
    exchange = _Exchange(host, port, path, start + max(timeout, 0.0))
    try:
        exchange.connect()
        exchange.send_request()
        status, raw = exchange.read_response()
        result["kind"] = KIND_HTTP
        result["status"] = status
        result["body"] = _parse_body(raw)
    except _ProbeTimeout:
        if exchange.received:
            result["kind"] = KIND_INCOMPLETE
            if exchange.stage == "body":
                result["error"] = "status %d and headers received, body unfinished" % exchange.status
            else:
                result["error"] = "%d bytes received, headers unfinished" % exchange.received
        else:
            result["kind"] = KIND_TIMEOUT
            result["error"] = "timed out"
    except _TooLarge as exc:
        result["kind"] = KIND_TOO_LARGE
        result["status"] = exchange.status
        result["error"] = str(exc)
    except _NotHTTP as exc:
        result["kind"] = KIND_NOT_HTTP
        result["error"] = str(exc)
    except _Closed as exc:
        result["kind"] = KIND_RESET if exchange.received else KIND_EMPTY
        result["error"] = str(exc)
    except ConnectionRefusedError as exc:
        result["kind"] = KIND_REFUSED
        result["error"] = str(exc)
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
        result["kind"] = KIND_RESET
        result["error"] = str(exc) or type(exc).__name__
    except (OSError, ValueError) as exc:
        result["kind"] = KIND_ERROR
        result["error"] = str(exc) or type(exc).__name__
    finally:
        result["latency_ms"] = round((time.monotonic() - start) * 1000.0, 3)
        exchange.close()
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
    if kind == KIND_INCOMPLETE:
        return "no complete answer from %s within the %s s deadline (%s)" % (
            address, deadline_text, probe["error"])
    if kind == KIND_TOO_LARGE:
        what = "answered %d to GET %s" % (probe["status"], path) if probe["status"] else "answered"
        return "%s on %s but %s, until the %s s deadline" % (
            what, address, probe["error"], deadline_text)
    if kind == KIND_ABANDONED:
        return "no complete answer from %s within the %s s deadline (%s)" % (
            address, deadline_text, probe["error"])
    if kind == KIND_EMPTY:
        return "%s closed the connection without answering until the %s s deadline" % (
            address, deadline_text)
    if kind == KIND_NOT_HTTP:
        return "%s does not answer HTTP (%s) until the %s s deadline" % (
            address, probe["error"], deadline_text)
    return "cannot reach %s (%s) until the %s s deadline" % (address, probe["error"], deadline_text)


def check_service(name, port, path, host, deadline, timeout, interval, progress=None,
                  unit=None, listeners=None):
    """Probe one service until it is healthy on a port its own unit holds, or ``deadline``
    (a ``time.monotonic()`` value) passes.  ``timeout`` is only used in messages.

    ``listeners``, when given, is a callable returning the host's listening sockets as
    ``listeners.read_listeners`` does; a healthy answer then counts only when every listener on
    ``port`` runs in ``unit`` (default ``<name>.service``).  Without it the answer alone counts.

    Every probe ends by ``deadline`` whatever the peer does.  ``progress``, when given, is a
    dict kept up to date with ``attempts`` and ``started`` (when the current probe began) so
    that a caller can report a probe it abandons.
    """
    deadline_text = format_seconds(timeout)
    unit = service_unit(name, unit)
    attempts = 0
    probe = None
    refusal = None
    holder = None
    while True:
        remaining = deadline - time.monotonic()
        if attempts and remaining < _MIN_ATTEMPT_WINDOW:
            break
        attempts += 1
        if progress is not None:
            progress["attempts"] = attempts
            progress["started"] = time.monotonic()
        probe = probe_once(host, port, path, remaining)
        accepted, refusal, holder = _accept(name, port, unit, probe, listeners)
        if accepted:
            return _entry(True, probe, attempts, port, path, _success_detail(probe, attempts), unit, None)
        # Anything else, another program on the port included, may still change before the
        # deadline: a squatter can exit and the service bind behind it.
        remaining = deadline - time.monotonic()
        if remaining < _MIN_ATTEMPT_WINDOW:
            break
        time.sleep(min(interval, remaining))
    if refusal is not None:
        return _entry(False, probe, attempts, port, path,
                      "%s, until the %s s deadline" % (refusal, deadline_text), unit, holder)
    return _entry(False, probe, attempts, port, path,
                  _failure_detail(probe, host, port, path, deadline_text), unit, None)


def _accept(name, port, unit, probe, listeners):
    """``(accepted, refusal, holder)``: whether ``probe`` shows ``name`` healthy on ``port``
    in its own ``unit``; else why not when the port answered for someone else."""
    if probe["kind"] != KIND_HTTP:
        return False, None, None
    other = _named_service(probe["body"])
    if other is not None and canonical_service_name(other) == canonical_service_name(name):
        other = None
    if other is None and not 200 <= probe["status"] < 300:
        return False, None, None
    refusal, holder = _ownership(port, unit, listeners)
    if other is not None:
        refusal = "port %d answers as %s, not %s%s" % (port, other, name, " (held by %s)" % holder if holder else "")
    return refusal is None, refusal, holder


def check_once(name, port, path, host, timeout, unit=None, listeners=None):
    """One probe of one service, no retry (``check_service`` with a single attempt): whether it
    answers healthy on ``port`` in its own unit now. Ends within ``timeout`` seconds."""
    unit = service_unit(name, unit)
    probe = probe_once(host, port, path, timeout)
    accepted, refusal, holder = _accept(name, port, unit, probe, listeners)
    if accepted:
        return _entry(True, probe, 1, port, path, _success_detail(probe, 1), unit, None)
    detail = refusal or _failure_detail(probe, host, port, path, format_seconds(timeout))
    return _entry(False, probe, 1, port, path, detail, unit, holder)


def _ownership(port, unit, listeners):
    """``(refusal, holder)``: why the listeners on ``port`` do not prove ``unit``, and who
    else holds it; ``(None, None)`` when they prove it (or there is no source to ask)."""
    if listeners is None:
        return None, None
    found = listeners()
    on_port = port_holders(found, port)
    if not on_port:
        return "an answer came on port %d but no listener on it shows in /proc" % port, None
    foreign = foreign_holders(found, port, unit)
    if foreign:
        holder = describe_holders(foreign)
        return "port %d is held by %s, not %s" % (port, holder, unit), holder
    return None, None


def _entry(ok, probe, attempts, port, path, detail, unit=None, holder=None):
    return {
        "ok": ok,
        "status": probe["status"],
        "latency_ms": probe["latency_ms"],
        "attempts": attempts,
        "detail": detail,
        "port": port,
        "path": path,
        "unit": unit,
        "holder": holder,
    }


def check_services(services, host=DEFAULT_HOST, timeout=DEFAULT_TIMEOUT, interval=DEFAULT_INTERVAL,
                   listeners=None):
    """Probe every service concurrently against one deadline ``timeout`` seconds away.

    ``services`` is a list of ``{name, port, path?, unit?}`` dicts (validate them first with
    :func:`validate_services`).  ``listeners``: see :func:`check_service`; the modules pass
    ``listeners.read_listeners``.  Returns ``{"services": {name: entry}, "healthy": [...],
    "unhealthy": [...]}`` with names in input order.
    """
    items = normalize_services(services)
    deadline = time.monotonic() + float(timeout)
    entries = {}
    progress = dict((svc["name"], {"attempts": 0, "started": None}) for svc in items)
    lock = threading.Lock()
    closed = []

    def worker(svc):
        try:
            entry = check_service(svc["name"], svc["port"], svc["path"], host,
                                  deadline, timeout, interval, progress[svc["name"]],
                                  unit=svc["unit"], listeners=listeners)
        except Exception as exc:  # a bug must not hang or hide the other services
            entry = {"ok": False, "status": None, "latency_ms": 0.0, "attempts": 0,
                     "detail": "probe crashed: %s: %s" % (type(exc).__name__, exc),
                     "port": svc["port"], "path": svc["path"], "unit": svc["unit"], "holder": None}
        with lock:
            if not closed:
                entries[svc["name"]] = entry

    threads = []
    for svc in items:
        thread = threading.Thread(target=worker, args=(svc,),
                                  name="health-%s" % svc["name"])
        thread.daemon = True
        thread.start()
        threads.append(thread)
    # Probes end by the deadline on their own; a thread that still runs after the grace
    # (stuck where no timeout reaches, such as name resolution) is abandoned.  It is a
    # daemon thread, so it does not keep the process alive.
    for thread in threads:
        thread.join(max(deadline + _ABANDON_GRACE - time.monotonic(), 0.0))
    with lock:
        closed.append(True)
        finished = dict(entries)

    report = {"services": {}, "healthy": [], "unhealthy": []}
    for svc in items:
        entry = finished.get(svc["name"])
        if entry is None:
            entry = _abandoned_entry(svc, host, timeout, progress[svc["name"]])
        report["services"][svc["name"]] = entry
        report["healthy" if entry["ok"] else "unhealthy"].append(svc["name"])
    return report


def _abandoned_entry(svc, host, timeout, progress):
    started = progress.get("started")
    latency = (time.monotonic() - started) * 1000.0 if started is not None else 0.0
    probe = {"kind": KIND_ABANDONED, "status": None, "body": None,
             "latency_ms": round(latency, 3), "error": "the probe was abandoned"}
    return _entry(False, probe, progress.get("attempts", 0), svc["port"], svc["path"],
                  _failure_detail(probe, host, svc["port"], svc["path"], format_seconds(timeout)),
                  svc["unit"], None)


def failure_message(report):
    """One sentence naming every unhealthy service and why, or None when all are healthy."""
    bad = report["unhealthy"]
    if not bad:
        return None
    total = len(report["services"])
    noun = "service" if total == 1 else "services"
    reasons = "; ".join("%s: %s" % (name, report["services"][name]["detail"]) for name in bad)
    return "%d of %d %s unhealthy: %s" % (len(bad), total, noun, reasons)
