#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for a bounded time.
#
#   ci/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 30 s, every target
#
# Environment: EMBER_FUZZ_BUILD (build dir, default build/fuzz), EMBER_JOBS (build jobs,
# default the number of cores), EMBER_FUZZ_ARGS (extra libFuzzer flags).
#
# The corpus of each target grows in $EMBER_FUZZ_BUILD/corpus/<target> (kept between runs, seeded
# from ember_fuzz_seeds). A crash fails the run: the input is copied to
# $EMBER_FUZZ_BUILD/crashes/<target>/ and the script prints how to reproduce and minimize it.
# Committed regressions live in tests/fuzz-regressions/<target>/ (see FUZZING.md).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
shift || true
build=${EMBER_FUZZ_BUILD:-$src/build/fuzz}
jobs=${EMBER_JOBS:-$(nproc)}
all_targets=(safetensors config_json st_json model_load model_weights gguf gguf_load)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

for tool in clang clang++; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ci/fuzz.sh: $tool not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
done

args=(-S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF -DEMBER_FUZZ=ON -DEMBER_TESTS=OFF
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then args+=(-G Ninja); fi
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$src}
cmake "${args[@]}" -Wno-dev --log-level=WARNING
cmake --build "$build" --parallel "$jobs" --target ember_fuzz_seeds $(printf 'ember_fuzz_%s ' "${targets[@]}")

"$build/native/ember_fuzz_seeds" "$src" "$build/seeds" >/dev/null
# Leaks are checked by the C++ tests under LSan; inside the fuzzer a leak report would only stop
# the run on the allocator's caches. Everything else is fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

summary=()
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  crashes=$build/crashes/$t
  mkdir -p "$corpus" "$crashes"
  log=$build/fuzz-$t.log
  start=$SECONDS
  set +e
  # -rss_limit_mb / -malloc_limit_mb: a model file must not make Ember allocate gigabytes.
  # -timeout: a single input taking 10 s is a hang worth reporting.
  "$build/native/ember_fuzz_$t" "$corpus" "$build/seeds/$t" \
    -dict="$src/native/fuzz/ember.dict" -max_total_time="$seconds" -max_len=65536 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" ${EMBER_FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  summary+=("$(printf '%-12s %10s execs %5ss  cov %-6s corpus %-5s %s' "$t" "${runs:-?}" "$((SECONDS - start))" \
    "${cov:-?}" "$(ls "$corpus" | wc -l)" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (rc $rc)")")")
  if [ $rc -ne 0 ]; then
    status=1
    echo "---- $t failed; last lines of $log:"
    tail -n 60 "$log"
    echo "---- crash inputs in $crashes:"
    ls -l "$crashes"
    echo "reproduce: $build/native/ember_fuzz_$t $crashes/<file>"
    echo "minimize:  $build/native/ember_fuzz_$t -minimize_crash=1 -runs=100000 $crashes/<file>"
    echo "then commit the minimized input as tests/fuzz-regressions/$t/crash-<what> with the fix"
  fi
done
printf '%s\n' "fuzz summary (${seconds}s per target):" "${summary[@]}"
exit $status
