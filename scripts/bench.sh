#!/usr/bin/env bash
# Open-loop load benchmark against the local 4-validator network (scripts/testnet.sh).
#
# Usage: scripts/bench.sh [--duration S] [--rate R] [other tally-bench flags, see --help]
#
# Starts the local network if none is running (and stops it again at the end, but only if it
# started it), builds tally-bench, funds sender accounts, submits pre-signed transfers at the
# fixed rate and prints one line:
#   committed_tps=N p50_ms=N p99_ms=N submitted=N committed=N lost=N
# Progress and refusals go to stderr. The figures are a report, not a pass/fail check.
#
# Environment: as scripts/testnet.sh (TALLY_PROFILE, TALLY_BASE_PORT, CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

NET_DIR="$PWD/.testnet"
PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

for arg in "$@"; do
  if [[ "$arg" == -h || "$arg" == --help ]]; then
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
  fi
done

running() {
  [[ -f "$NET_DIR/validator-0/node.pid" ]] && kill -0 "$(cat "$NET_DIR/validator-0/node.pid")" 2>/dev/null
}

if ! running; then
  echo "==> no local network running; starting one" >&2
  # Set before `up` so a half-started network is stopped too.
  trap 'scripts/testnet.sh down >&2' EXIT
  scripts/testnet.sh up >&2
fi

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally-bench ($PROFILE)" >&2
cargo build "${cargo_flags[@]}" -p tally-node --bin tally-bench >&2

# On exit (success or failure) the EXIT trap stops the network if this script started it.
"$TARGET_DIR/$PROFILE/tally-bench" --net-dir "$NET_DIR" "$@"
