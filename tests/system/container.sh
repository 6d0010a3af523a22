#!/bin/bash
# A throwaway systemd machine for the system test: systemd as PID 1, with its
# journald, booted by systemd-nspawn over a read-only view of the host's root
# file system with a tmpfs overlay on top (--volatile=overlay), so that
# whatever the test installs or breaks vanishes with it.
#
#   container.sh up NAME [NSPAWN-ARGS...]   boot; returns once the system runs
#   container.sh run NAME COMMAND...        run COMMAND inside, in every namespace
#                                           of the machine, with a clean environment
#   container.sh down NAME                  power off, kill what is left (by PID),
#                                           unmount, remove cgroups; idempotent
#
# State (PIDs, the root mount point, the console log) lives in
# $RESOLVIX_CT_STATE/NAME (default /run/resolvix-container/NAME). Needs root.
# The test passes --private-network: the machine then has a loopback of its
# own, so its ports clash with nothing on the host and nothing leaves it.
set -euo pipefail

state_root=${RESOLVIX_CT_STATE:-/run/resolvix-container}
boot_timeout=${RESOLVIX_CT_BOOT_TIMEOUT:-60}

usage() {
        sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//' >&2
        exit 2
}

[ $# -ge 2 ] || usage
action=$1 name=$2
shift 2
case $name in
*[!A-Za-z0-9_-]* | "") echo "container.sh: bad machine name '$name'" >&2; exit 2 ;;
esac
dir=$state_root/$name

# The cgroup hierarchies nspawn uses: cgroup2 alone, or (hybrid) the named
# systemd v1 hierarchy plus cgroup2 under unified/.
cgroup_dirs() {
        if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
                echo "/sys/fs/cgroup/resolvix-ct-$name"
        else
                echo "/sys/fs/cgroup/systemd/resolvix-ct-$name"
                [ -d /sys/fs/cgroup/unified ] && echo "/sys/fs/cgroup/unified/resolvix-ct-$name"
        fi
        return 0
}

leader() {
        cat "$dir/leader.pid"
}

up() {
        local cg nspawn_pid pid l s

        if [ -e "$dir" ]; then
                echo "container.sh: $name exists already ($dir); take it down first" >&2
                exit 1
        fi
        mkdir -p "$dir/root"
        # A read-only bind of / (without the file systems mounted below it):
        # nspawn lays its tmpfs overlay over this and mounts /proc, /sys, /dev,
        # /run itself.
        mount --bind / "$dir/root"
        mount --make-private "$dir/root"
        mount -o remount,bind,ro "$dir/root"

        # nspawn with --keep-unit puts the machine's processes in sub-cgroups of
        # the cgroup it runs in: give it one of its own, so that two machines
        # never share one and down finds every process in it.
        for cg in $(cgroup_dirs); do
                mkdir -p "$cg"
        done

        # The launcher joins those cgroups, then becomes nspawn (same PID).
        # shellcheck disable=SC2016 # $$ and "$@" are the launcher's own
        setsid bash -c '
                for cg in '"$(cgroup_dirs | tr '\n' ' ')"'; do echo $$ >"$cg/cgroup.procs"; done
                exec systemd-nspawn --quiet --directory="$0" --machine="$1" \
                        --register=no --keep-unit --volatile=overlay \
                        --console=passive "${@:2}" \
                        --boot -- --unit=basic.target
        ' "$dir/root" "$name" "$@" </dev/null >"$dir/console.log" 2>&1 &
        nspawn_pid=$!
        echo "$nspawn_pid" >"$dir/nspawn.pid"

        # The machine's PID 1, as the host sees it: nspawn's child running systemd.
        l=
        for _ in $(seq 200); do
                for pid in $(pgrep -P "$nspawn_pid" || true); do
                        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && l=$pid
                done
                [ -n "$l" ] && break
                kill -0 "$nspawn_pid" 2>/dev/null || break
                sleep 0.05
        done
        if [ -z "$l" ]; then
                echo "container.sh: systemd-nspawn did not start a systemd:" >&2
                cat "$dir/console.log" >&2
                exit 1
        fi
        echo "$l" >"$dir/leader.pid"

        # Wait for the boot to finish; "degraded" (a host unit that fails in a
        # container) still boots what the test needs.
        s=
        for _ in $(seq $((boot_timeout * 10))); do
                s=$(nsenter --target "$l" --all systemctl is-system-running 2>/dev/null || true)
                case $s in
                running | degraded) return 0 ;;
                esac
                alive "$nspawn_pid" || break
                sleep 0.1
        done
        echo "container.sh: $name did not boot within ${boot_timeout}s (state: ${s:-none}):" >&2
        cat "$dir/console.log" >&2
        exit 1
}

run() {
        [ -f "$dir/leader.pid" ] || { echo "container.sh: $name is not up" >&2; exit 1; }
        exec nsenter --target "$(leader)" --all \
                env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

alive() {
        [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# A recorded PID is killed only while it is still in this machine's cgroup:
# once the machine is gone, the number may belong to someone else.
ours() {
        alive "$1" && grep -q "/resolvix-ct-$name\(/\|$\)" "/proc/$1/cgroup" 2>/dev/null
}

down() {
        local nspawn_pid="" l="" cg pid pids

        [ -d "$dir" ] || return 0
        [ -f "$dir/nspawn.pid" ] && nspawn_pid=$(cat "$dir/nspawn.pid")
        [ -f "$dir/leader.pid" ] && l=$(leader)

        # SIGTERM makes nspawn ask the machine to power off.
        if ours "$nspawn_pid"; then
                kill -TERM "$nspawn_pid" 2>/dev/null || true
                for _ in $(seq 100); do
                        ours "$nspawn_pid" || break
                        sleep 0.1
                done
        fi
        # Too slow: PID 1 takes every process of the machine with it.
        if ours "$l"; then kill -KILL "$l" 2>/dev/null || true; fi
        if ours "$nspawn_pid"; then kill -KILL "$nspawn_pid" 2>/dev/null || true; fi
        # Anything still in the machine's cgroups was started by it.
        for cg in $(cgroup_dirs); do
                [ -d "$cg" ] || continue
                for _ in $(seq 50); do
                        pids=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null || true)
                        [ -z "$pids" ] && break
                        for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
                        sleep 0.1
                done
                find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
        done
        if mountpoint -q "$dir/root"; then
                umount "$dir/root" 2>/dev/null || umount --lazy "$dir/root"
        fi
        rm -rf "$dir"
}

case $action in
up) up "$@" ;;
run) run "$@" ;;
down) down ;;
*) usage ;;
esac
