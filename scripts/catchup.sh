#!/usr/bin/env bash
# How long a validator with an empty data directory takes to catch up with a long chain, under
# load: a benchmark (it reports; it asserts no speed).
#
# Usage: scripts/catchup.sh [--blocks N] [--rate R] [--build-in-memory] [--new-node full|validator]
#                           [--bin-dir DIR] [--keep]
#   --blocks N     chain length to build before the validator loses its data (default 100000)
#   --rate R       transfers per second submitted the whole time, also while it catches up
#                  (default 500)
#   --build-in-memory
#                  build the chain with the validators' data on tmpfs (/dev/shm), where fsync
#                  costs nothing, so that a long chain takes minutes (a view's three fsyncs
#                  bound the block rate on a disk); the validator that catches up always
#                  writes to the disk, under .bench/
#   --new-node full|validator
#                  instead of wiping validator-3, a new node (node-4, made by `tally-node
#                  init`, its data on the disk under .bench/) syncs the chain from an empty
#                  data directory while validator-3 keeps validating:
#                  full       a full node (`init --full-node`) that the validators admit as an
#                             observer (network.observers, set when they start)
#                  validator  a validator of acme that the members vote in (`tally gov propose
#                             add-validator`, acme proposes, globex votes) once the chain is N
#                             blocks long; started when its epoch is current, it follows as a
#                             full node (node/src/follower.rs) to the tip and then validates
#   --bin-dir DIR  run tally-node and tally-genesis from DIR instead of this checkout's build
#   --keep         keep the run's directory (genesis, data, logs)
#
# It makes a fresh 4-validator chain in .bench/<time>-catchup/, runs tally-bench against it
# until the chain is N blocks long, stops validator-3 (SIGTERM), deletes its data directory
# (keeping its keys), starts it again (or starts the --new-node), and measures until its
# committed height reaches first the tip it (re)started at and then the live tip (within 16
# blocks), while the load goes on. Progress goes to stderr; stdout gets one line:
#   catchup: blocks=N rate=R build_s=X build_blocks_per_s=X restart_tip=N reach_restart_tip_s=X
#            reach_live_tip_s=X live_tip=N sync_blocks_per_s=X node_rss_mb=N mode=M validates_s=X
# (mode: wipe, full or validator; validates_s: with --new-node validator, seconds from its
# start until it logs "this node now validates", else na). It stops what it started (by PID)
# on exit, error or Ctrl-C, and gives up after 2 hours of building or 1 hour of catching up.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/local-net.sh
source scripts/lib/local-net.sh

PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BENCH_ROOT="$PWD/.bench"
VALIDATORS=4
LAGGARD=3
BUILD_SECONDS_MAX=7200
CATCHUP_SECONDS_MAX=3600
LOAD_ROUND_SECONDS=300
# "At the live tip": within this many blocks of it. The heights are read one node after
# another, and a chain under light load makes ~50 blocks a second.
LIVE_TIP_SLACK=16

blocks=100000
rate=500
bin_dir=""
keep=0
in_memory=0
new_node=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    --blocks) blocks=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --build-in-memory) in_memory=1; shift ;;
    --new-node) new_node=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "catchup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$blocks" "$rate"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "catchup.sh: '$value' is not a positive whole number" >&2; exit 2; }
done
case "$new_node" in
  "" | full | validator) ;;
  *) echo "catchup.sh: --new-node takes full or validator, got '$new_node'" >&2; exit 2 ;;
esac
# The node whose catch-up is measured: validator-3 after a wipe, or the new node-4.
SUBJECT=$LAGGARD
[[ -n "$new_node" ]] && SUBJECT=4

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally-node, tally-bench, tally-genesis and tally ($PROFILE)" >&2
cargo build "${cargo_flags[@]}" -p tally-node -p tally-genesis -p tally-client >&2
BENCH_BIN="$TARGET_DIR/$PROFILE/tally-bench"
TALLY_BIN="$TARGET_DIR/$PROFILE/tally"
NODE_BIN="$TARGET_DIR/$PROFILE/tally-node"
GENESIS_BIN="$TARGET_DIR/$PROFILE/tally-genesis"
if [[ -n "$bin_dir" ]]; then
  NODE_BIN="$bin_dir/tally-node"
  [[ -x "$bin_dir/tally-genesis" ]] && GENESIS_BIN="$bin_dir/tally-genesis"
