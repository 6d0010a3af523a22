#!/bin/sh
# Install the Node clients the tests and benchmarks drive (ws, playwright-core,
# pinned by tests/package-lock.json) into tests/node_modules, when they are
# missing or the lock file changed since. Does nothing when they are current.
set -eu
cd "$(dirname "$0")"
[ -d node_modules ] && cmp -s package-lock.json node_modules/.resolvix-lock && exit 0
command -v npm >/dev/null 2>&1 || { echo "npm is missing: run packaging/deps.sh test" >&2; exit 1; }
npm ci --no-audit --no-fund
# npm keeps no verbatim copy of the lock file it installed from: keep one.
cp package-lock.json node_modules/.resolvix-lock
