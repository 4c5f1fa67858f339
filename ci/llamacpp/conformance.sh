#!/usr/bin/env bash
# Ember against llama.cpp on the same GGUF files: the goldens converted by Ember at each type,
# embedded by both (token ids, each sequence alone), compared by cosine.
#   ci/llamacpp/conformance.sh BUILD_DIR      (BUILD_DIR holds native/ember_gguf)
# Floors (issue 4): f32 / f16 >= 0.9999, q8_0 >= 0.999; q4_0 / q4_k / q6_k are reported.
# The goldens are 64 wide, so K-quant rows (k = 64) fall back to q8_0 there; a synthetic
# Qwen3-0.6B-shaped file exercises real Q4_K / Q6_K tensors.
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
exit $fail