fi

mkdir -p "$BENCH_ROOT"
[[ -f "$BENCH_ROOT/.gitignore" ]] || echo '*' >"$BENCH_ROOT/.gitignore"
stamp="$(date +%Y%m%d-%H%M%S)-catchup"
run_dir="$BENCH_ROOT/$stamp"
[[ $in_memory -eq 1 ]] && run_dir="/dev/shm/tally-$stamp"
# Where the catching-up validator keeps its data: always on the disk.
laggard_data="$BENCH_ROOT/$stamp-laggard-data"
# The --new-node's home (keys, node.toml, data): always on the disk.
new_home="$BENCH_ROOT/$stamp-node-4"
node_pids=()
load_pid=""

cleanup() {
  local pid
  if [[ -n "$load_pid" ]]; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
    [[ -f "$run_dir/load.pid" ]] && kill "$(cat "$run_dir/load.pid")" 2>/dev/null || true
  fi
  for pid in "${node_pids[@]}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $keep -eq 1 ]]; then
    echo "==> kept $run_dir, $laggard_data and $new_home (those that exist)" >&2
  else
    rm -rf "$run_dir" "$laggard_data" "$new_home"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four validators and the --new-node's ports (base+4, base+1004).
base=$(VALIDATORS=5 free_base_port)

height_of() {
  { curl -fsS --max-time 2 "http://127.0.0.1:$((base + 1000 + $1))/v1/status" 2>/dev/null || true; } \
    | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p'
}
# The highest committed height among the validators other than the measured node.
tip() {
  local best=0 v h
  for ((v = 0; v < VALIDATORS; v++)); do
    [[ $v -eq $SUBJECT ]] && continue
    h=$(height_of "$v")
    [[ -n "$h" && "$h" -gt "$best" ]] && best=$h
  done
  echo "$best"
}
start_node() {
  (cd "$run_dir/validator-$1" && exec "$NODE_BIN" run --config node.toml >>node.log 2>&1) &
  node_pids[$1]=$!
}

echo "==> fresh chain in $run_dir (ports $base.., HTTP $((base + 1000))..)" >&2
output=$("$GENESIS_BIN" init --chain-id tally-catchup --validators "$VALIDATORS" --members acme,globex \
  --out "$run_dir" --base-port "$base" --issuer-float 1000000000 2>&1) || { echo "$output" >&2; exit 1; }
validator_toml_extra=""
new_p2p="/ip4/127.0.0.1/tcp/$((base + 4))"
new_http="127.0.0.1:$((base + 1004))"
if [[ "$new_node" == full ]]; then
  # A full node is admitted only as an observer the validators know when they start.
  output=$("$NODE_BIN" init --full-node --home "$new_home" --p2p-listen "$new_p2p" --http-listen "$new_http")
  peer_id=$(sed -n 's/^peer id: *//p' <<<"$output")
  [[ -n "$peer_id" ]] || { echo "catchup.sh: no peer id from tally-node init: $output" >&2; exit 1; }
  cp "$run_dir/genesis.json" "$new_home/genesis.json"
  validator_toml_extra=$'[network]\nobservers = ["'"$peer_id"'"]'
fi
for ((v = 0; v < VALIDATORS; v++)); do
  write_node_toml "$run_dir/validator-$v" "$validator_toml_extra"
  start_node "$v"
done
deadline=$((SECONDS + 60))
until [[ "$(tip)" -ge 2 ]]; do
  ((SECONDS < deadline)) || { echo "catchup.sh: no blocks within 60 s; logs in $run_dir" >&2; keep=1; exit 1; }
  sleep 0.5
done

# The load runs for the whole measurement, as rounds of tally-bench (each pre-signs its
# transfers, so rounds stay short; each funds fresh accounts in a few seconds); it is stopped
# (the loop, then its current round, by PID) when the measurement ends.
load_loop() {
  while true; do
    "$BENCH_BIN" --net-dir "$run_dir" --duration "$LOAD_ROUND_SECONDS" --rate "$rate" --accounts 2000 \
      --drain-seconds 1 >>"$run_dir/load.out" 2>>"$run_dir/load.err" &
    echo $! >"$run_dir/load.pid"
    wait $! || true
  done
}
load_loop &
load_pid=$!

echo "==> building a $blocks-block chain under $rate transfers/s" >&2
build_start=$SECONDS
last_report=$SECONDS
while true; do
  h=$(tip)
  [[ "$h" -ge "$blocks" ]] && break
  kill -0 "$load_pid" 2>/dev/null || { echo "catchup.sh: the load generator stopped; see $run_dir/load.err" >&2; keep=1; exit 1; }
  if ((SECONDS - build_start > BUILD_SECONDS_MAX)); then
    echo "catchup.sh: only $h of $blocks blocks after ${BUILD_SECONDS_MAX}s" >&2
    exit 1
  fi
  if ((SECONDS - last_report >= 30)); then
    echo "    height $h after $((SECONDS - build_start)) s" >&2
    last_report=$SECONDS
  fi
  sleep 1
done
build_s=$((SECONDS - build_start))

# `tally` as member $1 (its issuer key imported from the genesis directory into a keystore).
member_tally() {
  local member=$1
  shift
  TALLY_PASSPHRASE=catchup timeout 120 "$TALLY_BIN" --node "http://127.0.0.1:$((base + 1000))" \
    --keystore "$run_dir/keystores/$member" "$@"
}

# The members vote a new validator of acme in (node-4's keys, made now); returns once its
# epoch is current.
vote_in_new_validator() {
  local member output issuer id=000000000000000000000000000ca7c4
  for member in acme globex; do
    TALLY_PASSPHRASE=catchup "$TALLY_BIN" --keystore "$run_dir/keystores/$member" keys import issuer \
      --file "$run_dir/members/$member/issuer.key" >/dev/null
  done
  "$NODE_BIN" init --home "$new_home" --p2p-listen "$new_p2p" --http-listen "$new_http" >/dev/null
  cp "$run_dir/genesis.json" "$new_home/genesis.json"
  issuer=$(member_tally acme keys show issuer | awk '{ print $2 }')
  "$NODE_BIN" apply --home "$new_home" --chain-id tally-catchup --member acme --member-name Acme \
    --issuer "$issuer" --asset ACME \
    --validator-name node-4 --p2p-address "$new_p2p" --http-address "$new_http" \
    --out "$new_home/application.json" >/dev/null
  member_tally acme application sign --key issuer "$new_home/application.json" >/dev/null
  echo "==> acme proposes node-4 as its second validator; globex votes" >&2
  # The load's rounds fund their accounts from acme's issuer, whose next seq a proposal or a
  # vote may then meet in the mempool: a refused one is sent again, unless it went through.
  local attempt
  for attempt in 1 2 3 4 5; do
    member_tally acme gov propose add-validator "$new_home/application.json" --id "$id" --from issuer --wait \
      >/dev/null && break
    member_tally acme gov show "$id" >/dev/null 2>&1 && break
    echo "    proposal refused (attempt $attempt); again in 2 s" >&2
    sleep 2
  done
  for attempt in 1 2 3 4 5; do
    member_tally globex gov vote "$id" yes --from issuer --wait >/dev/null && break
    member_tally acme gov show "$id" 2>/dev/null | grep -q "^proposal $id: passed" && break
    echo "    vote refused (attempt $attempt); again in 2 s" >&2
    sleep 2
  done
  output=$(member_tally acme gov show "$id")
  grep -q "^proposal $id: passed" <<<"$output" || { echo "catchup.sh: the vote did not pass: $output" >&2; exit 1; }
  local deadline=$((SECONDS + 120)) epoch
  while true; do
    # `tally gov status` prints the current epoch first: "epoch N from height H: V validators".
    epoch=$(member_tally acme gov status | sed -n 's/^epoch [0-9]* from height [0-9]*: \([0-9]*\) validators.*/\1/p')
    [[ "$epoch" == 5 ]] && break
    ((SECONDS < deadline)) || { echo "catchup.sh: node-4's epoch did not start within 120 s" >&2; exit 1; }
    sleep 0.5
  done
}

case "$new_node" in
  "")
    echo "==> validator-$LAGGARD: stop, delete its data directory, start again" >&2
    kill "${node_pids[$LAGGARD]}"
    wait "${node_pids[$LAGGARD]}" 2>/dev/null || true
    node_pids[$LAGGARD]=""
    rm -rf "$run_dir/validator-$LAGGARD/data"
    sed -i "s|^data_dir = .*|data_dir = \"$laggard_data\"|" "$run_dir/validator-$LAGGARD/node.toml"
    ;;
  full) echo "==> node-4: a new full node with an empty data directory" >&2 ;;
  validator)
    vote_in_new_validator
    echo "==> node-4: the new validator, with an empty data directory" >&2
    ;;
