#!/usr/bin/env bash
# Installs the llama.cpp peer (node-llama-cpp 3.22.1 and its prebuilt linux-x64 CPU binaries) into
# ci/llamacpp/node_modules from the npm registry. Nothing is downloaded at run time and nothing is
# built: getLlama({build: "never"}) only loads the prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")"
if [ -d node_modules/@node-llama-cpp/linux-x64/bins ] && [ -d node_modules/node-llama-cpp ]; then exit 0; fi
# --omit=optional skips the CUDA / Vulkan / other-platform binary packages (hundreds of MB); the
# linux-x64 one is a direct dependency. The postinstall step (which would try to download or
# build) is skipped too.
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional --ignore-scripts >&2
