#!/usr/bin/env bash
# Builds, on a build machine (nvcc, a JDK with jlink, Maven), everything ci/gpu-check.sh needs on
# the GPU machine (which has no Java and no Maven), into .gpu-bundle/ (ignored by git), small
# enough for the device tool's `carry` together with the working tree (64 MiB in all):
#
#   .gpu-bundle/ember-bundle.tar.xz   bin/   the CUDA test and benchmark programs (static CUDA
#                                            runtime: they need only the driver's libcuda)
#                                     jars/  the API jar, the linux-x86_64 and -gpu native jars and
#                                            the runtime dependencies (tokenizers' natives for other
#                                            platforms removed)
#                                     jre/   a jlink'ed runtime: java.base, java.logging,
#                                            jdk.unsupported, java.management
#   .gpu-bundle/MANIFEST.txt          commit, toolchain, sizes
#
# Then, with the device tool, from the repository root of the session's checkout:
#   run(command="OUT=$OUT bash ci/gpu-check.sh", carry=[".gpu-bundle"], timeout_s=600)
#
# EMBER_JOBS: parallel compile jobs (default 2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${EMBER_JOBS:-2}
export EMBER_JOBS=$jobs
bundle=$root/.gpu-bundle
stage=$bundle/stage
t0=$SECONDS
step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - t0))"; }

[ -x /usr/local/cuda/bin/nvcc ] || { echo "no /usr/local/cuda/bin/nvcc: the -gpu jar and the CUDA programs need it" >&2; exit 1; }
command -v jlink >/dev/null || { echo "no jlink (a JDK is needed)" >&2; exit 1; }

step "jars (mvn -B -q -DskipTests package; CUDA objects compiled once, in build/cmake)"
mvn -B -q -DskipTests package
version=$(sed -n 's|.*<version>\(.*\)</version>.*|\1|p' pom.xml | sed -n 1p)
target=$root/java/target
for jar in "$target/ember-$version.jar" "$target/ember-$version-linux-x86_64.jar" "$target/ember-$version-linux-x86_64-gpu.jar"; do
  [ -f "$jar" ] || { echo "missing $jar" >&2; exit 1; }
done

step "CUDA test and benchmark programs (same build folder)"
cmake --build build/cmake --parallel "$jobs" --target ember_cuda_host_tests ember_cuda_tests ember_cuda_model_tests ember_cuda_bench

step "staging"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/jars"
for p in ember_cuda_host_tests ember_cuda_tests ember_cuda_model_tests ember_cuda_bench; do
  cp "build/cmake/cuda/$p" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$p" 2>/dev/null || true
done
cp "$target/ember-$version.jar" "$target/ember-$version-linux-x86_64.jar" "$target/ember-$version-linux-x86_64-gpu.jar" "$stage/jars/"
cp "$target"/lib/*.jar "$stage/jars/"
# DJL's tokenizers jar carries its native library for six platforms (~56 MB unpacked): keep linux-x86_64.
for jar in "$stage"/jars/tokenizers-*.jar; do
  [ -f "$jar" ] || continue
  others=$(unzip -Z1 "$jar" | grep -E '^native/lib/(linux-aarch64|osx-|win-)' || true)
  if [ -n "$others" ]; then
    # shellcheck disable=SC2086
    zip -q -d "$jar" $others >/dev/null
  fi
done

step "jlink runtime"
modules=java.base,java.logging,jdk.unsupported,java.management
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$stage/jre"
# The CLI must start on it (picocli, Jackson, JavaCPP): --help and the CPU build info.
"$stage/jre/bin/java" -Dorg.bytedeco.javacpp.cachedir="$bundle/javacpp-cache" -cp "$stage/jars/*" dev.ember.cli.Main --help >/dev/null
"$stage/jre/bin/java" -Dorg.bytedeco.javacpp.cachedir="$bundle/javacpp-cache" -cp "$stage/jars/*" dev.ember.cli.Main \
  info --model "$root/tests/goldens/qwen3-tiny" --backend cpu >/dev/null
rm -rf "$bundle/javacpp-cache"

step "archive"
rm -f "$bundle/ember-bundle.tar.xz"
XZ_OPT="-6 -T$jobs" tar -cJf "$bundle/ember-bundle.tar.xz" -C "$stage" bin jars jre
rm -rf "$stage"

# The working tree that travels with every call: tracked and untracked-but-not-ignored files.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
bundle_bytes=$(stat -c %s "$bundle/ember-bundle.tar.xz")
total=$((tree_bytes + bundle_bytes))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- && echo "" || echo " (+ uncommitted changes)")"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(ldd --version 2>&1 | sed -n 1p)"
  echo "nvcc $(/usr/local/cuda/bin/nvcc --version | tail -n 1)"
  echo "cuda targets $(grep -o 'arch=compute_[0-9a-z]*,code=\[[a-z_0-9]*\]' build/cmake/build.ninja | sort -u | tr '\n' ' ')"
  echo "java $(java -version 2>&1 | sed -n 1p), jlink modules $modules"
  echo "bundle $(mib "$bundle_bytes"), working tree $(mib "$tree_bytes"), together $(mib "$total") of the 64 MiB carry limit"
} >"$bundle/MANIFEST.txt"
cat "$bundle/MANIFEST.txt"
if [ "$total" -gt $((60 * 1048576)) ]; then
  echo "WARNING: over 60 MiB together: the device tool may refuse the call" >&2
  exit 1
fi
step "done"
echo "device tool: run(command=\"bash ci/gpu-check.sh\", carry=[\".gpu-bundle\"], timeout_s=600)"
