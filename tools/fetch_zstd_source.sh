#!/usr/bin/env bash
# Puts zstd's official single-file source (zstd.c, zstd.h, as the `zstandard` package ships it in
# its sdist's zstd/ folder) into DEST/zstd, for a build with -DZIPSIFT_ZSTD_SOURCE=DEST/zstd.
#
# Why the zstandard sdist: it is on PyPI (reachable with plain pip), it is zstd's own amalgamated
# release source, and a wheel built from it gives zstd sizes byte-identical to that zstandard
# version's (zstd output depends on the zstd version, not on the compiler).
#
# Usage: tools/fetch_zstd_source.sh DEST [ZSTANDARD_VERSION]
#   ZSTANDARD_VERSION defaults to $ZSTANDARD_VERSION, else 0.25.0 (zstd 1.5.7).
#   PYTHON (default python3) is the interpreter whose pip downloads the sdist.
# Prints DEST/zstd. Does nothing when DEST/zstd already holds that version.
set -euo pipefail
dest=${1:?usage: fetch_zstd_source.sh DEST [ZSTANDARD_VERSION]}
version=${2:-${ZSTANDARD_VERSION:-0.25.0}}
python=${PYTHON:-python3}
origin="zstandard $version sdist"

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -f "$dest/zstd/zstd.c" ] && [ "$(cat "$dest/zstd/ORIGIN" 2>/dev/null)" = "$origin" ]; then
  echo "$dest/zstd"
  exit 0
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
# --no-binary :all: makes pip take the sdist, never a wheel; --no-deps: only this one file.
"$python" -m pip download -q --no-binary :all: --no-deps "zstandard==$version" -d "$download" >&2
sdist="$download/zstandard-$version.tar.gz"
[ -f "$sdist" ] || { echo "fetch_zstd_source.sh: pip did not save $sdist" >&2; exit 1; }
tar -xzf "$sdist" -C "$download" "zstandard-$version/zstd"
rm -rf "$dest/zstd"
mv "$download/zstandard-$version/zstd" "$dest/zstd"
echo "$origin" > "$dest/zstd/ORIGIN"
echo "$dest/zstd"
