#!/bin/sh
# Install the Debian packages resolvix needs, and only those that are missing.
#   packaging/deps.sh build   what building and running from the source tree needs
#   packaging/deps.sh test    that, plus what the test suite and benchmarks drive
#   packaging/deps.sh fuzz    build, plus clang and libFuzzer for tests/fuzz/run.sh
# Idempotent: prints what it installs, installs nothing when all is there.
set -eu

build="meson ninja-build pkg-config gcc libc6-dev libmicrohttpd-dev libwebsockets-dev
libcjson-dev libsystemd-dev libinih-dev libcurl4-openssl-dev libjs-chart.js
libsqlite3-dev libzstd-dev libpq-dev libcrypt-dev zlib1g-dev libssl-dev libgnutls28-dev libmbedtls-dev
libprotobuf-c-dev protobuf-c-compiler libsnappy-dev libev-dev libwebsockets-evlib-ev"
test="$build libcriterion-dev python3 python3-pytest python3-websockets python3-psutil python3-yaml
curl wrk procps iproute2 util-linux valgrind prometheus-node-exporter prometheus chromium
systemd systemd-container dpkg-dev build-essential debhelper lintian groff-base man-db
postgresql python3-psycopg python3-requests python3-websocket python3-flask sqlite3 openssl
victoria-metrics"
fuzz="$build clang libclang-rt-14-dev"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
fuzz) want=$fuzz ;;
*) echo "usage: $0 build|test|fuzz" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere than Debian; only a missing node or npm asks for Debian's.
if [ "${1:-build}" = test ]; then
        command -v node >/dev/null 2>&1 || missing="$missing nodejs"
        command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

if [ -z "$missing" ]; then
        echo "deps: all Debian packages present"
        exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
        sudo=sudo
        command -v sudo >/dev/null 2>&1 || { echo "deps: not root and no sudo; install as root:$missing" >&2; exit 1; }
else
        sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
