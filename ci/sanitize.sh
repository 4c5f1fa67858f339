#!/usr/bin/env bash
# Builds the native library and its C++ tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc, EMBER_SANITIZE=ON) in its own build directory and runs them; LeakSanitizer checks for
# leaks at exit. Any report fails the run.
#
#   ci/sanitize.sh            build dir: $EMBER_ASAN_BUILD (default build/asan)
#
# The tests take the same shapes as the normal build; EMBER_LEAK_CYCLES (default 10000) sets the
# load / embed / free loop of test_hardening.cpp.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${EMBER_ASAN_BUILD:-$src/build/asan}
jobs=${EMBER_JOBS:-$(nproc)}

args=(-S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF -DEMBER_SANITIZE=ON -DEMBER_TESTS=ON)
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then args+=(-G Ninja); fi
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$src}
cmake "${args[@]}" -Wno-dev --log-level=WARNING
cmake --build "$build" --parallel "$jobs" --target ember_tests

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}
ctest --test-dir "$build" --output-on-failure --no-tests=error
