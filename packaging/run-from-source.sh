#!/bin/sh
# Set up and run resolvix from this source tree, in the foreground.
#   packaging/run-from-source.sh [controld options, e.g. --verbose, --config FILE]
# Installs the missing Debian build packages, builds into build/ (or
# $RESOLVIX_BUILD_DIR), and runs resolvix-controld with its workers from the
# build tree. Ctrl-C stops all.
set -eu
cd "$(dirname "$0")/.."
builddir=${RESOLVIX_BUILD_DIR:-build}

packaging/deps.sh build
# The unit tests need criterion, which only the test set-up installs
# (tests/run-all.sh builds them in build-test/).
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dtests=false
ninja -C "$builddir"

# No config file is needed: built-in defaults apply, /etc/resolvix/resolvix.conf
# is read if present, RESOLVIX_<SECTION>_<KEY> variables override either.
# As a user, state lives in ~/.local/state/resolvix; as root, /var/lib/resolvix.
# The addresses below are the ones in effect: controld's --check prints them
# (and stops here, with its message, when the configuration is wrong).
controld="$builddir/controld/resolvix-controld"
for arg; do
        case $arg in
        -h | --help | --version | --check) exec "$controld" "$@" ;;
        esac
done
effective=$("$controld" --check "$@")
value() { # SECTION KEY
        printf '%s\n' "$effective" | awk -v s="[$1]" -v k="$2" '
                /^\[/ { in_s = ($0 == s); next }
                in_s && $1 == k { sub(/^[^=]*= ?/, ""); print; exit }'
}
# A wildcard listen address is reached on this machine's loopback.
host() {
        case $1 in
        '' | 0.0.0.0) echo 127.0.0.1 ;;
        ::) echo '[::1]' ;;
        *:*) echo "[$1]" ;;
        *) echo "$1" ;;
        esac
}
control="$(host "$(value control listen)"):$(value control port)"
telemetry="$(host "$(value telemetry listen)"):$(value telemetry port)"
livelogs="$(host "$(value livelogs listen)"):$(value livelogs port)"
auth=""
[ -z "$(value control token)" ] || auth=' -H "Authorization: Bearer $TOKEN"'

cat <<MSG

resolvix is starting. In another terminal:
  curl -X POST http://$control/control$auth -H "Content-Type: application/json" -d '{"command": "start_telemetry"}'
  curl$auth http://$control/status
  python3 -m websockets ws://$telemetry        # live samples
  python3 -m websockets ws://$livelogs        # the live log
MSG
if [ "$(value telemetry ingest_port)" != 0 ]; then
        echo "  printf 'put m 1 1700000000\\\\nget m\\\\n' | nc -N $(host "$(value telemetry ingest_listen)") $(value telemetry ingest_port)        # custom metrics"
fi
cat <<MSG
Dashboard: http://$control/
Ctrl-C stops resolvix and its workers.

MSG
exec "$controld" "$@"
