#!/usr/bin/env bash
# End-to-end tokens/s, Ember vs llama.cpp, on the same synthetic Qwen3-0.6B-shaped GGUF files.
#   ci/llamacpp/speed.sh BUILD_DIR [TYPES] [LENGTHS] [THREADS]
# defaults: TYPES="q8_0 f16", LENGTHS="128 512 2048", THREADS=2. Each length: one random-id
# sequence, median of 3 runs after a warm-up, each engine in its own process on the same file.
# A benchmark, not a test: run it on a quiet machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
types="${2:-q8_0 f16}"
lengths="${3:-128 512 2048}"
threads="${4:-2}"
tool="$build/native/ember_gguf"
cache="${EMBER_BENCH_DIR:-/tmp/ember-bench}"
mkdir -p "$cache"
"$here/setup.sh"
printf "%-6s %7s %14s %14s %7s\n" type tokens "ember tok/s" "llama tok/s" ratio
for type in $types; do
    gguf="$cache/qwen3-0.6b-$type.gguf"
    "$tool" synth qwen3-0.6b "$gguf" "$type"
    for len in $lengths; do
        python3 -c "import json,random; random.seed($len); print(json.dumps({'ids':[[random.randrange(151643) for _ in range($len)]]}))" > "$cache/ids-$len.json"
        e=$("$tool" embed "$gguf" --threads "$threads" --repeat 4 < "$cache/ids-$len.json" | python3 -c "import json,sys; o=json.load(sys.stdin); print(o['tokens'][0]/o['seconds'][0])")
        l=$(node "$here/embed.mjs" "$gguf" --threads "$threads" --repeat 4 < "$cache/ids-$len.json" | python3 -c "import json,sys; o=json.load(sys.stdin); print(o['tokens'][0]/o['seconds'][0])")
        python3 -c "print('%-6s %7d %14.1f %14.1f %7.2f' % ('$type', $len, $e, $l, $e/$l))"
    done
done
