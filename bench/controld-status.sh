#!/bin/sh
# GET /status throughput and p99 latency: resolvix-controld against a minimal
# Python http.server answering the same JSON, both driven by wrk on loopback
# in one run. Prints each and the ratio. Budget (docs/performance.md): >= 20,000 req/s.
#   bench/controld-status.sh [--seconds N] [--build DIR]   (10 s; build/ or RESOLVIX_BUILD_DIR)
set -eu
secs=10
build=${RESOLVIX_BUILD_DIR:-}
while [ $# -gt 0 ]; do
        case $1 in
        --seconds) secs=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        [0-9]*) secs=$1; shift ;;
        *) echo "usage: $0 [--seconds N] [--build DIR]" >&2; exit 2 ;;
        esac
done
# A directory given is taken from where the command was typed, the default in this tree.
if [ -n "$build" ]; then
        [ -d "$build" ] || { echo "no directory $build" >&2; exit 1; }
        build=$(cd "$build" && pwd)
fi
cd "$(dirname "$0")/.."
build=${build:-build}
for p in wrk curl; do
        command -v $p >/dev/null || { echo "$p is missing: install it with packaging/deps.sh test" >&2; exit 1; }
done
[ -f "$build/build.ninja" ] || { echo "no build in $build: run packaging/run-from-source.sh (or meson setup $build)" >&2; exit 1; }
# A figure from a stale binary would mislead: bring it up to date first.
out=$(ninja -C "$build" controld/resolvix-controld 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }

tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

cport=$(port)
RESOLVIX_CONFIG= RESOLVIX_CONTROL_PORT=$cport RESOLVIX_CONTROL_STATE_DIR=$tmp/state \
        "$build/controld/resolvix-controld" >"$tmp/controld.log" 2>&1 &
pids="$pids $!"
wait_port "$cport"
curl -s "http://127.0.0.1:$cport/status" >"$tmp/status.json"

pport=$(port)
/usr/bin/python3 - "$pport" "$tmp/status.json" <<'PY' >"$tmp/python.log" 2>&1 &
import http.server, sys
body = open(sys.argv[2], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids="$pids $!"
wait_port "$pport"

run() { wrk -t2 -c50 -d"${secs}s" --latency "$1" 2>&1; }
parse() { awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }

echo "wrk -t2 -c50 -d${secs}s --latency, GET /status, same body ($(wc -c <"$tmp/status.json") bytes)"
ours=$(run "http://127.0.0.1:$cport/status" | parse)
theirs=$(run "http://127.0.0.1:$pport/status" | parse)
set -- $ours $theirs
printf '%-28s %12s req/s   p99 %s\n' "resolvix-controld" "$1" "$2"
printf '%-28s %12s req/s   p99 %s\n' "python http.server" "$3" "$4"
awk -v a="$1" -v b="$3" 'BEGIN { printf "ratio (resolvix / python)    %12.1fx\n", a / b;
        printf "budget >= 20000 req/s:       %s\n", (a >= 20000) ? "met" : "NOT met" }'
