#!/usr/bin/env bash
# Fleet benchmark: N container devices (default 10; N=5 bench/bench_fleet.sh), seeded with the
# plan's conflicts, then playbooks/reconcile.yml twice: the first rollout and the no-op re-run.
# Each is compared with its floor, bench/floor.yml: one task per device (bench/floor_rollout.py)
# doing only the rollout's unavoidable work, the same port edits, restarts and health probes.
#   1. seed; plan the rollout (playbooks/plan.yml, untimed): the floor's moves, restarts and
#      probes come from that plan and the role's catalog (health_path);
#   2. floor (timed) on the seeded devices;
#   3. remove, recreate and re-seed the devices; first rollout (timed); no-op re-run (timed);
#   4. floor-noop (timed) on the converged devices: nothing moves, only the probes;
#   5. check that the floor did what the rollouts did (their fleet reports), then print each
#      run's wall time, its ratio to its floor and the tasks run per host (from the play recap).
# The devices are removed at the end (KEEP=1 keeps them); the logs and reports are kept in
# /tmp/hailo-fleet-bench.* when something failed.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-${1:-10}}"
BIN="${BIN:-.venv/bin}"
# One batch by default, like the floor (all devices at once); SERIAL='[1, "25%", "100%"]'
# measures the canary batches (any JSON value reconcile_serial takes).
SERIAL="${SERIAL:-\"100%\"}"
work="$(mktemp -d /tmp/hailo-fleet-bench.XXXXXX)"
names=()
for i in $(seq 1 "$N"); do names+=("hailo-fleet-bench-pi$i"); done
failed=()
cleanup() {
    local rc=$?
    [ "${KEEP:-0}" = 1 ] || bench/fleet_devices.sh down "${names[@]}"
    if [ "$rc" != 0 ]; then echo "logs and reports kept in $work" >&2; else rm -rf "$work"; fi
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
seed() {  # fresh devices in the seeded state
    bench/fleet_devices.sh down "${names[@]}"
    bench/fleet_devices.sh up "${names[@]}" >/dev/null
    "$BIN/ansible-playbook" -i "$work/hosts.yml" molecule/resources/prepare.yml >>"$work/seed.log"
}

declare -A ms
timed() {  # timed LABEL PLAYBOOK ARGS...: run it, keep its wall time in ms[LABEL]
    local label="$1" start end
    shift
    start=$(date +%s%N)
    if ! "$BIN/ansible-playbook" -i "$work/hosts.yml" "$@" >"$work/$label.log"; then
        echo "$label failed; the end of $work/$label.log:" >&2
        tail -n 30 "$work/$label.log" >&2
        failed+=("$label")
    fi
    end=$(date +%s%N)
    ms[$label]=$(( (end - start) / 1000000 ))
}
rollout() {  # rollout LABEL
    timed "$1" playbooks/reconcile.yml -e "{\"reconcile_report_dir\": \"$work/reports-$1\", \"reconcile_serial\": $SERIAL}"
}
floor() {  # floor LABEL [--noop]
    "$BIN/python" bench/floor_rollout.py args "$work/plan.json" roles/reconcile/defaults/main.yml \
        "${@:2}" >"$work/$1-args.json"
    timed "$1" bench/floor.yml -e "{\"floor_args_file\": \"$work/$1-args.json\"}"
}
ok() { [[ " ${failed[*]} " != *" $1 "* ]]; }
same_work() {  # same_work FLOOR ROLLOUT: the floor did the rollout's moves, restarts, probes
    local report="$work/reports-$2/fleet-rollout.json"
    ok "$1" && ok "$2" && [ -f "$report" ] || return 0
    "$BIN/python" bench/floor_rollout.py check "$work/$1-args.json" "$report" ||
        echo "warning: $1 did not do what $2 did (above): the ratio compares different work" >&2
}

seed
"$BIN/ansible-playbook" -i "$work/hosts.yml" playbooks/plan.yml \
    -e "{\"reconcile_plan_out\": \"$work/plan\", \"reconcile_report_dir\": \"$work/reports-plan\"}" \
    >"$work/plan.log"
floor floor
seed
rollout first
rollout rerun
# On devices the first rollout did not converge the no-op floor would only wait out its deadline.
if ok first; then floor floor-noop --noop; fi
same_work floor first
same_work floor-noop rerun

line() {  # line LABEL [FLOOR]: wall time, ratio to the floor, recap figures per host
    local label="$1" ratio=""
    if [ -z "${ms[$label]:-}" ]; then
        printf '%-10s skipped (the first rollout failed)\n' "$label"
        return
    fi
    if ! ok "$label"; then
        ratio="FAILED"
    elif [ -n "${2:-}" ] && [ -n "${ms[$2]:-}" ] && ok "$2"; then
        ratio=$(awk -v a="${ms[$label]}" -v b="${ms[$2]}" -v f="$2" \
            'BEGIN { printf "%5.1fx %s", a / b, f }')
    fi
    awk -v label="$label" -v secs="${ms[$label]}" -v ratio="$ratio" -v rollout="${2:+1}" '
        /^hailo-fleet-bench/ {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
            hosts++
        }
        END {
            printf "%-10s %6.1f s  %-16s", label, secs / 1000, ratio
            if (rollout && hosts)
                printf "  per host: %.1f tasks run (ok+failed), %.1f changed, %.1f skipped",
                    (v["ok"] + v["failed"]) / hosts, v["changed"] / hosts, v["skipped"] / hosts
            printf "\n"
        }' "$work/$label.log"
}
echo "fleet of $N devices (forks $N)"
line floor
line first floor
line floor-noop
line rerun floor-noop
[ "${#failed[@]}" = 0 ]  # the exit status: 1 when a run failed
