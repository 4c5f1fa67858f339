#!/usr/bin/env bash
# The native half of the Maven build (java/pom.xml runs it), usable by hand too:
#
#   native/build.sh libs  BUILD_DIR ON|OFF   configure + build lib/cpu (and with ON lib/gpu) libember.so
#   native/build.sh test  BUILD_DIR ON|OFF   configure + build everything, then run ctest
#
# ON|OFF is EMBER_CUDA. Release build, Ninja when installed (the generator of an existing build
# directory is kept), ccache when installed (picked up by CMakeLists.txt). Parallel jobs:
# EMBER_JOBS, default the number of cores.
set -euo pipefail

if [ $# -ne 3 ] || { [ "$1" != libs ] && [ "$1" != test ]; }; then
  echo "usage: $0 libs|test BUILD_DIR ON|OFF" >&2
  exit 2
fi
mode=$1 build_dir=$2 cuda=$3
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${EMBER_JOBS:-$(nproc)}

args=(-S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA="$cuda")
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then
  args+=(-G Ninja)
fi
# The Maven profile that turns CUDA on looks for /usr/local/cuda/bin/nvcc: build with that one.
if [ "$cuda" = ON ] && [ -z "${CUDACXX:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
# ccache: paths relative to the checkout, so clones in other folders (CI) share cache entries.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$src}
cmake "${args[@]}" -Wno-dev --log-level=WARNING

if [ "$mode" = libs ]; then
  targets=(--target ember)
  [ "$cuda" = ON ] && targets+=(ember_gpu)
  cmake --build "$build_dir" --parallel "$jobs" "${targets[@]}"
else
  cmake --build "$build_dir" --parallel "$jobs"
  ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "$jobs"
fi
