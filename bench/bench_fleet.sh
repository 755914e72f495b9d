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
#      then one discovery module per device and nothing else (bench/module_noop.yml, timed):
#      the least any design that discovers with a module can cost, as a ratio to that floor;
#   5. check that the floor did what the rollouts did (their fleet reports), then print each
#      run's wall time, its ratio to its floor and the tasks run per host (from the play recap).
# The devices are removed at the end (KEEP=1 keeps them); the logs and reports are kept in
# /tmp/hailo-fleet-bench.* when something failed.
#
# CONNECTION=ssh (the default) reaches the devices as real Pis are reached: over SSH as `pi`,
# becoming root with sudo, on an internal podman network made for the run (removed at the end,
# with the SSH masters the run started) with a key made for the run. CONNECTION=podman uses
# the podman connection (podman exec, as root; the devices have no network).
# RUNS=3 repeats the whole measurement (fresh devices each time) and prints the median of
# each timing. ANSIBLE_PIPELINING=1 in the environment turns pipelining on (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-${1:-10}}"
BIN="${BIN:-.venv/bin}"
CONNECTION="${CONNECTION:-ssh}"
RUNS="${RUNS:-1}"
# One batch by default, like the floor (all devices at once); SERIAL='[1, "25%", "100%"]'
# measures the canary batches (any JSON value reconcile_serial takes).
SERIAL="${SERIAL:-\"100%\"}"
case "$CONNECTION" in ssh | podman) ;; *) echo "CONNECTION must be ssh or podman" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "RUNS must be a positive number" >&2; exit 2 ;; esac
NETWORK=hailo-fleet-bench-net
work="$(mktemp -d /tmp/hailo-fleet-bench.XXXXXX)"
names=()
for i in $(seq 1 "$N"); do names+=("hailo-fleet-bench-pi$i"); done
failed=()
up_args=()
if [ "$CONNECTION" = ssh ]; then
    mkdir -m 0700 "$work/ssh" "$work/cp"
    ssh-keygen -q -t ed25519 -N "" -C hailo-fleet-bench -f "$work/ssh/id_ed25519"
    up_args=(--network "$NETWORK" --authorized-key "$work/ssh/id_ed25519.pub")
