#!/bin/bash
# Build the Debian package from this source tree.
#   packaging/build-deb.sh [OUTDIR]      default OUTDIR: build-deb/
# Copies the tracked files (with their uncommitted edits) to OUTDIR/resolvix-VERSION,
# puts packaging/debian there as debian/, runs `dpkg-buildpackage -us -uc -b` and
# then lintian. The .deb, .buildinfo and .changes land in OUTDIR; lintian's
# report in OUTDIR/lintian.txt. Exits 3 when the package is built but lintian
# reports an error, non-zero otherwise when the build fails. Honours
# DEB_BUILD_OPTIONS (e.g. nocheck, parallel=N).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$src/build-deb}")

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
# One version for the package and the programs: a mismatch would ship a
# binary that reports another version than its package.
meson_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -n1)
if [ "${version%%-*}" != "$meson_version" ]; then
        echo "build-deb: debian/changelog says $version, meson.build says $meson_version" >&2
        exit 1
fi

tree=$out/resolvix-$version
rm -rf "$out"
mkdir -p "$tree"
cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
                [ -e "$f" ] || continue  # deleted in the work tree, not yet committed
                cp -a --parents -- "$f" "$tree/"
        done
else
        tar -C "$src" --exclude='./build*' --exclude=node_modules --exclude=.git -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a packaging/debian "$tree/debian"

cd "$tree"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}"
dpkg-buildpackage -us -uc -b

cd "$out"
changes=$(ls resolvix_"$version"_*.changes)
# lintian's exit status also counts warnings: judge by its tags instead.
lintian --info --display-level ">=info" "$changes" >lintian.txt 2>&1 || true
cat lintian.txt
ls -1 "$out"/*.deb
if grep -q '^E: ' lintian.txt; then
        echo "build-deb: lintian reports errors" >&2
        exit 3
fi
