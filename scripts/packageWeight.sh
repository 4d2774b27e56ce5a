#!/bin/sh
# Install weight of an app using cachevault, beside its peers: `npm install` into empty
# directories (the registry must be reachable), then packages (npm ls --all), size of
# node_modules, native .node files, and import time (scripts/importTime.mjs).
# Usage: scripts/packageWeight.sh path/to/cachevault-x.y.z.tgz [outdir]
set -eu
TARBALL=$(realpath "$1")
OUT=${2:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")" && pwd)
measure() {
  name=$1; target=$2; shift 2
  dir=$OUT/$name
  rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
  echo '{"name":"weight","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error "$@" >/dev/null
  packages=$(npm ls --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l)
  size=$(du -sm node_modules | cut -f1)
  native=$(find node_modules -name '*.node' | wc -l)
  import=$(node "$HERE/importTime.mjs" "$target" 21)
  echo "$name packages=$packages sizeMB=$size nativeFiles=$native import=$import"
}
measure cachevault-memory-file cachevault "$TARBALL"
measure cachevault-aws cachevault "$TARBALL" @aws-sdk/client-dynamodb @aws-sdk/client-kms @aws-sdk/client-secrets-manager @napi-rs/keyring
measure keyv-cache-manager cache-manager keyv cache-manager
measure keyv-sqlite-cache-manager cache-manager keyv @keyv/sqlite cache-manager
