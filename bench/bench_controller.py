"""The controller's own cost per device, past what containers allow: N simulated devices.

Each device is the controller itself (ansible_connection local) with its own config, JSON and
unit directories, seeded with the pre-plan configs of molecule/resources (the plan's
conflicts). `playbooks/reconcile.yml --tags plan` then discovers every device, computes the
fleet map and each device's plan, and changes nothing. Prints the wall time and the time per
device for each N, so that growth with N shows.

    .venv/bin/python bench/bench_controller.py 20 100 200   (make bench runs 20 and 100)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESOURCES = os.path.join(ROOT, "molecule", "resources")


def seed(base, n):
    with open(os.path.join(RESOURCES, "seed.yml"), encoding="utf-8") as handle:
        services = yaml.safe_load(handle)["seed_default_services"]
    services = dict((name, spec) for name, spec in services.items() if name != "hailo-standby-test")
    hosts = {}
    for index in range(1, n + 1):
        host = "sim-pi%d" % index
        config_dir = os.path.join(base, host, "etc-hailo")
        os.makedirs(config_dir)
        for name, spec in services.items():
            with open(os.path.join(RESOURCES, "files", "etc-hailo", name + ".yaml.j2"), encoding="utf-8") as handle:
                text = jinja2.Template(handle.read(), keep_trailing_newline=True).render(port=spec["port"])
            with open(os.path.join(config_dir, name + ".yaml"), "w", encoding="utf-8") as handle:
                handle.write(text)
            if spec.get("json_copy", spec.get("reads") == "json"):
                # The installer's JSON copy, for the services that read JSON (as seed_device.py).
                json_dir = os.path.join(base, host, "xdg", name)
                os.makedirs(json_dir)
                with open(os.path.join(json_dir, name + ".json"), "w", encoding="utf-8") as handle:
                    json.dump(yaml.safe_load(text), handle, indent=2)
        hosts[host] = {"reconcile_config_dir": config_dir,
                       "reconcile_json_dir": os.path.join(base, host, "xdg"),
                       "reconcile_unit_dir": os.path.join(base, host, "units")}
        os.makedirs(hosts[host]["reconcile_json_dir"], exist_ok=True)
        os.makedirs(hosts[host]["reconcile_unit_dir"])
    inventory = {"all": {"children": {"hailo_devices": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "hosts": hosts}}}}
    path = os.path.join(base, "hosts.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle)
    return path


def main(counts):
    env = dict(os.environ, ANSIBLE_FORKS=os.environ.get("ANSIBLE_FORKS", "10"))
    print("| N | wall time | per device |")
    print("|---|---|---|")
    for n in counts:
        base = tempfile.mkdtemp(prefix="hailo-controller-bench.")
        try:
            inventory = seed(base, n)
            start = time.monotonic()
            proc = subprocess.run(
                [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                 os.path.join(ROOT, "playbooks", "reconcile.yml"), "--tags", "plan",
                 "-e", "reconcile_report_dir=%s/reports" % base, "-e", '{"reconcile_serial": ["100%"]}'],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            seconds = time.monotonic() - start
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout.decode("utf-8", "replace")[-3000:])
                raise SystemExit("N=%d: the plan run failed (rc %d)" % (n, proc.returncode))
            print("| %d | %.1f s | %.0f ms |" % (n, seconds, 1000 * seconds / n))
            sys.stdout.flush()
        finally:
            shutil.rmtree(base)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [20, 100])