esac
restart_tip=$(tip)
if [[ -n "$new_node" ]]; then
  (cd "$new_home" && exec "$NODE_BIN" run --config node.toml >>node.log 2>&1) &
  node_pids[$SUBJECT]=$!
  subject_log="$new_home/node.log"
else
  start_node "$LAGGARD"
  subject_log="$run_dir/validator-$LAGGARD/node.log"
fi
started=$(date +%s.%N)
validates_s=na
reach_restart=""
last_report=$SECONDS
while true; do
  h=$(height_of "$SUBJECT")
  h=${h:-0}
  now=$(date +%s.%N)
  if [[ "$new_node" == validator && "$validates_s" == na ]] && grep -q "this node now validates" "$subject_log"; then
    validates_s=$(awk -v a="$now" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
    echo "    node-4 validates after $validates_s s" >&2
  fi
  if [[ -z "$reach_restart" && "$h" -ge "$restart_tip" ]]; then
    reach_restart=$(awk -v a="$now" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
    echo "    reached the restart tip $restart_tip after $reach_restart s" >&2
  fi
  live=$(tip)
  if [[ -n "$reach_restart" && "$h" -ge $((live - LIVE_TIP_SLACK)) ]]; then
    reach_live=$(awk -v a="$now" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
    break
  fi
  kill -0 "${node_pids[$SUBJECT]}" 2>/dev/null || { echo "catchup.sh: the node exited; see $subject_log" >&2; keep=1; exit 1; }
  if awk -v a="$now" -v b="$started" -v m="$CATCHUP_SECONDS_MAX" 'BEGIN { exit !(a - b > m) }'; then
    echo "catchup.sh: the node at $h of $live after ${CATCHUP_SECONDS_MAX}s" >&2
    keep=1
    exit 1
  fi
  if ((SECONDS - last_report >= 10)); then
    echo "    node at $h, tip $live" >&2
    last_report=$SECONDS
  fi
  sleep 0.5
done
rss_kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/${node_pids[$SUBJECT]}/status" 2>/dev/null || echo 0)
printf 'catchup: blocks=%s rate=%s build_s=%s build_blocks_per_s=%s restart_tip=%s reach_restart_tip_s=%s reach_live_tip_s=%s live_tip=%s sync_blocks_per_s=%s node_rss_mb=%s mode=%s validates_s=%s\n' \
  "$blocks" "$rate" "$build_s" "$(awk -v b="$restart_tip" -v s="$build_s" 'BEGIN { printf "%.0f", b / (s > 0 ? s : 1) }')" \
  "$restart_tip" "$reach_restart" "$reach_live" "$live" \
  "$(awk -v b="$restart_tip" -v s="$reach_restart" 'BEGIN { printf "%.0f", b / (s > 0 ? s : 1) }')" "$((rss_kb / 1024))" \
  "${new_node:-wipe}" "$validates_s"
