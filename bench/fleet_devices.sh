#!/usr/bin/env bash
# Start or remove local test "devices": systemd containers (localhost/hailo-pi:bookworm), each in
# its own network namespace, for the demo and the fleet benchmark.
#   bench/fleet_devices.sh up [--network NET --authorized-key PUBKEY] NAME...
#                         start the missing ones and wait for systemd; prints the names that
#                         were created (those need seeding). Without --network a device has
#                         only its loopback (--network none); with it, it joins NET (an
#                         internal network the caller made) and, given a key, lets `pi` in by
#                         SSH with it, as a real Pi is reached
#   bench/fleet_devices.sh down NAME...   remove them
# Names must start with hailo-fleet- (other engineers' containers share this machine).
set -euo pipefail
IMAGE="${HAILO_IMAGE:-localhost/hailo-pi:bookworm}"
action="${1:-}"; shift || true
network=none key=""
while [ $# -gt 0 ]; do
    case "$1" in
        --network) network="$2"; shift 2 ;;
        --authorized-key) key="$2"; shift 2 ;;
        *) break ;;
    esac
done
for name in "$@"; do
    case "$name" in hailo-fleet-*) ;; *) echo "refusing to manage $name (not hailo-fleet-*)" >&2; exit 2 ;; esac
done
case "$action" in
    up)
        created=()
        for name in "$@"; do
            if podman container exists "$name"; then
                [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || podman start "$name" >/dev/null
            else
                podman run -d --name "$name" --hostname "$name" --systemd=always --network "$network" \
                    --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add NET_ADMIN "$IMAGE" /sbin/init >/dev/null
                created+=("$name")
            fi
        done
        for name in "$@"; do
            for _ in $(seq 1 60); do
                state="$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)"
                case "$state" in running | degraded) break ;; esac
                sleep 1
            done
            if [ -n "$key" ]; then
                # sshd is off in the image (as on a Pi until SSH is turned on); keys only.
                # Quiet unless it fails (enabling ssh talks about its SysV script).
                if ! out="$(podman exec -i "$name" sh -c 'install -d -m 0700 -o pi -g pi ~pi/.ssh &&
                        install -m 0600 -o pi -g pi /dev/stdin ~pi/.ssh/authorized_keys &&
                        systemctl enable --now ssh' <"$key" 2>&1)"; then
                    printf '%s: SSH not set up:\n%s\n' "$name" "$out" >&2
                    exit 1
                fi
            fi
        done
        printf '%s\n' "${created[@]+"${created[@]}"}"
        ;;
    down)
        for name in "$@"; do
            if podman container exists "$name"; then podman rm -f -t 2 "$name" >/dev/null; fi
        done
        ;;
    *) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
