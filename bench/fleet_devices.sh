#!/usr/bin/env bash
# Start or remove local test "devices": systemd containers (localhost/hailo-pi:bookworm), each in
# its own network namespace (--network none), for the demo and the fleet benchmark.
#   bench/fleet_devices.sh up NAME...     start the missing ones and wait for systemd; prints
#                                         the names that were created (those need seeding)
#   bench/fleet_devices.sh down NAME...   remove them
# Names must start with hailo-fleet- (other engineers' containers share this machine).
set -euo pipefail
IMAGE="${HAILO_IMAGE:-localhost/hailo-pi:bookworm}"
action="${1:-}"; shift || true
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
                podman run -d --name "$name" --hostname "$name" --systemd=always --network none \
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
        done
        printf '%s\n' "${created[@]+"${created[@]}"}"
        ;;
    down)
        for name in "$@"; do
            if podman container exists "$name"; then podman rm -f -t 2 "$name" >/dev/null; fi
        done
        ;;
    *) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
