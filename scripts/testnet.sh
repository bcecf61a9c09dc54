#!/usr/bin/env bash
# A local 4-validator Tally network on 127.0.0.1, for trying things out.
#
# Usage: scripts/testnet.sh up|status|down
#   up      build (release), create .testnet/ (genesis, keys, one node.toml per validator) unless
#           it holds a chain already (then resume it), start those of the 4 nodes that are not
#           running, wait until all are at height >= 2, then run the client demo
#           (scripts/demo.sh). Running `up` again, on a running or a stopped network, runs the
#           demo again with fresh ids and badges.
#   status  print each node's committed height and view
#   down    stop the nodes started by `up` (by PID)
#
# Environment: TALLY_PROFILE=debug uses a debug build instead of release;
# TALLY_BASE_PORT (default 27000) moves the ports (P2P base+K, HTTP base+1000+K);
# CARGO_TARGET_DIR is honoured.
# Everything lives under .testnet/ (git-ignored): delete it to start a fresh chain.
set -euo pipefail
cd "$(dirname "$0")/.."

NET_DIR="$PWD/.testnet"
VALIDATORS=4
MEMBERS="acme,globex,initech"
BASE_PORT="${TALLY_BASE_PORT:-27000}"
PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN_DIR="$TARGET_DIR/$PROFILE"
WAIT_SECONDS=60

# curl talks to the nodes' HTTP API; a fresh machine may lack it.
if ! command -v curl >/dev/null 2>&1; then
  echo "==> installing curl"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq curl >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq curl >/dev/null; fi
fi

http_port() { echo $((BASE_PORT + 1000 + $1)); }

# The committed height of validator $1, or nothing if it does not answer.
height_of() {
  # A node that is not answering yet is not an error here: print nothing and succeed, or
  # `set -e` would end the wait loop at the first refused connection.
  { curl -fsS --max-time 2 "http://127.0.0.1:$(http_port "$1")/v1/status" 2>/dev/null || true; } \
    | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p'
}

status_line() {
  local k=$1 body
  body=$(curl -fsS --max-time 2 "http://127.0.0.1:$(http_port "$k")/v1/status" 2>/dev/null) || {
    echo "validator-$k  http://127.0.0.1:$(http_port "$k")  not answering"
    return
  }
  local height view peers
  height=$(sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p' <<<"$body")
  view=$(sed -n 's/.*"view":\([0-9]*\).*/\1/p' <<<"$body")
  peers=$(sed -n 's/.*"peers":\([0-9]*\).*/\1/p' <<<"$body")
  echo "validator-$k  http://127.0.0.1:$(http_port "$k")  height=$height view=$view peers=$peers"
}

# True if validator $1 runs under the PID `up` recorded for it.
running() {
  local pid_file="$NET_DIR/validator-$1/node.pid"
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

up() {
  local cargo_flags=()
  [[ "$PROFILE" == release ]] && cargo_flags+=(--release)
  echo "==> building tally-node, tally-genesis and tally ($PROFILE)"
  cargo build "${cargo_flags[@]}" -p tally-node -p tally-genesis -p tally-client

  if [[ ! -f "$NET_DIR/genesis.json" ]]; then
    echo "==> creating genesis and keys in $NET_DIR"
    "$BIN_DIR/tally-genesis" init --chain-id tally-local --validators "$VALIDATORS" \
      --members "$MEMBERS" --out "$NET_DIR" --base-port "$BASE_PORT" --issuer-float 1000000
  else
    echo "==> reusing the chain in $NET_DIR (delete it for a fresh one)"
  fi

  for ((k = 0; k < VALIDATORS; k++)); do
    local dir="$NET_DIR/validator-$k"
    if running "$k"; then
      echo "==> validator-$k is already running (PID $(cat "$dir/node.pid"))"
      continue
    fi
    cat >"$dir/node.toml" <<EOF
[node]
data_dir = "data"
genesis = "../genesis.json"
consensus_key = "consensus.key"
network_key = "network.key"

[log]
format = "human"
level = "info"
EOF
    "$BIN_DIR/tally-node" run --config "$dir/node.toml" >>"$dir/node.log" 2>&1 &
    echo $! >"$dir/node.pid"
  done

  echo "==> waiting (up to ${WAIT_SECONDS}s) for every node to reach height 2"
  local deadline=$((SECONDS + WAIT_SECONDS))
  while true; do
    local ready=0
    for ((k = 0; k < VALIDATORS; k++)); do
      local h
      h=$(height_of "$k")
      [[ -n "$h" && "$h" -ge 2 ]] && ready=$((ready + 1))
    done
    [[ $ready -eq $VALIDATORS ]] && break
    if ((SECONDS > deadline)); then
      echo "not every node reached height 2; see the logs:" >&2
      for ((k = 0; k < VALIDATORS; k++)); do echo "  $NET_DIR/validator-$k/node.log" >&2; done
      exit 1
    fi
    sleep 0.5
  done

  echo
  for ((k = 0; k < VALIDATORS; k++)); do status_line "$k"; done
  echo
  echo "genesis:  $NET_DIR/genesis.json"
  echo "data:     $NET_DIR/validator-K/data/   logs: $NET_DIR/validator-K/node.log"
  echo "issuers:  $NET_DIR/members/<member>/issuer.key"
  echo "stop with: scripts/testnet.sh down"
  echo
  echo "==> demo: the tally client against validator-0"
  TALLY_NODE="http://127.0.0.1:$(http_port 0)" TALLY_PROFILE="$PROFILE" scripts/demo.sh
}

status() {
  for ((k = 0; k < VALIDATORS; k++)); do status_line "$k"; done
}

down() {
  local stopped=0
  for ((k = 0; k < VALIDATORS; k++)); do
    local pid_file="$NET_DIR/validator-$k/node.pid"
    [[ -f "$pid_file" ]] || continue
    local pid
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      # Wait for a clean exit so the data file is closed before anyone restarts the node.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      stopped=$((stopped + 1))
    fi
    rm -f "$pid_file"
  done
  echo "stopped $stopped node(s); data kept in $NET_DIR"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *)
    echo "usage: $0 up|status|down" >&2
    exit 2
    ;;
esac
