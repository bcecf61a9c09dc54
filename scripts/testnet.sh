#!/usr/bin/env bash
# A local 4-validator Tally network on 127.0.0.1, for trying things out, formed the way a real
# consortium is (README, "Run a consortium across machines"): four operators (acme, globex,
# initech, hooli), each with its own folder, make their own keys (`tally-node init` in
# .testnet/validator-K, `tally keys new` in .testnet/operators/<member>/keystore) and sign an
# application (`tally-node apply`, `tally application sign`); the applications are collected
# into a genesis (`tally-genesis new`, `add`, `finalize`) and every operator checks its hash.
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
# shellcheck source=lib/local-net.sh
source scripts/lib/local-net.sh

NET_DIR="$PWD/.testnet"
VALIDATORS=4
MEMBERS=(acme globex initech hooli)
# The keystores' passphrase (a local demo; real operators choose their own).
export TALLY_PASSPHRASE="demo"
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

# Forms the consortium from four operators' applications (see the header).
form_consortium() {
  local chain_id=tally-local k member dir home keystore issuer applications=()
  echo "==> forming consortium $chain_id from four operators' applications in $NET_DIR"
  mkdir -p "$NET_DIR/operators"
  for ((k = 0; k < VALIDATORS; k++)); do
    member=${MEMBERS[$k]}
    dir="$NET_DIR/operators/$member"
    home="$NET_DIR/validator-$k"
    keystore="$dir/keystore"
    mkdir -p "$dir"
    # Idempotent steps, so that an interrupted formation can be run again.
    [[ -f "$home/consensus.key" ]] || "$BIN_DIR/tally-node" init --home "$home" >/dev/null
    if ! "$BIN_DIR/tally" --keystore "$keystore" keys show issuer >/dev/null 2>&1; then
      "$BIN_DIR/tally" --keystore "$keystore" keys new issuer >/dev/null
    fi
    issuer=$("$BIN_DIR/tally" --keystore "$keystore" --json keys show issuer | sed -n 's/.*"address": *"\([^"]*\)".*/\1/p')
    rm -f "$dir/application.json"
    "$BIN_DIR/tally-node" apply --home "$home" --chain-id "$chain_id" --member "$member" \
      --member-name "${member^}" --issuer "$issuer" --asset "${member^^}" --validator-name "validator-$k" \
      --p2p-address "/ip4/127.0.0.1/tcp/$((BASE_PORT + k))" --http-address "127.0.0.1:$(http_port "$k")" \
      --out "$dir/application.json" >/dev/null
    "$BIN_DIR/tally" --keystore "$keystore" application sign --key issuer "$dir/application.json" >/dev/null
    echo "    $member: validator-$k keys in $home, issuer $issuer in $keystore"
    applications+=("$dir/application.json")
  done
  "$BIN_DIR/tally-genesis" new --chain-id "$chain_id" --issuer-float 1000000 --out "$NET_DIR/draft.json" --force >/dev/null
  "$BIN_DIR/tally-genesis" add --draft "$NET_DIR/draft.json" "${applications[@]}" >/dev/null
  "$BIN_DIR/tally-genesis" finalize --draft "$NET_DIR/draft.json" --out "$NET_DIR/genesis.json.new" --force >/dev/null
  local hash
  hash=$("$BIN_DIR/tally-genesis" hash "$NET_DIR/genesis.json.new")
  for ((k = 0; k < VALIDATORS; k++)); do
    home="$NET_DIR/validator-$k"
    cp "$NET_DIR/genesis.json.new" "$home/genesis.json"
    # Each operator checks the hash of the copy it received.
    if [[ "$("$BIN_DIR/tally-genesis" hash "$home/genesis.json")" != "$hash" ]]; then
      echo "validator-$k's genesis hash differs" >&2
      exit 1
    fi
  done
  # Last: a genesis.json in .testnet means the formation is complete.
  mv "$NET_DIR/genesis.json.new" "$NET_DIR/genesis.json"
  echo "    genesis hash $hash, checked by all four operators"
}

up() {
  local cargo_flags=()
  [[ "$PROFILE" == release ]] && cargo_flags+=(--release)
  echo "==> building tally-node, tally-genesis and tally ($PROFILE)"
  cargo build "${cargo_flags[@]}" -p tally-node -p tally-genesis -p tally-client

  if [[ ! -f "$NET_DIR/genesis.json" ]]; then
    form_consortium
  else
    echo "==> reusing the chain in $NET_DIR (delete it for a fresh one)"
  fi

  for ((k = 0; k < VALIDATORS; k++)); do
    local dir="$NET_DIR/validator-$k"
    if running "$k"; then
      echo "==> validator-$k is already running (PID $(cat "$dir/node.pid"))"
      continue
    fi
    # A .testnet made by an older version (`tally-genesis init`: one party made every key)
    # has no node.toml of its own; it points at the shared genesis file.
    [[ -d "$NET_DIR/operators" ]] || write_node_toml "$dir"
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
  echo "explorer: http://127.0.0.1:$(http_port 0)/   (every validator serves it; open it in a browser)"
  echo "genesis:  $NET_DIR/genesis.json"
  echo "data:     $NET_DIR/validator-K/data/   logs: $NET_DIR/validator-K/node.log"
  if [[ -d "$NET_DIR/operators" ]]; then
    echo "issuers:  $NET_DIR/operators/<member>/keystore (key 'issuer', passphrase demo)"
  else
    echo "issuers:  $NET_DIR/members/<member>/issuer.key"
  fi
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
