#!/usr/bin/env bash
# Measures the explorer's first view against a real node on a long chain: time to first render
# (navigation to the network view with its data on screen, and to the first contentful paint;
# median of several cold loads in chromium through playwright-core) and the page weight (KB
# transferred for the first view).
#
# The chain is made by `tally-bench archive` (one signed transfer per block, so BLOCKS blocks),
# imported into a full node's empty data directory by `tally-node import` (every block checked
# and executed), and served by `tally-node run`; nothing else runs against it. Release binaries
# of this checkout (built here with cargo; CARGO_TARGET_DIR is honoured), Debian's chromium.
#
# Usage: scripts/explorer-ttfr.sh [--blocks N] [--runs K] [--dir DIR] [--keep]
#   --blocks N  chain length (default 100000)
#   --runs K    cold loads measured (default 7)
#   --dir DIR   work directory; an archive of the same length left there by an earlier run with
#               --keep is reused (default: a fresh temporary directory)
#   --keep      keep the work directory (its node.log too)
# The node started here is stopped by its PID on exit, also on an error or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
blocks=100000 runs=7 dir="" keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --blocks) blocks="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown argument \`$1\` (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
[[ "$blocks" =~ ^[0-9]+$ && "$blocks" -ge 2 ]] || { echo "--blocks must be a whole number >= 2, got \`$blocks\`" >&2; exit 2; }
[[ "$runs" =~ ^[0-9]+$ && "$runs" -ge 1 ]] || { echo "--runs must be a whole number >= 1, got \`$runs\`" >&2; exit 2; }
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || { echo "chromium not found at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)" >&2; exit 1; }

target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/release"
echo "==> building tally-node and tally-bench (release)" >&2
(cd "$root" && cargo build --release --locked -p tally-node --bin tally-node --bin tally-bench)
echo "==> building the measuring script (sdk/typescript)" >&2
(cd "$root/sdk/typescript" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund --loglevel=error; } && npx tsc -p tsconfig.json)

if [[ -z "$dir" ]]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/tally-ttfr.XXXXXX")"
else
  mkdir -p "$dir"
fi
node_pid=""
cleanup() {
  if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [[ $keep -eq 0 ]]; then rm -rf "$dir"; else echo "kept $dir" >&2; fi
}
trap cleanup EXIT

archive="$dir/chain-$blocks.archive"
if [[ ! -s "$archive" ]]; then
  echo "==> tally-bench archive: $blocks blocks" >&2
  "$bin/tally-bench" archive --transfers $((blocks - 1)) --block-txs 1 --senders 1000 --out "$archive" >&2
fi

# Two free ports for the node (p2p and HTTP), from the kernel.
read -r p2p_port http_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
home="$dir/home"
rm -rf "$home"
"$bin/tally-node" init --full-node --home "$home" --p2p-listen "/ip4/127.0.0.1/tcp/$p2p_port" \
  --http-listen "127.0.0.1:$http_port" >/dev/null
cp "$archive.genesis.json" "$home/genesis.json"
echo "==> tally-node import" >&2
"$bin/tally-node" import --config "$home/node.toml" --archive "$archive" >&2
"$bin/tally-node" run --config "$home/node.toml" >"$dir/node.log" 2>&1 &
node_pid=$!
url="http://127.0.0.1:$http_port"
for _ in $(seq 1 300); do
  height="$(curl -fsS "$url/v1/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["committed_height"])' 2>/dev/null || true)"
  [[ "$height" == "$blocks" ]] && break
  kill -0 "$node_pid" 2>/dev/null || { echo "the node stopped; its log:" >&2; tail -20 "$dir/node.log" >&2; exit 1; }
  sleep 0.2
done
[[ "$height" == "$blocks" ]] || { echo "the node did not serve height $blocks (it says \`$height\`)" >&2; exit 1; }
echo "==> measuring $url/ at height $height ($runs cold loads)" >&2
node "$root/sdk/typescript/dist/test-browser/first-render.js" "$url" "$runs"
