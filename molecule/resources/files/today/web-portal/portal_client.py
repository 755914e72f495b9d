"""Clients of the local Hailo AI services, as the web portal calls them.

TEST FIXTURE: the web portal as today's installer copies it to /opt/hailo-web-portal (see the
notes' "Devices installed today"). One class per service, each with its default base URL.
"""
import json
import urllib.request


class _Client:
    health_path = "/health"

    def __init__(self, base_url, timeout=2.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def health(self):
        with urllib.request.urlopen(self.base_url + self.health_path, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))


class ClipClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:5000", timeout=2.0):
        super().__init__(base_url, timeout)


class VisionClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:11435", timeout=2.0):
        super().__init__(base_url, timeout)


class WhisperClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:11437", timeout=2.0):
        super().__init__(base_url, timeout)


class OcrClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:11436", timeout=2.0):
        super().__init__(base_url, timeout)


class PoseClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:11440", timeout=2.0):
        super().__init__(base_url, timeout)


class DepthClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:11439", timeout=2.0):
        super().__init__(base_url, timeout)


class OllamaClient(_Client):
    health_path = "/api/version"

    def __init__(self, base_url="http://127.0.0.1:11434", timeout=2.0):
        super().__init__(base_url, timeout)


class PiperClient(_Client):
    def __init__(self, base_url="http://127.0.0.1:5003", timeout=2.0):
        super().__init__(base_url, timeout)
