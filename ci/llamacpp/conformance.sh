#!/usr/bin/env bash
# Ember against llama.cpp on the same GGUF files: the goldens converted by Ember at each type,
# embedded by both (token ids, each sequence alone), compared by cosine.
#   ci/llamacpp/conformance.sh BUILD_DIR      (BUILD_DIR holds native/ember_gguf)
# Floors (issue 4): f32 / f16 >= 0.9999, q8_0 >= 0.999; q4_0 / q4_k / q6_k are reported.
# The goldens are 64 wide, so K-quant rows (k = 64) fall back to q8_0 there. With
# EMBER_CONFORMANCE_SYNTH=1 synthetic Qwen3-0.6B-shaped files (real Q8_0 / Q4_K / Q6_K tensors,
# random weights; a few minutes to write) are compared too (reported, no floor). Seen here:
# q8_0 0.99972, q4_k 0.99949, q6_k 0.99944 (llama.cpp's K-quant activations use one scale per 256
# where Ember uses one per 32).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
tool="$build/native/ember_gguf"
work="${TMPDIR:-/tmp}/ember-llamacpp-$$"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
"$here/setup.sh"

fail=0
run_case() {  # golden type floor
    local golden="$1" type="$2" floor="$3"
    local dir="$root/tests/goldens/$golden" gguf="$work/$golden-$type.gguf"
    python3 -c "import json,sys; r=json.load(open('$dir/reference.json')); json.dump({'ids':[c['ids'] for c in r['cases']]}, sys.stdout)" > "$work/ids.json"
    "$tool" convert "$dir" "$gguf" "$type"
    node "$here/embed.mjs" "$gguf" --threads 2 < "$work/ids.json" > "$work/llama.json"
    "$tool" embed "$gguf" --threads 2 < "$work/ids.json" > "$work/ember.json"
    python3 "$here/compare.py" "$work/ember.json" "$work/llama.json" "$floor" "$golden $type ember vs llama.cpp" || fail=1
    rm -f "$gguf"
}
for golden in qwen3-tiny llama-bidir-tiny; do
    run_case "$golden" f32 0.9999
    run_case "$golden" f16 0.9999
    run_case "$golden" q8_0 0.999
    run_case "$golden" q4_0 0
    run_case "$golden" q6_k 0
    run_case "$golden" q4_k 0
done
if [ "${EMBER_CONFORMANCE_SYNTH:-0}" = 1 ]; then
    cache="${EMBER_BENCH_DIR:-/tmp/ember-bench}"
    python3 -c "import json,random; random.seed(5); print(json.dumps({'ids':[[random.randrange(151643) for _ in range(n)] for n in (1, 7, 40)]}))" > "$work/ids.json"
    for type in q8_0 q4_k q6_k; do
        gguf="$cache/qwen3-0.6b-$type.gguf"
        "$tool" synth qwen3-0.6b "$gguf" "$type"
        node "$here/embed.mjs" "$gguf" --threads 2 < "$work/ids.json" > "$work/llama.json"
        "$tool" embed "$gguf" --threads 2 < "$work/ids.json" > "$work/ember.json"
        python3 "$here/compare.py" "$work/ember.json" "$work/llama.json" 0 "synthetic qwen3-0.6b $type ember vs llama.cpp" || fail=1
    done
fi
exit $fail
