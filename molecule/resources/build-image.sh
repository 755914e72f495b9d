#!/usr/bin/env bash
# Build the test-device image for the molecule scenarios: a minimal Debian bookworm
# (the release Raspberry Pi OS is based on) that boots systemd as PID 1 under podman.
#
#   molecule/resources/build-image.sh            # build unless an image with the same
#                                                # content label exists (packages, revision)
#   molecule/resources/build-image.sh --force    # rebuild (same as HAILO_IMAGE_REBUILD=1)
#
# Options / environment:
#   --force, -f            rebuild even when the image exists       (HAILO_IMAGE_REBUILD=1)
#   --image NAME           image name      (HAILO_IMAGE, default localhost/hailo-pi:bookworm)
#   --mirror URL           Debian mirror   (HAILO_DEBIAN_MIRROR, default: the bookworm mirror
#                          configured in this machine's APT sources; none there is an error)
#
# Needs root, debootstrap and podman. Works from any directory; the temporary root
# filesystem is always removed, also on failure or Ctrl-C.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
SUITE="bookworm"
IMAGE="${HAILO_IMAGE:-localhost/hailo-pi:bookworm}"
MIRROR="${HAILO_DEBIAN_MIRROR:-}"
FORCE=0
case "${HAILO_IMAGE_REBUILD:-0}" in 1 | true | yes) FORCE=1 ;; esac