fi
end_masters() {  # the ControlPersist masters of the run's SSH connections
    local socket
    for socket in "$work"/cp/*; do
        if [ -S "$socket" ]; then ssh -o ControlPath="$socket" -O exit hailo-device 2>/dev/null || true; fi
    done
}
cleanup() {
    local rc=$?
    end_masters
    if [ "${KEEP:-0}" != 1 ]; then
        bench/fleet_devices.sh down "${names[@]}"
        if [ "$CONNECTION" = ssh ] && podman network exists "$NETWORK"; then
            podman network rm "$NETWORK" >/dev/null
        fi
    fi
    if [ "$rc" != 0 ] || [ "${KEEP:-0}" = 1 ]; then
        echo "logs and reports kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
if [ "$CONNECTION" = ssh ] && ! podman network exists "$NETWORK"; then
    podman network create --internal "$NETWORK" >/dev/null
fi

inventory() {  # the devices as they are now (over SSH: their addresses change with each start)
    local name
    echo "all:"
    echo "  children:"
    echo "    hailo_devices:"
    echo "      vars:"
    if [ "$CONNECTION" = ssh ]; then
        echo "        ansible_connection: ssh"
        echo "        ansible_user: pi"
        echo "        ansible_become: true"
        echo "        ansible_ssh_private_key_file: $work/ssh/id_ed25519"
        # Throwaway devices with new host keys on every start: nothing to remember them by.
        echo "        ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR"
        echo "        ansible_control_path_dir: $work/cp"
    else
        echo "        ansible_connection: containers.podman.podman"
    fi
    echo "        ansible_python_interpreter: /usr/bin/python3"
    echo "        seed_services_skip: [hailo-standby-test]"
    echo "      hosts:"
    for name in "${names[@]}"; do
        if [ "$CONNECTION" = ssh ]; then
            echo "        $name: {ansible_host: $(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")}"
        else
            echo "        $name: {}"
        fi
    done
}

export ANSIBLE_FORKS="$N"
seed() {  # fresh devices in the seeded state
    end_masters  # their devices are about to go
    bench/fleet_devices.sh down "${names[@]}"
    bench/fleet_devices.sh up "${up_args[@]}" "${names[@]}" >/dev/null
    inventory >"$work/hosts.yml"
    "$BIN/ansible-playbook" -i "$work/hosts.yml" molecule/resources/prepare.yml >>"$work/seed.log"
}

declare -A ms  # LABEL -> the wall time of each run, in ms
run=1
timed() {  # timed LABEL PLAYBOOK ARGS...: run it, add its wall time to ms[LABEL]
    local label="$1" start end
    shift
    start=$(date +%s%N)
    if ! "$BIN/ansible-playbook" -i "$work/hosts.yml" "$@" >"$work/$label.$run.log"; then
        echo "$label failed; the end of $work/$label.$run.log:" >&2
        tail -n 30 "$work/$label.$run.log" >&2
        failed+=("$label")
    fi
    end=$(date +%s%N)
    ms[$label]="${ms[$label]:-} $(( (end - start) / 1000000 ))"
}
rollout() {  # rollout LABEL
    timed "$1" playbooks/reconcile.yml -e "{\"reconcile_report_dir\": \"$work/reports-$1.$run\", \"reconcile_serial\": $SERIAL}"
}
floor() {  # floor LABEL [--noop]
    "$BIN/python" bench/floor_rollout.py args "$work/plan.json" roles/reconcile/defaults/main.yml \
        "${@:2}" >"$work/$1-args.json"
    timed "$1" bench/floor.yml -e "{\"floor_args_file\": \"$work/$1-args.json\"}"
}
ok() { [[ " ${failed[*]} " != *" $1 "* ]]; }
same_work() {  # same_work FLOOR ROLLOUT: the floor did the rollout's moves, restarts, probes
    local report="$work/reports-$2.$run/fleet-rollout.json"
    ok "$1" && ok "$2" && [ -f "$report" ] || return 0
    "$BIN/python" bench/floor_rollout.py check "$work/$1-args.json" "$report" ||
        echo "warning: $1 did not do what $2 did (above): the ratio compares different work" >&2
}

for run in $(seq 1 "$RUNS"); do
    seed
    if [ "$run" = 1 ]; then  # the same seeded state every run: one plan
        "$BIN/ansible-playbook" -i "$work/hosts.yml" playbooks/plan.yml \
            -e "{\"reconcile_plan_out\": \"$work/plan\", \"reconcile_report_dir\": \"$work/reports-plan\"}" \
            >"$work/plan.log"
    fi
    floor floor
    seed
    rollout first
    rollout rerun
    # On devices the first rollout did not converge the no-op floor would only wait out its
    # deadline.
    if ok first; then
        floor floor-noop --noop
        timed module-noop bench/module_noop.yml
    fi
    same_work floor first
    same_work floor-noop rerun
done

median() {  # median MS...
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
line() {  # line LABEL [FLOOR]: wall time (median), ratio to the floor, recap figures per host
    local label="$1" ratio="" runs="" secs floor_ms
    if [ -z "${ms[$label]:-}" ]; then
        printf '%-11s skipped (the first rollout failed)\n' "$label"
        return
    fi
    # shellcheck disable=SC2086  # the list of run times, one word each
    secs=$(median ${ms[$label]})
    if ! ok "$label"; then
        ratio="FAILED"
    elif [ -n "${2:-}" ] && [ -n "${ms[$2]:-}" ] && ok "$2"; then
        # shellcheck disable=SC2086
        floor_ms=$(median ${ms[$2]})
        ratio=$(awk -v a="$secs" -v b="$floor_ms" -v f="$2" 'BEGIN { printf "%5.1fx %s", a / b, f }')
    fi
    # The recap figures of every run's log, per host.
    if [ "$RUNS" -gt 1 ]; then
        # shellcheck disable=SC2086
        runs=$(printf '%s\n' ${ms[$label]} | awk '{ printf " %.1f", $1 / 1000 }')
    fi
    awk -v label="$label" -v secs="$secs" -v ratio="$ratio" -v rollout="${2:+1}" -v runs="$runs" '
        /^hailo-fleet-bench/ {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
            hosts++
        }
        END {
            printf "%-11s %6.1f s  %-16s", label, secs / 1000, ratio
            if (rollout && hosts)
                printf "  per host: %.1f tasks run (ok+failed), %.1f changed, %.1f skipped",
                    (v["ok"] + v["failed"]) / hosts, v["changed"] / hosts, v["skipped"] / hosts
            if (runs != "")
                printf "  runs:%s s", runs
            printf "\n"
        }' "$work/$label".*.log
}
pipelining="${ANSIBLE_PIPELINING:-off}"
[ "$CONNECTION" = ssh ] || pipelining="n/a"
printf 'fleet of %s devices (forks %s), connection %s, pipelining %s' "$N" "$N" "$CONNECTION" "$pipelining"
if [ "$RUNS" -gt 1 ]; then printf ', medians of %s runs' "$RUNS"; fi
printf '\n'
line floor
line first floor
line floor-noop
line rerun floor-noop
line module-noop floor-noop
[ "${#failed[@]}" = 0 ]  # the exit status: 1 when a run failed
