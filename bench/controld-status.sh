#!/bin/sh
# GET /status throughput and p99 latency: resolvix-controld against a minimal
# Python http.server answering the same JSON, both driven by wrk on loopback
# in one run. Prints each and the ratio. Budget (docs/performance.md): >= 20,000 req/s.
# With --tls, also a second controld with a certificate (made here with
# openssl), and the cost of TLS next to plain: on kept-alive connections (the
# per-request cost) and with a new connection per request (the handshake).
#   bench/controld-status.sh [--seconds N] [--build DIR] [--tls]   (10 s; build/ or RESOLVIX_BUILD_DIR)
set -eu
secs=10
tls=
build=${RESOLVIX_BUILD_DIR:-}
while [ $# -gt 0 ]; do
        case $1 in
        --seconds) secs=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --tls) tls=1; shift ;;
        [0-9]*) secs=$1; shift ;;
        *) echo "usage: $0 [--seconds N] [--build DIR] [--tls]" >&2; exit 2 ;;
        esac
done
# A directory given is taken from where the command was typed, the default in this tree.
if [ -n "$build" ]; then
        [ -d "$build" ] || { echo "no directory $build" >&2; exit 1; }
        build=$(cd "$build" && pwd)
fi
cd "$(dirname "$0")/.."
build=${build:-build}
for p in wrk curl ${tls:+openssl}; do
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

[ -n "$tls" ] || exit 0
# The same controld with a certificate for 127.0.0.1 (EC P-256, as docs/tls.md makes them).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
tport=$(port)
RESOLVIX_CONFIG= RESOLVIX_CONTROL_PORT=$tport RESOLVIX_CONTROL_STATE_DIR=$tmp/state-tls \
        RESOLVIX_CONTROL_TLS_CERT=$tmp/cert.pem RESOLVIX_CONTROL_TLS_KEY=$tmp/key.pem \
        "$build/controld/resolvix-controld" >"$tmp/controld-tls.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$tmp/cert.pem" "https://127.0.0.1:$tport/" && break; sleep 0.05; done

closing() { wrk -t2 -c50 -d"${secs}s" --latency -H "Connection: close" "$1" 2>&1; }
echo
echo "TLS (TLS 1.3, ECDSA P-256), same controld binary, plain beside it:"
keep_plain=$ours
keep_tls=$(run "https://127.0.0.1:$tport/status" | parse)
close_plain=$(closing "http://127.0.0.1:$cport/status" | parse)
close_tls=$(closing "https://127.0.0.1:$tport/status" | parse)
set -- $keep_plain $keep_tls $close_plain $close_tls
printf '%-28s %12s req/s   p99 %-9s  https %12s req/s   p99 %-9s\n' "kept-alive connections" "$1" "$2" "$3" "$4"
printf '%-28s %12s req/s   p99 %-9s  https %12s req/s   p99 %-9s\n' "a connection per request" "$5" "$6" "$7" "$8"
awk -v a="$1" -v b="$3" -v c="$5" -v d="$7" 'BEGIN {
        printf "TLS cost, kept-alive:          %5.1f%% fewer req/s (%.1f us more CPU-bound time per request)\n", 100 * (1 - b / a), 1e6 / b - 1e6 / a;
        printf "TLS cost, new connection each: %5.1f%% fewer req/s (%.0f us more per request: the handshake)\n", 100 * (1 - d / c), 1e6 / d - 1e6 / c }'
