#!/bin/sh
# Set up and run the whole test suite.
#   tests/run-all.sh             build with -Dwerror=true into build-test/ and run
#                                unit tests (criterion) and integration tests (pytest,
#                                real binaries on loopback, real clients)
#                                and the system test (tests/system/run.sh: the Debian
#                                package under a real systemd, when the machine allows)
#   tests/run-all.sh --sanitize  the same in build-asan/ under ASan+UBSan, without the
#                                system test
# Installs what it needs first (Debian packages, the Node clients from tests/package-lock.json).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

builddir=build-test
setup_args="-Dwerror=true"
sanitize=
if [ "${1:-}" = "--sanitize" ]; then
        sanitize=1
        builddir=build-asan
        setup_args="-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug"
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
fi

packaging/deps.sh test
tests/node-clients.sh

# shellcheck disable=SC2086
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" $setup_args
ninja -C "$builddir"

status=0
# Only the unit suite here: meson would run the integration suite one test per
# file, and the count below wants every pytest test case, so pytest runs the
# integration suite itself, once, writing each case to integration.xml.
meson test -C "$builddir" --suite unit --print-errorlogs || status=1

export RESOLVIX_BUILD_DIR="$root/$builddir"
# Debian's python3, which has python3-websockets: not whatever python3 is first on PATH.
/usr/bin/python3 -m pytest tests/integration -p no:cacheprovider -q -rfE \
        --junitxml="$builddir/integration.xml" || status=1

# The Debian package installed and driven under a real systemd (and the
# packaging files); when this machine cannot boot one, it says why.
if [ -z "$sanitize" ]; then
        tests/system/run.sh "$builddir" || status=1
else
        echo "system test: runs in the plain pass only (it tests the Debian package, built without sanitizers)"
fi

/usr/bin/python3 - "$builddir" <<'PY'
import json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
passed = failed = skipped = 0
for line in open(f"{d}/meson-logs/testlog.json"):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
for xml in ["integration.xml"] + ([] if "asan" in d else ["system.xml"]):
    try:
        for s in ET.parse(f"{d}/{xml}").getroot().iter("testsuite"):
            n, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
            passed += n - f - e - k; failed += f + e; skipped += k
    except (OSError, ET.ParseError):
        failed += 1
print(f"{'asan' if 'asan' in d else 'tests'}: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
