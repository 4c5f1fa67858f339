#!/usr/bin/env bash
# Installs the llama.cpp peer (node-llama-cpp 3.22.1 and its prebuilt linux-x64 CPU binaries) into
# ci/llamacpp/node_modules from the npm registry, as package-lock.json pins it. Nothing is
# downloaded at run time and nothing is built: getLlama({build: "never"}) only loads the prebuilt
# binaries.
#
# npm's download cache lives in ${EMBER_CACHE:-~/.cache/ember}/npm-cache (about 85 MB), so a CI
# machine that keeps its home directory installs from disk (--prefer-offline) in seconds. A no-op
# once installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ -d node_modules/@node-llama-cpp/linux-x64/bins ] && [ -d node_modules/node-llama-cpp ]; then exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is needed to install node-llama-cpp" >&2; exit 1; }
cache=${EMBER_CACHE:-$HOME/.cache/ember}/npm-cache
mkdir -p "$cache"
# --omit=optional skips the CUDA / Vulkan / other-platform binary packages (hundreds of MB); the
# linux-x64 one is a direct dependency. The postinstall step (which would try to download or
# build) is skipped too.
start=$SECONDS
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-save --cache "$cache" --prefer-offline --no-audit --no-fund \
    --omit=optional --ignore-scripts >&2
echo "setup.sh: node-llama-cpp installed in $((SECONDS - start)) s (npm cache: $cache)" >&2
