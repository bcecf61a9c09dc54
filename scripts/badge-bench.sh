#!/usr/bin/env bash
# Open Badges 3.0 end to end against a running local network (scripts/testnet.sh up): acme
# issues, signs and anchors a batch of N credentials with `tally badge issue` (one
# AnchorAchievements transaction, waited for commit), R times; then `tally badge verify` checks
# V of them, every step, over HTTP and from an archive exported from the running node. Prints
# each run and the medians. Nothing is timed inside a test (docs/STYLE.md): this is the
# measurement the issue's note asks for, beside `cargo bench -p tally-client --bench ob3`.
#
# Usage: scripts/badge-bench.sh [--batch N] [--runs R] [--verify V]
#   defaults: --batch 1000 --runs 3 --verify 10
# Environment: TALLY_NODE (default http://127.0.0.1:28000); TALLY_PROFILE (default release);
# CARGO_TARGET_DIR is honoured. Work files go to a temporary folder, removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BATCH=1000 RUNS=3 VERIFY=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) BATCH="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --verify) VERIFY="$2"; shift 2 ;;
    *) echo "unknown argument $1 (usage: scripts/badge-bench.sh [--batch N] [--runs R] [--verify V])" >&2; exit 2 ;;
  esac
done
PROFILE="${TALLY_PROFILE:-release}"
BIN_DIR="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE"
NET_DIR="$PWD/.testnet"
export TALLY_NODE="${TALLY_NODE:-http://127.0.0.1:28000}"
export TALLY_PASSPHRASE="demo"
if [[ ! -f "$NET_DIR/genesis.json" || ! -d "$NET_DIR/operators/acme/keystore" ]]; then
  echo "no testnet in $NET_DIR; start one with scripts/testnet.sh up" >&2
  exit 1
fi
for bin in tally tally-node; do
  [[ -x "$BIN_DIR/$bin" ]] || { echo "$BIN_DIR/$bin is missing: cargo build --release -p tally-client -p tally-node" >&2; exit 1; }
done
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
tally() { "$BIN_DIR/tally" --keystore "$NET_DIR/operators/acme/keystore" "$@"; }
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }

echo "==> issue, sign and anchor $BATCH credentials, $RUNS runs (node $TALLY_NODE)"
: >"$WORK/issue.txt"
for run in $(seq 1 "$RUNS"); do
  recipients="$WORK/recipients-$run.txt"
  for n in $(seq 1 "$BATCH"); do echo "developer-$run-$n-$RANDOM@example.com"; done >"$recipients"
  start="$(now)"
  tally --json badge issue --achievements examples/badges/achievements.json \
    --achievement https://badges.acme.example/achievements/api-calls-1m \
    --recipients-file "$recipients" --from issuer --out-dir "$WORK/issued-$run" >"$WORK/issue-$run.json"
  wall="$(echo "$(now) - $start" | bc -l)"
  sign_s="$(field sign_s <"$WORK/issue-$run.json")"
  total_s="$(field total_s <"$WORK/issue-$run.json")"
  per_s="$(echo "$BATCH / $wall" | bc -l)"
  printf 'run %d: sign_s=%.2f total_s=%.2f wall_s=%.2f credentials_per_s=%.1f\n' "$run" "$sign_s" "$total_s" "$wall" "$per_s"
  echo "$sign_s $total_s $wall $per_s" >>"$WORK/issue.txt"
done
printf 'median: sign_s=%s total_s=%s wall_s=%s credentials_per_s=%s\n' \
  "$(cut -d' ' -f1 "$WORK/issue.txt" | median)" "$(cut -d' ' -f2 "$WORK/issue.txt" | median)" \
  "$(cut -d' ' -f3 "$WORK/issue.txt" | median)" "$(cut -d' ' -f4 "$WORK/issue.txt" | median)"

echo "==> verify $VERIFY credentials, every step, over HTTP (one tally process each)"
mapfile -t credentials < <(ls "$WORK/issued-$RUNS"/*.ob3.json | head -n "$VERIFY")
: >"$WORK/http.txt"
for credential in "${credentials[@]}"; do
  start="$(now)"
  tally --json badge verify "$credential" --genesis "$NET_DIR/genesis.json" >/dev/null
  echo "$(now) - $start" | bc -l >>"$WORK/http.txt"
done
echo "http: seconds per credential, median of $VERIFY: $(median <"$WORK/http.txt") (min $(sort -g "$WORK/http.txt" | head -1), max $(sort -g "$WORK/http.txt" | tail -1))"

echo "==> verify the same credentials from an archive exported from the node"
"$BIN_DIR/tally-node" export --node "$TALLY_NODE" --out "$WORK/chain.archive" >/dev/null
height="$(curl -fsS "$TALLY_NODE/v1/status" | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p')"
: >"$WORK/archive.txt"
for credential in "${credentials[@]}"; do
  start="$(now)"
  tally --json badge verify "$credential" --genesis "$NET_DIR/genesis.json" --archive "$WORK/chain.archive" >/dev/null
  echo "$(now) - $start" | bc -l >>"$WORK/archive.txt"
done
echo "archive (chain of about $height blocks, replayed by each run): seconds per credential, median of $VERIFY: $(median <"$WORK/archive.txt") (min $(sort -g "$WORK/archive.txt" | head -1), max $(sort -g "$WORK/archive.txt" | tail -1))"
