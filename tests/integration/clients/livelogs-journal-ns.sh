#!/bin/bash
# A throwaway systemd-journald for livelogd's journal-mode tests, without
# booting a container: a private mount namespace with tmpfs on /run and on
# /var/log/journal (so nothing the host has, or will have, is read or
# written), and journald started by hand in it. Needs root.
#
#   livelogs-journal-ns.sh run [--no-journald] -- CMD...
#       Run CMD in the namespace (with a journald unless --no-journald) and
#       stop journald when CMD exits. SIGTERM/SIGINT are passed to CMD. The
#       pid of this script is the pid to enter the namespace by.
#   livelogs-journal-ns.sh log PID UNIT TAG PRIORITY
#       Log stdin, one entry per line, into the journal of the namespace PID
#       is in, through systemd-cat running in a cgroup named UNIT (e.g.
#       livelogs-test-1.service) so that journald records _SYSTEMD_UNIT=UNIT.
set -euo pipefail

cgroup_dirs() {
        # cgroup v2, or the hybrid layout (journald reads the unit off
        # name=systemd there): every hierarchy systemd would look at.
        if [ -d /sys/fs/cgroup/unified ]; then
                echo "/sys/fs/cgroup/systemd/system.slice/$1 /sys/fs/cgroup/unified/system.slice/$1"
        else
                echo "/sys/fs/cgroup/system.slice/$1"
        fi
}

case "${1:-}" in
run)
        shift
        exec unshare --mount --propagation private "$0" _inside "$@"
        ;;
_inside)
        shift
        journald=1
        if [ "${1:-}" = --no-journald ]; then journald=0; shift; fi
        [ "${1:-}" = -- ] && shift
        mount -t tmpfs -o mode=0755 tmpfs /run
        mkdir -p /var/log/journal
        mount -t tmpfs -o mode=2755 tmpfs /var/log/journal
        jpid=
        if [ $journald = 1 ]; then
                conf=$(mktemp /run/journald-XXXXXX.conf)
                # No kernel ring buffer (the host's), no rate limit (tests
                # log in bursts), nothing forwarded anywhere.
                printf '[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitIntervalSec=0\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n' >"$conf"
                mount --bind "$conf" /etc/systemd/journald.conf
                mkdir -p /run/systemd/journal
                env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
                jpid=$!
                for _ in $(seq 200); do
                        [ -S /run/systemd/journal/stdout ] && [ -d /run/log/journal ] && break
                        sleep 0.05
                done
                [ -S /run/systemd/journal/stdout ] || { echo "journald did not start" >&2; exit 1; }
        fi
        "$@" &
        cpid=$!
        trap 'kill -TERM $cpid 2>/dev/null || true' TERM INT
        rc=0
        # `wait` returns early when a trapped signal arrives: wait again.
        while kill -0 $cpid 2>/dev/null; do
                wait $cpid && rc=0 || rc=$?
        done
        if [ -n "$jpid" ]; then
                kill -TERM $jpid 2>/dev/null || true
                wait $jpid 2>/dev/null || true
        fi
        exit $rc
        ;;
log)
        pid=$2 unit=$3 tag=$4 prio=$5
        dirs=$(cgroup_dirs "$unit")
        rc=0
        # journald reads the sender's cgroup when it gets to the stream, so
        # systemd-cat stays alive (its stdin open) until the entries are in.
        nsenter -t "$pid" -m -- bash -c '
                for d in '"$dirs"'; do mkdir -p "$d" && echo $$ >"$d/cgroup.procs"; done
                entries() { journalctl -q -t "$1" -o json | wc -l; }
                input=$(cat)
                want=$(( $(entries "$1") + $(printf "%s\n" "$input" | wc -l) ))
                { printf "%s\n" "$input"
                  for _ in $(seq 400); do [ "$(entries "$1")" -ge $want ] && break; sleep 0.05; done
                } | systemd-cat -t "$1" -p "$2"' _ "$tag" "$prio" || rc=$?
        for d in $dirs; do rmdir "$d" 2>/dev/null || true; done
        exit $rc
        ;;
*)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
        exit 2
        ;;
esac
