"""Run playbooks/reconcile.yml through ansible-runner's Python API, the engine AWX and
Automation Controller use, and keep what a job there shows: the status and return code, the
custom stats (set_stats, the job's artifacts) and the failed tasks of each host (job events).

    python run_with_runner.py PLAYBOOK INVENTORY EXTRAVARS_JSON OUT_JSON [LIMIT]

Exits with the playbook's return code; verify reads OUT_JSON.
"""
import json
import os
import sys

import ansible_runner


def main(playbook, inventory, extravars, out_path, limit=None):
    private = os.path.join(os.path.dirname(os.path.abspath(out_path)), "runner")
    os.makedirs(private, exist_ok=True)
    runner = ansible_runner.run(
        private_data_dir=private, playbook=os.path.abspath(playbook),
        inventory=os.path.abspath(inventory), extravars=json.loads(extravars), limit=limit, quiet=True)
    artifacts, failed, hosts = {}, {}, set()
    for event in runner.events:
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_stats":
            artifacts = data.get("artifact_data") or {}
        if data.get("host"):
            hosts.add(data["host"])
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") \
                and not data.get("ignore_errors"):
            failed.setdefault(data.get("host"), []).append(data.get("task"))
    result = {"status": runner.status, "rc": runner.rc, "artifact_data": artifacts,
              "failed_tasks": failed, "hosts": sorted(hosts), "stats": runner.stats}
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps({"status": runner.status, "rc": runner.rc, "artifact_data": artifacts}))
    return runner.rc


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
