#!/bin/sh
# Set up and run resolvix from this source tree, in the foreground.
#   packaging/run-from-source.sh [controld options, e.g. --verbose]
# Installs the missing Debian build packages, builds into build/, and runs
# resolvix-controld with its workers from the build tree. Ctrl-C stops all.
set -eu
cd "$(dirname "$0")/.."

packaging/deps.sh build
# The unit tests need criterion, which only the test set-up installs
# (tests/run-all.sh builds them in build-test/).
[ -f build/build.ninja ] || meson setup build -Dtests=false
ninja -C build

# No config file is needed: built-in defaults apply, /etc/resolvix/resolvix.conf
# is read if present, RESOLVIX_<SECTION>_<KEY> variables override either.
# As a user, state lives in ~/.local/state/resolvix; as root, /var/lib/resolvix.
cat <<MSG

resolvix is starting. In another terminal:
  curl -X POST http://localhost:8754/control -H "Content-Type: application/json" -d '{"command": "start_telemetry"}'
  curl http://localhost:8754/status
  python3 -m websockets ws://localhost:8756        # live samples
Ctrl-C stops resolvix and its workers.

MSG
exec build/controld/resolvix-controld "$@"
