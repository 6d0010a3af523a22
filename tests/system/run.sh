#!/bin/sh
# The system test: the Debian package under a real systemd, plus the checks of
# the packaging files that need no machine.
#   tests/system/run.sh [BUILDDIR]      BUILDDIR (default build-test) holds the
#                                       build controld, and receives deb/ and system.xml
# Runs tests/system with Debian's pytest within RESOLVIX_SYSTEST_TIMEOUT seconds
# (default 900), and takes the test machine down whatever happens. When the
# machine cannot run it (not root, no systemd-nspawn, no CAP_SYS_ADMIN), pytest
# reports it skipped and prints why.
set -u
cd "$(dirname "$0")/../.." || exit 1
builddir=${1:-build-test}
limit=${RESOLVIX_SYSTEST_TIMEOUT:-900}

export RESOLVIX_BUILD_DIR="${RESOLVIX_BUILD_DIR:-$PWD/$builddir}"
export RESOLVIX_SYSTEST_NAME="resolvix-systest-$$"
export RESOLVIX_SYSTEST_OUT="$PWD/$builddir/deb"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
        if [ "$(id -u)" -eq 0 ]; then
                tests/system/container.sh down "$RESOLVIX_SYSTEST_NAME" || true
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
timeout --kill-after=20 "$limit" /usr/bin/python3 -m pytest tests/system -p no:cacheprovider -q -rfEs \
        --junitxml="$builddir/system.xml"
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        echo "system test: stopped after the limit of ${limit}s" >&2
fi
echo "system test: $(($(date +%s) - start))s"
exit "$status"
