#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, hailo.services maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: health_check
short_description: Wait until Hailo AI services answer their HTTP health endpoints
version_added: 0.1.0
description:
  - Probes the HTTP health endpoint of every listed service from the managed host, all
    services at the same time, and waits until each one is healthy or one shared deadline
    passes.
  - A service counts as healthy when it answers any 2xx status AND every listener on its port
    belongs to the service's own systemd unit (O(services[].unit)), as the cgroup of the
    listening process in C(/proc) tells. A program that took the port before the service did
    answers too, so the answer alone proves nothing. The body does not have to be JSON.
  - >-
    While a service is still starting (connection refused, reset, timed out or closed
    without an answer) or answers 503 (for example C({"ready": false, "reason": "model_loading"})
    or C({"status": "loading"}) while a model loads), the probe retries every O(interval)
    seconds until the deadline.
  - Any other non-2xx status (404, 500, ...) is also retried until the deadline, because a
    service that is coming up can briefly answer that way; the last status is reported.
  - While another unit or program holds the port, or the JSON body of the answer has a
    C(service) field naming a different service, the probe keeps trying until the deadline
    (the service may be starting behind a program that is about to exit), then fails naming
    the holder, for example C(port 11439 is held by python3 (pid 812), not
    hailo-depth.service). Names in the body are compared without a leading C(hailo-), case and
    C(_)/C(-) differences, so C(ocr) and C(hailo-ocr) are the same service. Bodies that name no
    service are fine.
  - Fails when any service is unhealthy, with a message naming every unhealthy service and
    why. The failure result still carries RV(services), RV(healthy) and RV(unhealthy), so a
    C(rescue) block can read them.
  - The deadline holds whatever the services do. Every read from a service waits at most
    until the deadline, so a peer that never answers, sends its headers or body a byte at a
    time, or sends an endless body cannot keep the module running past it. An answer still
    unfinished at the deadline counts as no answer (C(no complete answer from ... within the
    N s deadline)).
  - Answers are capped at 32 KiB of status line and headers and 64 KiB of body. A larger
    answer is not healthy; it is retried until the deadline like a non-2xx status.
  - The module only reads, so it never reports a change and runs normally in check mode.
author:
  - hailo.services maintainers (@hailo)
options:
  services:
    description:
      - The services to probe. An empty list succeeds at once.
      - Names must be unique.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Service name, for example C(hailo-depth). Used as the key of RV(services).
        type: str
        required: true
      port:
        description:
          - TCP port the service listens on, 1 to 65535.
        type: int
        required: true
      path:
        description:
          - HTTP path to C(GET). Must start with C(/).
          - Defaults to C(/api/version) for C(hailo-ollama) and to C(/health) for every other
            service.
          - Use C(/health/ready) for services that have it (depth, pose, ocr, whisper) to
            also wait for the model to load.
        type: str
      unit:
        description:
          - The systemd unit that must hold the port.
          - Defaults to C(<name>.service).
        type: str
  host:
    description:
      - Address to connect to, as seen from the managed host.
    type: str
    default: 127.0.0.1
  timeout:
    description:
      - Seconds to wait for all services together. This is ONE deadline for the whole
        call, not a per-service or per-request timeout.
      - The module returns at most about half a second after it, however slowly the services
        answer.
      - Must be greater than 0.
    type: float
    default: 60
  interval:
    description:
      - Seconds to wait between two attempts on the same service.
      - Must not be negative.
    type: float
    default: 0.5
attributes:
  check_mode:
    support: full
    details: The module only reads; it probes normally in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - The probes run on the managed host, so C(127.0.0.1) is the device itself.
  - Run it as root (C(become)); otherwise the owner of another user's listener cannot be read
    and no port counts as the service's own.
  - Redirects are not followed; a 3xx answer counts as not healthy yet.
"""

EXAMPLES = r"""
- name: Wait for the reconciled services to come up
  hailo.services.health_check:
    services:
      - {name: hailo-ollama, port: 11434}
      - {name: hailo-ocr, port: 11436}
      - {name: hailo-depth, port: 11439, path: /health/ready}
      - {name: hailo-pose, port: 11440, path: /health/ready}
      - {name: hailo-piper, port: 5003}
    timeout: 90

