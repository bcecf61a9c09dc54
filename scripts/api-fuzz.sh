#!/usr/bin/env bash
# Checks the node's HTTP API against its own OpenAPI document with schemathesis: requests the
# document calls valid must be accepted, requests it calls invalid must be refused with a
# problem, no request may cause a 5xx, and every answer (JSON, problem or server-sent event)
# must match the documented schema (every check, as `--checks all`; configuration and hooks in
# tests/api-fuzz/).
#
# Usage: scripts/api-fuzz.sh [--url URL] [--max-examples N] [--seed S] [--bin-dir DIR]
#   --url URL         test the node at URL (e.g. http://127.0.0.1:28000); without it, a
#                     throwaway 4-validator debug network is started in a temporary folder on
#                     free ports, and stopped (by PID) when the run ends, also on failure
#   --max-examples N  examples per operation and phase (default 30)
#   --seed S          schemathesis's seed (default 1, so a run is repeatable)
#   --bin-dir DIR     take tally-node and tally-genesis from DIR instead of building them
#                     (scripts/test.sh passes the debug binaries `cargo test` built)
# Exits non-zero on any failure. Schemathesis (pinned below) is installed from PyPI into a
# virtual environment under target/ when that one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/local-net.sh
source scripts/lib/local-net.sh

SCHEMATHESIS_VERSION=4.32.5
VALIDATORS=4
url=""
max_examples=30
seed=1
bin_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --max-examples) max_examples="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --bin-dir) bin_dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--url URL] [--max-examples N] [--seed S] [--bin-dir DIR]" >&2; exit 2 ;;
  esac
done
[[ "$max_examples" =~ ^[1-9][0-9]*$ ]] || { echo "--max-examples: \`$max_examples\` is not a whole number ≥ 1" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "--seed: \`$seed\` is not a whole number" >&2; exit 2; }

TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VENV="$TARGET_DIR/schemathesis-venv"
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
  echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $VENV (pip, from PyPI)"
  python3 -m venv "$VENV" || { echo "python3 -m venv failed; on Debian: apt-get install python3-venv" >&2; exit 1; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

run_dir=""
node_pids=()
cleanup() {
  local pid
  for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -n "$run_dir" ]] && rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$url" ]]; then
  if [[ -z "$bin_dir" ]]; then
    echo "==> building tally-node and tally-genesis (debug)"
    cargo build -p tally-node -p tally-genesis
    bin_dir="$TARGET_DIR/debug"
  fi
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/tally-api-fuzz.XXXXXX")
  base=$(free_base_port)
  "$bin_dir/tally-genesis" init --chain-id tally-fuzz --validators "$VALIDATORS" --members acme,globex \
    --out "$run_dir" --base-port "$base" --issuer-float 1000000 >"$run_dir/genesis.out" 2>&1 \
    || { cat "$run_dir/genesis.out" >&2; exit 1; }
  for ((v = 0; v < VALIDATORS; v++)); do
    write_node_toml "$run_dir/validator-$v"
    (cd "$run_dir/validator-$v" && exec "$bin_dir/tally-node" run --config node.toml >>node.log 2>&1) &
    node_pids+=($!)
  done
  url="http://127.0.0.1:$((base + 1000))"
  echo "==> throwaway network in $run_dir, validator-0 at $url"
  deadline=$((SECONDS + 60))
  until curl -fsS --max-time 2 "$url/v1/status" 2>/dev/null | grep -q '"committed_height":[1-9]'; do
    if ((SECONDS > deadline)); then
      echo "no block within 60 s; validator-0's log:" >&2
      tail -20 "$run_dir/validator-0/node.log" >&2
      exit 1
    fi
    sleep 0.5
  done
fi

# Every check runs: the configuration enables them all (what `--checks all` selects), which lets
# it switch one off for one operation; `--checks all` here would override that.
echo "==> schemathesis $SCHEMATHESIS_VERSION against $url (every check, --max-examples $max_examples, --seed $seed)"
"$VENV/bin/schemathesis" --config-file tests/api-fuzz/schemathesis.toml run "$url/v1/openapi.json" \
  --url "$url" --max-examples "$max_examples" --seed "$seed" --no-color
