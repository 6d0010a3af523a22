#!/bin/sh
# Build the libFuzzer harnesses with clang, replay their corpus, then fuzz each
# for a bounded time.
#   tests/fuzz/run.sh                 every harness, FUZZ_SECONDS (default 30) each
#   tests/fuzz/run.sh conf-args ...   only those
#   FUZZ_SECONDS=0 tests/fuzz/run.sh  replay the corpus only
# The seed corpus is tests/fuzz/corpus/<harness>/; what a run discovers is kept
# in build-fuzz/corpus/<harness>/ (not in the tree), so later runs go on from
# there. An input that crashes, leaks or hangs a harness is copied into the
# tree's corpus, where every later replay runs it: fix the bug, keep the file.
# Exit status: 0 when nothing failed.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-30}
builddir=$root/build-fuzz
corpus=$root/tests/fuzz/corpus

packaging/deps.sh fuzz

# Optimised as well as sanitized: at -O0 the larger inputs run several
# times slower, and the bounded time finds that much less.
options="-Dfuzz=true -Dtests=false -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false"
# shellcheck disable=SC2086
if [ -f "$builddir/build.ninja" ]; then
        meson configure "$builddir" $options >/dev/null
else
        CC=clang meson setup "$builddir" $options
fi
# Only the harnesses (not the daemons), and the compiler's output only if it fails.
# build.ninja first: a harness added since the last run is not in an old one.
ninja -C "$builddir" build.ninja >/dev/null
targets=$(ninja -C "$builddir" -t targets all | sed -n 's|^\(tests/fuzz/fuzz-[a-z-]*\): .*|\1|p')
# shellcheck disable=SC2086
if ! ninja -C "$builddir" $targets >"$builddir/fuzz-build.log" 2>&1; then
        grep -E 'error|FAILED' -A3 "$builddir/fuzz-build.log" | head -40 >&2
        exit 1
fi

if [ $# -gt 0 ]; then
        harnesses="$*"
else
        harnesses=$(cd "$corpus" && ls)
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
for h in $harnesses; do
        bin=$builddir/tests/fuzz/fuzz-$h
        if [ ! -x "$bin" ]; then
                echo "fuzz: no harness $h (corpus/$h has no fuzz-$h in tests/fuzz/meson.build)" >&2
                status=1
                continue
        fi
        case $h in
        linesplit) max_len=70000 ;;  # past a piece of a long line (64 KiB)
        conf-file) max_len=16384 ;;  # past the 4096-byte line cap
        *) max_len=4096 ;;
        esac

        # Every input in the tree, each run once: a regression fails here.
        log=$builddir/fuzz-$h.log
        if ! "$bin" -runs=1 "$corpus/$h"/* >"$log" 2>&1 </dev/null; then
                echo "fuzz: $h: the corpus no longer passes (see $log):" >&2
                grep -E 'ERROR|SUMMARY|Running:' "$log" | tail -5 >&2
                status=1
                continue
        fi
        echo "fuzz: $h: $(find "$corpus/$h" -type f | wc -l) corpus inputs pass"
        [ "$seconds" -gt 0 ] || continue

        work=$builddir/corpus/$h
        crashes=$builddir/crashes/$h
        mkdir -p "$work" "$crashes"
        rm -f "$crashes"/*
        # close_fd_mask=3: the parsers' own messages would only slow the
        # run down; libFuzzer and the sanitizers still report.
        if "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
                -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$crashes/" \
                "$work" "$corpus/$h" >"$log" 2>&1 </dev/null; then
                echo "fuzz: $h: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs" \
                        "in ${seconds}s, nothing found"
        else
                echo "fuzz: $h: FAILED (see $log):" >&2
                grep -E 'ERROR|SUMMARY' "$log" | head -5 >&2
                for f in "$crashes"/*; do
                        [ -f "$f" ] || continue
                        cp "$f" "$corpus/$h/"
                        echo "fuzz: $h: kept the input as tests/fuzz/corpus/$h/$(basename "$f")" >&2
                done
                status=1
        fi
done
exit $status