- name: Roll back when a service does not come up
  block:
    - name: Check health
      hailo.services.health_check:
        services: "{{ hailo_services_health }}"
        timeout: 60
      register: hailo_health
  rescue:
    - name: Show which services failed
      ansible.builtin.debug:
        msg: "Unhealthy: {{ ansible_failed_result.unhealthy | join(', ') }}"
"""

RETURN = r"""
services:
  description:
    - One entry per service, keyed by service name.
  returned: always
  type: dict
  sample:
    hailo-ocr:
      ok: true
      status: 200
      latency_ms: 3.1
      attempts: 1
      detail: answered 200 in 3.1 ms
      port: 11436
      path: /health
      unit: hailo-ocr.service
      holder: null
    hailo-depth:
      ok: false
      status: 200
      latency_ms: 2.4
      attempts: 1
      detail: port 11439 is held by hailo-pose.service (pid 812), not hailo-depth.service, until the 60 s deadline
      port: 11439
      path: /health
      unit: hailo-depth.service
      holder: hailo-pose.service (pid 812)
  contains:
    ok:
      description: Whether the service answered healthy before the deadline.
      type: bool
      returned: always
    status:
      description:
        - HTTP status of the last request, or V(null) when it got no complete HTTP answer.
        - Set for an answer over the size caps, which is still not healthy.
      type: int
      returned: always
    latency_ms:
      description:
        - Milliseconds the successful request took or, for an unhealthy service, the last one.
      type: float
      returned: always
    attempts:
      description: Number of requests made.
      type: int
      returned: always
    detail:
      description:
        - One human sentence, for example C(answered 200 in 3.1 ms),
          C(connection refused on 127.0.0.1:5003 until the 10 s deadline),
          C(port 11439 is held by python3 (pid 812), not hailo-depth.service, until the 60 s
          deadline),
          C(port 11436 answers as hailo-ocr, not hailo-depth (held by hailo-ocr.service (pid 77)),
          until the 60 s deadline),
          C(still loading (503 model_loading) on 127.0.0.1:11439 at the 60 s deadline),
          C(no complete answer from 127.0.0.1:11439 within the 60 s deadline (status 200 and
          headers received, body unfinished)) or
          C(answered 200 to GET /health on 127.0.0.1:5003 but the body exceeds 64 KiB, until the
          60 s deadline).
      type: str
      returned: always
    port:
      description: Port probed.
      type: int
      returned: always
    path:
      description: Path probed, with the default filled in.
      type: str
      returned: always
    unit:
      description: The unit that must hold the port, with the default filled in.
      type: str
      returned: always
    holder:
      description:
        - Who held the port instead of the service's unit at the last check (unit or program,
          and pid), or V(null).
      type: str
      returned: always
healthy:
  description: Names of the healthy services, in input order.
  returned: always
  type: list
  elements: str
  sample: [hailo-ocr]
unhealthy:
  description: Names of the unhealthy services, in input order.
  returned: always
  type: list
  elements: str
  sample: [hailo-depth]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hailo.services.plugins.module_utils.health import (
    DEFAULT_HOST,
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    check_services,
    failure_message,
    validate_services,
)
from ansible_collections.hailo.services.plugins.module_utils.listeners import read_listeners


def main():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    port=dict(type="int", required=True),
                    path=dict(type="str"),
                    unit=dict(type="str"),
                ),
            ),
            host=dict(type="str", default=DEFAULT_HOST),
            timeout=dict(type="float", default=DEFAULT_TIMEOUT),
            interval=dict(type="float", default=DEFAULT_INTERVAL),
        ),
        supports_check_mode=True,
    )
    services = module.params["services"] or []
    timeout = module.params["timeout"]
    interval = module.params["interval"]

    errors = validate_services(services)
    if timeout <= 0:
        errors.append("timeout must be greater than 0, got %s" % timeout)
    if interval < 0:
        errors.append("interval must not be negative, got %s" % interval)
    if errors:
        module.fail_json(msg="Invalid arguments: %s" % "; ".join(errors),
                         services={}, healthy=[], unhealthy=[])

    report = check_services(services, host=module.params["host"],
                            timeout=timeout, interval=interval, listeners=read_listeners)
    msg = failure_message(report)
    if msg:
        module.fail_json(msg=msg, changed=False, **report)
    count = len(report["healthy"])
    module.exit_json(
        changed=False,
        msg="%d %s healthy" % (count, "service" if count == 1 else "services"),
        **report
    )


if __name__ == "__main__":
    main()
