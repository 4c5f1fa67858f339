#!/usr/bin/env bash
# Proves the CUDA path on a machine with an NVIDIA H100 / H200 (CUDA 13, cmake, ninja, PyTorch;
# no Java, no Maven): one command, well inside 10 minutes, GPU settings never touched.
#
#   ci/gpu-check.sh            run from anywhere; logs and the summary go to $OUT (default
#                              ./gpu-check-out): summary.txt, tests.log, java.log, bench.log,
#                              peers.log, probe.txt (and build.log when it had to build)
#
# Steps (each one's failure is recorded and the later steps still run; the exit status is 1 when
# anything failed):
#   0. the machine: GPU, driver, clocks as found, toolkit, PyTorch
#   1. binaries: the bundle that ci/gpu-bundle.sh built (.gpu-bundle/ember-bundle.tar.xz); when
#      it is missing or its programs do not start here, a build from this checkout (sm_90 only)
#   2. tests: host checks, every CUDA kernel against its CPU twin (fresh random inputs, seed in the
#      log), the goldens end to end in both precision modes, models of real width against the CPU
#      backend, concurrency, out-of-memory recovery
#   3. the goldens through the jlinked Java CLI (`ember embed --backend cuda`), both modes
#   4. benchmarks with the PyTorch peers in the same run: attention vs SDPA (and SelfExtend vs
#      none), matmul vs cuBLASLt and torch, Qwen3-0.6B end to end vs transformers (B32 x 512 and
#      256 mixed-length texts; Q8_0 weights; Ember's optional cuBLASLt matmuls; the sm_80 kernels
#      on a 9.0 card; one query with and without CUDA graphs) plus a probe
#      comparing Ember's embeddings with PyTorch's; the NV-Embed-v2 and 8B shapes when time is
#      left
#   5. the table (Ember, peer, ratio, the issue's target; then every step's PASS / FAIL) printed last
#
# Environment: OUT, EMBER_GPU_CHECK_BUDGET (seconds, default 480: optional stages start only while
# there is time left for them), EMBER_GPU_CHECK_BIG=0 to skip the 8B shapes, =1 to force them;
# EMBER_GPU_CHECK_QUICK=1: steps 0-3 and the 0.6B model end to end only (about 3 minutes on an
# H200), for re-checking a change whose kernels were already benchmarked.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
OUT=${OUT:-$root/gpu-check-out}
case $OUT in /*) ;; *) OUT=$root/$OUT ;; esac
mkdir -p "$OUT"
budget=${EMBER_GPU_CHECK_BUDGET:-480}
quick=${EMBER_GPU_CHECK_QUICK:-0}
start=$SECONDS
work=$(mktemp -d /tmp/ember-gpu-check.XXXXXX)
steps=$work/steps.txt
: >"$steps"
: >"$OUT/summary.txt"
failures=0
optional=0  # while 1, a failing step is recorded as WARN and does not fail the check

say() { echo "[$((SECONDS - start))s] $*" | tee -a "$OUT/summary.txt"; }
record() {  # name status seconds note
  echo "$1|$2|$3|$4" >>"$steps"
  if [ "$2" = FAIL ]; then failures=$((failures + 1)); fi
}
# run_step NAME LOG TIMEOUT CMD...: runs CMD with a time limit, output appended to LOG. An optional
# step also stops where the budget ends (less 15 s for the table), or is skipped when under 10 s
# are left: the table must print before the device call's own limit.
run_step() {
  local name=$1 log=$2 limit=$3
  shift 3
  if [ "$optional" = 1 ]; then
    local room=$(($(left) - 15))
    if [ "$room" -lt 10 ]; then
      record "$name" SKIP 0 "time budget"
      say "== $name: skipped (time budget)"
      return 1
    fi
    [ "$room" -lt "$limit" ] && limit=$room
  fi
  local t0=$SECONDS rc note
  say "== $name (limit ${limit}s, log $(basename "$log"))"
  echo "===== $name: $*" >>"$log"
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  note="rc $rc"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then note="timed out after ${limit}s"; fi
  if [ $rc -eq 0 ]; then
    record "$name" PASS $((SECONDS - t0)) ""
  elif [ "$optional" = 1 ]; then
    record "$name" WARN $((SECONDS - t0)) "$note (optional stage)"
  else
    record "$name" FAIL $((SECONDS - t0)) "$note"
  fi
  say "   $( [ $rc -eq 0 ] && echo ok || echo "FAILED ($note)")"
  return $rc
}
left() { echo $((budget - (SECONDS - start))); }

# ---------------------------------------------------------------- 0. the machine
{
  echo "== machine"
  uname -srm
  ldd --version 2>&1 | head -n 1
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,power.limit,temperature.gpu \
    --format=csv 2>&1 || echo "nvidia-smi failed"
  command -v nvcc >/dev/null && nvcc --version | tail -n 1
  python3 -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
  python3 -c 'import transformers; print("transformers", transformers.__version__)' 2>&1 | tail -n 1
  [ -f .gpu-bundle/MANIFEST.txt ] && sed 's/^/bundle: /' .gpu-bundle/MANIFEST.txt
} >>"$OUT/summary.txt" 2>&1

# ---------------------------------------------------------------- 1. binaries
bin=""
java_home=""
jars=""
if [ -f .gpu-bundle/ember-bundle.tar.xz ]; then
  mkdir -p "$work/bundle"
  if tar -xJf .gpu-bundle/ember-bundle.tar.xz -C "$work/bundle" 2>>"$OUT/summary.txt"; then
    # --help only loads the program: a failure here is the loader (glibc, libstdc++), not a test.
    if "$work/bundle/bin/ember_cuda_host_tests" --help >/dev/null 2>&1 && [ -x "$work/bundle/bin/ember_cuda_tests" ]; then
      bin=$work/bundle/bin
      record "bundled binaries start here" PASS 0 ""
    else
      say "the bundled binaries do not start here (other system libraries?): building from source"
    fi
    [ -x "$work/bundle/jre/bin/java" ] && java_home=$work/bundle/jre
    [ -d "$work/bundle/jars" ] && jars=$work/bundle/jars
  fi
else
  say "no .gpu-bundle/ember-bundle.tar.xz (run ci/gpu-bundle.sh on a build machine): building from source"
fi
if [ -z "$bin" ]; then
  if run_step "build from source (sm_90)" "$OUT/build.log" 480 bash -c "
      cmake -S '$root' -B '$work/build' -G Ninja -DEMBER_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
            -DCMAKE_CUDA_ARCHITECTURES=90-real -Wno-dev &&
      cmake --build '$work/build' --parallel \$(nproc) --target ember_cuda_host_tests ember_cuda_tests \
            ember_cuda_model_tests ember_cuda_bench"; then
    bin=$work/build/cuda
  fi
fi

# cuBLASLt (Ember's optional matmul path, tested against the CPU twin in step 2, and the benchmark's
# reference column): the toolkit's, or the one PyTorch's wheels carry.
lt=""
for c in /usr/local/cuda/lib64/libcublasLt.so.13 /usr/local/cuda/targets/x86_64-linux/lib/libcublasLt.so.13; do
  [ -f "$c" ] && { lt=$c; break; }
done
if [ -z "$lt" ]; then
  lt=$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
for r in roots:
    for p in glob.glob(os.path.join(r, "nvidia", "**", "libcublasLt.so.13*"), recursive=True):
        print(p); raise SystemExit
PY
)
fi
[ -n "$lt" ] && export EMBER_CUBLASLT_LIB=$lt
say "cuBLASLt: ${lt:-not found}"

# ---------------------------------------------------------------- 2. tests
export EMBER_REQUIRE_CUDA=1 EMBER_SOURCE_DIR=$root
wgmma_matmul=0 wgmma_attention=0
# only_if FLAG REASON NAME: true when FLAG is 1, else records NAME as skipped for REASON.
only_if() {
  [ "$1" = 1 ] && return 0
  record "$3" SKIP 0 "$2"
  return 1
}
if [ -n "$bin" ]; then
  run_step "host checks (decoders, mma fragments)" "$OUT/tests.log" 60 "$bin/ember_cuda_host_tests"
  run_step "CUDA kernels vs CPU twins" "$OUT/tests.log" 300 "$bin/ember_cuda_tests" --duration=true -tce='*[wgmma]*'
  # The sm_90a wgmma matmul and attention each in a process of its own (a fault is sticky for its
  # process). They are the default on 9.0: when one fails, the later steps run on the sm_80 kernel
  # instead (and say so), so that the rest of the check still measures something; its benchmark
  # rows are skipped.
  run_step "wgmma matmul (sm_90a) vs CPU twin" "$OUT/tests.log" 60 "$bin/ember_cuda_tests" -tc='matmul*[wgmma]*' &&
    wgmma_matmul=1
  run_step "wgmma attention (sm_90a) vs float64, CPU twin" "$OUT/tests.log" 90 "$bin/ember_cuda_tests" \
    -tc='attention*[wgmma]*' && wgmma_attention=1
  [ $wgmma_matmul = 1 ] || { export EMBER_CUDA_MATMUL=tc; say "wgmma matmul failed: later steps use EMBER_CUDA_MATMUL=tc"; }
  [ $wgmma_attention = 1 ] || { export EMBER_CUDA_ATTENTION=flash; say "wgmma attention failed: later steps use EMBER_CUDA_ATTENTION=flash"; }
  run_step "goldens + real widths on CUDA (C ABI)" "$OUT/tests.log" 300 "$bin/ember_cuda_model_tests" --duration=true
else
  record "CUDA tests" FAIL 0 "no binaries"
fi

# ---------------------------------------------------------------- 3. Java CLI
if [ -n "$java_home" ] && [ -n "$jars" ]; then
  cat >"$work/java.sh" <<JAVA
set -u
java=("$java_home/bin/java" -Dorg.bytedeco.javacpp.cachedir="$work/javacpp" -cp "$jars/*" dev.ember.cli.Main)
"\${java[@]}" info --model "$root/tests/goldens/qwen3-tiny" --backend cuda || exit 1
bad=0
for mode in fast fp32; do
  for g in qwen3-tiny qwen3-tiny-bf16 llama-bidir-tiny nvembed-tiny causal2vec-tiny; do
    python3 "$root/ci/gpu/goldens.py" to-jsonl "$root/tests/goldens/\$g" "$work/\$g.jsonl" || { bad=1; continue; }
    if "\${java[@]}" embed --model "$root/tests/goldens/\$g" --backend cuda --cuda-precision \$mode \
         --input "$work/\$g.jsonl" --output "$work/\$g.\$mode.out.jsonl"; then
      python3 "$root/ci/gpu/goldens.py" compare "$root/tests/goldens/\$g" "$work/\$g.\$mode.out.jsonl" --mode \$mode || bad=1
    else
      echo "\$g (\$mode): ember embed failed"; bad=1
    fi
  done
done
exit \$bad
JAVA
  run_step "goldens via the Java CLI (jlinked JRE)" "$OUT/java.log" 180 bash "$work/java.sh"
else
  record "goldens via the Java CLI" FAIL 0 "no JRE / jars in the bundle"
fi

# ---------------------------------------------------------------- 4. benchmarks

if [ "$quick" = 1 ]; then
  record "kernel benchmarks" SKIP 0 "EMBER_GPU_CHECK_QUICK=1"
else
  if [ -n "$bin" ]; then
    run_step "bench: attention (Ember flash)" "$OUT/bench.log" 120 "$bin/ember_cuda_bench" attention
    n="bench: attention (Ember wgmma, sm_90a)"
    only_if $wgmma_attention "its tests failed" "$n" && run_step "$n" "$OUT/bench.log" 60 "$bin/ember_cuda_bench" attention wgmma
    run_step "bench: matmul (Ember, cuBLASLt)" "$OUT/bench.log" 120 "$bin/ember_cuda_bench" matmul
    n="bench: matmul (Ember wgmma, sm_90a)"
    only_if $wgmma_matmul "its tests failed" "$n" && run_step "$n" "$OUT/bench.log" 60 "$bin/ember_cuda_bench" matmul wgmma
    # Where a single query's time goes (m = 1 to 256 per path): a diagnosis, not a pass mark.
    optional=1
    run_step "bench: matmul, one query's rows (m 1-256)" "$OUT/bench.log" 60 "$bin/ember_cuda_bench" matmul-small
    optional=0
  fi
  run_step "bench: attention (PyTorch SDPA)" "$OUT/peers.log" 180 python3 ci/gpu/peers.py attention
  run_step "bench: matmul (torch)" "$OUT/peers.log" 60 python3 ci/gpu/peers.py matmul
fi

# e2e SHAPE KEY BATCH MIXED LIMIT [QUERY]: a random-weight model written by PyTorch, then Ember
# and the peer, each step limited to LIMIT seconds; QUERY > 0 adds one-query latency rows (Ember
# with and without CUDA graphs).
e2e() {
  local shape=$1 key=$2 batch=$3 mixed=$4 limit=$5 query=${6:-0} dir=$work/model-$1
  # Without PyTorch the benchmark program writes the 0.6B model itself (slower, same layout).
  if ! run_step "model $shape (random bf16)" "$OUT/peers.log" "$limit" python3 ci/gpu/peers.py make-model --dir "$dir" \
    --shape "$shape"; then
    rm -rf "$dir"
    [ "$shape" = qwen3-0.6b ] || return 1
  fi
  [ -n "$bin" ] && run_step "e2e $key: Ember" "$OUT/bench.log" "$limit" "$bin/ember_cuda_bench" e2e --dir "$dir" \
    --like "$shape" --key "$key" --batch "$batch" --mixed "$mixed" --query "$query" --probe-out "$OUT/probe.txt"
  run_step "e2e $key: PyTorch" "$OUT/peers.log" "$limit" python3 ci/gpu/peers.py e2e --model "$dir" --key "$key" \
    --batch "$batch" --mixed "$mixed" --query "$query" --probe "$OUT/probe.txt"
  local was_optional=$optional
  optional=1
  # The same weights as GGUF Q8_0 (converted by Ember): the issue asks >= 0.9x the bf16 speed.
  if [ "$shape" = qwen3-0.6b ] && [ -n "$bin" ]; then
    run_step "e2e $key Q8_0: Ember" "$OUT/bench.log" "$limit" "$bin/ember_cuda_bench" e2e --dir "$dir" \
      --like "$shape" --key "${key}_q8_0" --batch "$batch" --mixed 0 --gguf q8_0
  fi
  # Ember with its optional cuBLASLt path for the bf16 matmuls (EMBER_CUBLASLT=1): what users with
  # the library get end to end, next to the hand-written kernels above.
  if { [ "$shape" = qwen3-0.6b ] || [ "$shape" = qwen3-8b ]; } && [ -n "$bin" ] && [ -n "$lt" ]; then
    run_step "e2e $key cuBLASLt matmuls: Ember" "$OUT/bench.log" "$limit" env EMBER_CUBLASLT=1 "$bin/ember_cuda_bench" e2e \
      --dir "$dir" --like "$shape" --key "${key}_cublaslt" --batch "$batch" --mixed 0
  fi
  # The sm_80 kernels (mma.sync matmul, flash attention) on the same card: what the sm_90a ones,
  # the default on compute capability 9.0, gain end to end.
  if { [ "$shape" = qwen3-0.6b ] || [ "$shape" = qwen3-8b ]; } && [ -n "$bin" ]; then
    run_step "e2e $key sm_80 kernels: Ember" "$OUT/bench.log" "$limit" \
      env EMBER_CUDA_MATMUL=tc EMBER_CUDA_ATTENTION=flash "$bin/ember_cuda_bench" e2e --dir "$dir" --like "$shape" \
      --key "${key}_sm80" --batch "$batch" --mixed 0
  fi
  optional=$was_optional
  rm -rf "$dir" "$dir".*.gguf
}
e2e qwen3-0.6b qwen3_0.6b 32 1 180 16
# The 7-8B shapes (15-16 GB of weights each): optional, only while the budget leaves room for
# them. NV-Embed-v2 (Mistral-7B bidirectional + its 512-latent pooler) first: it is the one whose
# pooler path differs; its model folder comes from peers.py, and Ember reads it as any NV-Embed.
big=${EMBER_GPU_CHECK_BIG:-auto}
[ "$quick" = 1 ] && big=0
optional=1
for spec in "nv-embed-v2 nvembed_v2 150" "qwen3-8b qwen3_8b 90" "llama-embed-nemotron-8b nemotron_8b 90"; do
  set -- $spec
  if [ "$big" = 0 ] || { [ "$big" = auto ] && [ "$(left)" -lt 240 ]; }; then
    record "e2e $2 (B16 x 512)" SKIP 0 "$( [ "$big" = 0 ] && echo "EMBER_GPU_CHECK_BIG=0 or QUICK=1" || echo "time budget")"
    continue
  fi
  rm -f "$OUT/probe.txt"
  e2e "$1" "$2" 16 0 "$3"  # NV-Embed's limit covers the pooler fold at load (8 heads of 4096)
done
optional=0

# A probe cosine below 0.99 means Ember and PyTorch disagree on the same 0.6B model: a failure.
probe=$(grep -h "^RESULT probe_cosine_qwen3_0.6b " "$OUT/peers.log" 2>/dev/null | tail -n 1 | awk '{print $3}')
if [ -z "$probe" ]; then
  record "probe: Ember vs PyTorch, Qwen3-0.6B (cos >= 0.99)" FAIL 0 "no probe result"
elif awk -v c="$probe" 'BEGIN { exit !(c >= 0.99) }'; then
  record "probe: Ember vs PyTorch, Qwen3-0.6B (cos >= 0.99)" PASS 0 "cosine $probe"
else
  record "probe: Ember vs PyTorch, Qwen3-0.6B (cos >= 0.99)" FAIL 0 "cosine $probe"
fi

# ---------------------------------------------------------------- 5. the table
total=$((SECONDS - start))
{
  echo
  echo "==================== Ember CUDA check: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1), ${total}s"
  python3 ci/gpu/summary.py "$steps" "$OUT/bench.log" "$OUT/peers.log" 2>&1 || cat "$steps"
  echo
  if [ $failures -eq 0 ]; then echo "GPU CHECK: PASS"; else echo "GPU CHECK: FAIL ($failures step(s) failed; logs in $OUT)"; fi
} | tee -a "$OUT/summary.txt"
rm -rf "$work"
[ $failures -eq 0 ]
