"""Stand-in for the Hailo device manager (TEST FIXTURE, written from the notes' "Devices
installed today"): serves a Unix socket under /run/hailo/ and its HTTP status on
$HAILO_DEVICE_HTTP_BIND (127.0.0.1:5099): GET /v1/device/status."""
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOCKET = "/run/hailo/device-manager.sock"


class Status(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.path.split("?")[0] != "/v1/device/status":
            self.send_error(404)
            return
        body = json.dumps({"device": "/dev/hailo0", "status": "ok", "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_socket():
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(SOCKET)
    sock.listen(8)
    while True:
        conn, _addr = sock.accept()
        conn.sendall(b'{"status": "ok"}\n')
        conn.close()


def main():
    host, _sep, port = os.environ.get("HAILO_DEVICE_HTTP_BIND", "127.0.0.1:5099").rpartition(":")
    threading.Thread(target=serve_socket, daemon=True).start()
    ThreadingHTTPServer((host, int(port)), Status).serve_forever()


if __name__ == "__main__":
    main()
