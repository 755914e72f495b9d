#!/usr/bin/env bash
# Fleet benchmark: N container devices (default 10; N=5 bench/bench_fleet.sh), seeded with the
# plan's conflicts, then playbooks/reconcile.yml twice: the first rollout and the no-op re-run.
# Prints the wall time of each and the tasks run per host (from the play recap). The devices
# are removed at the end (KEEP=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-${1:-10}}"
BIN="${BIN:-.venv/bin}"
work="$(mktemp -d /tmp/hailo-fleet-bench.XXXXXX)"
names=()
for i in $(seq 1 "$N"); do names+=("hailo-fleet-bench-pi$i"); done
cleanup() {
    [ "${KEEP:-0}" = 1 ] || bench/fleet_devices.sh down "${names[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

{
    echo "all:"
    echo "  children:"
    echo "    hailo_devices:"
    echo "      vars:"
    echo "        ansible_connection: containers.podman.podman"
    echo "        ansible_python_interpreter: /usr/bin/python3"
    echo "        seed_services_skip: [hailo-standby-test]"
    echo "      hosts:"
    for name in "${names[@]}"; do echo "        $name: {}"; done
} > "$work/hosts.yml"

export ANSIBLE_FORKS="$N"
bench/fleet_devices.sh up "${names[@]}" >/dev/null
"$BIN/ansible-playbook" -i "$work/hosts.yml" molecule/resources/prepare.yml >"$work/seed.log"

run() {  # run LABEL: time one rollout, print the recap figures
    local start end
    start=$(date +%s%N)
    "$BIN/ansible-playbook" -i "$work/hosts.yml" playbooks/reconcile.yml \
        -e "{\"reconcile_report_dir\": \"$work/reports\"}" >"$work/$1.log"
    end=$(date +%s%N)
    awk -v label="$1" -v secs="$(( (end - start) / 1000000 ))" '
        /^hailo-fleet-bench/ {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
            hosts++
        }
        END {
            printf "%-10s %6.1f s  per host: %.1f tasks run (ok+failed), %.1f changed, %.1f skipped\n",
                label, secs / 1000, (v["ok"] + v["failed"]) / hosts, v["changed"] / hosts, v["skipped"] / hosts
        }' "$work/$1.log"
}
echo "fleet of $N devices (forks $N)"
run first
run rerun