# Only what the image needs: systemd as init, Python for Ansible and the service stand-ins
# (python3-yaml renders the JSON config copies like the installers do), iproute2 for `ss`
# (testinfra socket checks), procps for ps/pgrep, dbus for systemctl/hostnamectl, sudo and
# openssh-server for devices reached as real Pis are: over SSH as `pi`, becoming root with sudo.
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-yaml,iproute2,procps,sudo,ufw,openssh-server"
# What the image holds, as a label on it: an existing image is only reused when its label
# matches, so changing the package list (or bumping CONTENT_REVISION after changing the
# container tweaks below) rebuilds it.
CONTENT_REVISION=2
CONTENT_LABEL="org.hailo.services.image-content"
CONTENT_ID="$(printf '%s\n' "$SUITE" "$PACKAGES" "$CONTENT_REVISION" | sha256sum | cut -c1-16)"

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { printf '[build-image] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -f | --force) FORCE=1 ;;
        --image) [[ $# -ge 2 ]] || die "--image needs a value"; IMAGE="$2"; shift ;;
        --image=*) IMAGE="${1#*=}" ;;
        --mirror) [[ $# -ge 2 ]] || die "--mirror needs a value"; MIRROR="$2"; shift ;;
        --mirror=*) MIRROR="${1#*=}" ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

# Podman settings of the project (runc, lower ulimits) unless the caller chose others.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$SCRIPT_DIR/containers.conf}"

[[ $EUID -eq 0 ]] || die "run as root (debootstrap needs it)"
command -v podman >/dev/null || die "podman is missing: apt-get install -y podman runc debootstrap"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"

if podman image exists "$IMAGE" && [[ $FORCE -eq 0 ]]; then
    have="$(podman image inspect --format "{{ index .Labels \"$CONTENT_LABEL\" }}" "$IMAGE" \
            2>/dev/null || true)"
    if [[ $have == "$CONTENT_ID" ]]; then
        log "image $IMAGE exists ($CONTENT_LABEL=$CONTENT_ID); nothing to do" \
            "(use --force or HAILO_IMAGE_REBUILD=1 to rebuild)"
        exit 0
    fi
    log "image $IMAGE exists but holds other content (${have:-no $CONTENT_LABEL label}," \
        "want $CONTENT_ID): rebuilding"
fi

# The bookworm mirror this machine already uses: deb822 *.sources files (URIs/Suites) and
# one-line *.list entries ("deb [opts] URI bookworm main ...").
find_mirror() {
    local f
    shopt -s nullglob
    for f in /etc/apt/sources.list.d/*.sources; do
        awk -v suite="$SUITE" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "")
                    { split(uris, u, " "); print u[1]; found = 1; exit }
                types = ""; suites = ""; uris = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:"  { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "uris:"   { $1 = ""; uris = $0 }
            END { if (!found) flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }
        ' "$f"
    done
    shopt -u nullglob
}

if [[ -z $MIRROR ]]; then
    MIRROR="$(find_mirror)"
    MIRROR="${MIRROR%%$'\n'*}"
    MIRROR="${MIRROR//[[:space:]]/}"
    if [[ -n $MIRROR ]]; then
        log "using the Debian mirror configured in APT: $MIRROR"
    else
        # No host is named here: the machine's own APT sources say where Debian comes from.
        die "no $SUITE mirror found in this machine's APT sources (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list|*.sources); add one there, or pass --mirror URL (or HAILO_DEBIAN_MIRROR=URL)"
    fi
fi

WORKDIR="$(mktemp -d /var/tmp/hailo-pi-rootfs.XXXXXX)"
ROOTFS="$WORKDIR/rootfs"
cleanup() {
    local rc=$? mnt
    # debootstrap mounts /proc and /sys inside the root; never delete through a mount.
    if [[ -d $WORKDIR ]]; then
        while read -r mnt; do
            umount -l "$mnt" 2>/dev/null || true
        done < <(awk -v root="$WORKDIR/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
        rm -rf --one-file-system "$WORKDIR"
    fi
    [[ $rc -eq 0 ]] || log "failed (exit $rc); temporary root filesystem removed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$SECONDS
log "debootstrap --variant=minbase $SUITE (packages: $PACKAGES) ..."
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$WORKDIR/debootstrap.log" 2>&1; then
    tail -n 30 "$WORKDIR/debootstrap.log" >&2
    die "debootstrap failed (log above)"
fi
log "debootstrap done in $((SECONDS - start)) s"

# Container tweaks: a fresh machine-id per container, no getty on the (absent) console,
# no udev/hardware units that cannot work without devices, and no package caches.
: >"$ROOTFS/etc/machine-id"
for unit in getty@tty1.service console-getty.service serial-getty@.service \
            systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
            systemd-firstboot.service sys-kernel-config.mount sys-kernel-debug.mount \
            sys-kernel-tracing.mount systemd-remount-fs.service; do
    ln -sfn /dev/null "$ROOTFS/etc/systemd/system/$unit"
done
# The account Raspberry Pi OS devices are reached with: `pi`, in group sudo, with password-less
# sudo (the same drop-in name as on the Pi) and no password at all ('*': only keys log in).
chroot "$ROOTFS" useradd --create-home --shell /bin/bash --groups sudo --password '*' pi
printf 'pi ALL=(ALL) NOPASSWD: ALL\n' >"$ROOTFS/etc/sudoers.d/010_pi-nopasswd"
chmod 0440 "$ROOTFS/etc/sudoers.d/010_pi-nopasswd"
chroot "$ROOTFS" visudo -cf /etc/sudoers.d/010_pi-nopasswd >/dev/null
# sshd: keys only. It stays disabled, as on a Pi until SSH is turned on: the scenarios that
# reach their devices by SSH enable it with their key (molecule/fleet/create.yml,
# bench/fleet_devices.sh); the others, network-less, get no extra listener. Host keys are made
# by each device at its first start, not shared through the image.
cat >"$ROOTFS/etc/ssh/sshd_config.d/10-test-device.conf" <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
CONF
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
mkdir -p "$ROOTFS/etc/systemd/system/ssh.service.d"
cat >"$ROOTFS/etc/systemd/system/ssh.service.d/10-host-keys.conf" <<'CONF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
CONF
systemctl --root="$ROOTFS" --quiet disable ssh.service ssh.socket
rm -rf "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
       "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
mkdir -p "$ROOTFS/var/lib/apt/lists/partial"

old_id="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "importing as $IMAGE ..."
tar --numeric-owner -C "$ROOTFS" -c . |
    podman import --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
        --change "LABEL $CONTENT_LABEL=$CONTENT_ID" \
        --message "hailo-pi test device ($SUITE minbase)" - "$IMAGE" >/dev/null
new_id="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    # The previous build is now untagged; drop it unless a container still uses it.
    if ! rm_out="$(podman image rm "$old_id" 2>&1)"; then
        log "previous image ${old_id:0:12} left in place: ${rm_out##*$'\n'}"
    fi
fi
size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
log "built $IMAGE (${new_id:0:12}, $CONTENT_LABEL=$CONTENT_ID, $((size / 1024 / 1024)) MiB)" \
    "in $((SECONDS - start)) s"
