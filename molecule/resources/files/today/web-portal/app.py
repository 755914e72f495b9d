"""The Hailo web portal (TEST FIXTURE standing in for it): listens on 0.0.0.0:7860 (hard-coded),
builds every service client with its default base URL and answers GET /api/status (the
device's status: each service as the portal reaches it) and GET / (the web page)."""
import json
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import portal_client

CLIENTS = {
    "hailo-clip": portal_client.ClipClient(),
    "hailo-vision": portal_client.VisionClient(),
    "hailo-whisper": portal_client.WhisperClient(),
    "hailo-ocr": portal_client.OcrClient(),
    "hailo-pose": portal_client.PoseClient(),
    "hailo-depth": portal_client.DepthClient(),
    "hailo-ollama": portal_client.OllamaClient(),
    "hailo-piper": portal_client.PiperClient(),
}
DEVICE_MANAGER = "http://127.0.0.1:5099/v1/device/status"


def status():
    services = {}
    for name, client in sorted(CLIENTS.items()):
        try:
            client.health()
            services[name] = {"url": client.base_url, "ok": True}
        except Exception as exc:  # the page shows a service that does not answer
            services[name] = {"url": client.base_url, "ok": False, "error": str(exc)}
    try:
        with urllib.request.urlopen(DEVICE_MANAGER, timeout=2) as resp:
            device = json.loads(resp.read().decode("utf-8"))
    except Exception as exc:
        device = {"status": "unreachable", "error": str(exc)}
    return {"service": "hailo-web-portal", "status": "ok", "device": device, "services": services}


class Portal(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        path = self.path.split("?")[0]
        if path == "/api/status":
            body, kind = json.dumps(status()).encode("utf-8"), "application/json"
        elif path == "/":
            body, kind = b"<!doctype html><title>Hailo</title><h1>Hailo services</h1>", "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 7860), Portal).serve_forever()
