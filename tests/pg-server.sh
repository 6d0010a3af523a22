#!/bin/sh
# A throwaway PostgreSQL server for tests and benchmarks.
#   tests/pg-server.sh start DIR [--no-fsync]   initdb + pg_ctl start in DIR (created if
#                                               missing, must be empty); prints the URL
#   tests/pg-server.sh stop DIR                 stop it (DIR is left for the caller)
# The server listens on a Unix socket in DIR only (no TCP port), trusts local
# connections, and runs as the calling user, or as "postgres" (else "nobody")
# when called as root, since initdb refuses root (DIR's parents must then be
# searchable by that user). Exit status 77 when the
# server binaries are missing (Debian: apt-get install postgresql).
set -eu

usage() { echo "usage: $0 start|stop DIR [--no-fsync]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
        for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
                [ -x "$d/initdb" ] && { bindir=$d; break; }
        done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
        echo "pg-server: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
        exit 77
fi

as_user() {
        if [ "$(id -u)" -eq 0 ]; then
                runuser -u "$owner" -- "$@"
        else
                "$@"
        fi
}
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
        if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
fi

case "$cmd" in
start)
        fsync=on
        [ "${1:-}" = --no-fsync ] && fsync=off
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd)
        [ -z "$(ls -A "$dir")" ] || { echo "pg-server: $dir is not empty" >&2; exit 1; }
        if [ "$(id -u)" -eq 0 ]; then
                chown "$owner" "$dir"
                runuser -u "$owner" -- test -w "$dir" || {
                        echo "pg-server: user $owner cannot reach $dir: make its parents searchable (chmod a+x)" >&2
                        exit 1
                }
        fi
        as_user "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
                >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
        # listen_addresses='' : no TCP at all, only the socket in $dir.
        as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
                -o "-c listen_addresses='' -k '$dir' -c fsync=$fsync -c max_connections=200" \
                start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
        echo "postgresql://postgres@/postgres?host=$dir"
        ;;
stop)
        dir=$(cd "$dir" && pwd)
        [ -f "$dir/data/postmaster.pid" ] || exit 0
        as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
        ;;
*) usage ;;
esac
