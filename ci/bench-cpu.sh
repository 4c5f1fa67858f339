#!/usr/bin/env bash
# The CPU speed benchmark of issue 4 (a benchmark, not a test; run it on a quiet machine):
#  1. end-to-end tokens/s embedding one sequence of ~128, ~512 and ~2048 tokens on a synthetic
#     Qwen3-0.6B-shaped GGUF file, Ember (ember_gguf embed: the native embed call the Java API
#     makes) against llama.cpp (node-llama-cpp 3.22.1's prebuilt CPU build) on the same file in
#     the same run, each engine in its own process, alternating per row; median of REPEAT timed
#     runs after one warm-up;
#  2. GFLOP/s of the quantized matmul (ember_bench_qmatmul: one decoder layer's projections) and
#     of the float matmul and attention kernels (ember_bench_kernels), 1 and 2 threads.
#
#   ci/bench-cpu.sh [BUILD_DIR]      (default build/cmake, the Maven build's CMake folder)
#
# Environment: TYPES (default "q8_0 f16"; bf16 f32 q4_k q6_k q4_0 also work), LENGTHS
# ("128 512 2048"), THREADS (2), REPEAT (3), KERNELS (1: run part 2), EMBER_BENCH_DIR (where the
# model files are kept between runs, default /tmp/ember-bench: a 1.2 GB BF16 folder plus one file
# per type). The first run writes the files (about 2 minutes); the default run then takes about
# 10 minutes on 2 cores. Random token ids stand in for text (the files carry a stand-in
# vocabulary): speed does not depend on which ids they are.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/cmake}"
types="${TYPES:-q8_0 f16}"
lengths="${LENGTHS:-128 512 2048}"
threads="${THREADS:-2}"
repeat="${REPEAT:-3}"
cache="${EMBER_BENCH_DIR:-/tmp/ember-bench}"
tool="$build/native/ember_gguf"
start=$SECONDS

[ -f "$build/CMakeCache.txt" ] || { echo "bench-cpu.sh: no CMake build in $build (run mvn -B -DskipTests package first)" >&2; exit 1; }
cmake --build "$build" --parallel "$(nproc)" --target ember_gguf ember_bench_qmatmul ember_bench_kernels >/dev/null
"$root/ci/llamacpp/setup.sh"
mkdir -p "$cache"

flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|f16c|avx512f|avx512bw|avx512_vnni|avx512_bf16|avx_vnni|amx_int8|amx_bf16' | tr '\n' ' ')
echo "== Ember CPU benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; flags: $flags"
[ -n "${OPENBLAS_CORETYPE:-}" ] && echo "note: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE is set"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"

# ---------------------------------------------------------------- model files
hf="$cache/qwen3-0.6b-hf"
"$tool" synth qwen3-0.6b "$hf" bf16 1
for type in $types; do
    [ -f "$cache/qwen3-0.6b-$type.gguf" ] || "$tool" convert "$hf" "$cache/qwen3-0.6b-$type.gguf" "$type"
done
for len in $lengths; do
    python3 -c "import json,random; random.seed($len); print(json.dumps({'ids':[[random.randrange(151643) for _ in range($len)]]}))" > "$cache/ids-$len.json"
done

# ---------------------------------------------------------------- end to end
echo
echo "end-to-end, Qwen3-0.6B shape (random weights), one sequence, $threads threads, median of $repeat after 1 warm-up"
first_gguf="$cache/qwen3-0.6b-$(set -- $types; echo "$1").gguf"
first_ids="$cache/ids-$(set -- $lengths; echo "$1").json"
echo "ember: $("$tool" embed "$first_gguf" --threads "$threads" < "$first_ids" | python3 -c "import json,sys; print(json.load(sys.stdin)['backend'])")"
echo "llama.cpp: node-llama-cpp 3.22.1 prebuilt, $(node "$root/ci/llamacpp/embed.mjs" "$first_gguf" --threads "$threads" \
    < "$first_ids" | python3 -c "import json,sys; print(json.load(sys.stdin).get('system', ''))")"
printf "%-6s %7s %12s %12s %7s %14s\n" type tokens "ember tok/s" "llama tok/s" ratio "load (1 min)"
tok_s() { python3 -c "import json,sys; o=json.load(open('$1')); print(o['tokens'][0]/o['seconds'][0])"; }
for type in $types; do
    gguf="$cache/qwen3-0.6b-$type.gguf"
    for len in $lengths; do
        "$tool" embed "$gguf" --threads "$threads" --repeat "$repeat" --warmup 1 < "$cache/ids-$len.json" > "$cache/ember.json"
        node "$root/ci/llamacpp/embed.mjs" "$gguf" --threads "$threads" --repeat "$repeat" --warmup 1 \
            < "$cache/ids-$len.json" > "$cache/llama.json"
        e=$(tok_s "$cache/ember.json")
        l=$(tok_s "$cache/llama.json")
        python3 -c "print('%-6s %7d %12.1f %12.1f %7.2f %14s' % ('$type', $len, $e, $l, $e / $l, '$(cut -d' ' -f1 /proc/loadavg)'))"
    done
done

# ---------------------------------------------------------------- kernels
if [ "${KERNELS:-1}" = 1 ]; then
    echo
    "$build/native/ember_bench_qmatmul" --like qwen3-0.6b --types q8_0,q4_0,q4_k,q6_k --m 1,128,512 --threads 1,2
    "$build/native/ember_bench_kernels" all --threads=1,2
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); took $((SECONDS - start)) s"
