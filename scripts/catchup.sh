#!/usr/bin/env bash
# How long a validator with an empty data directory takes to catch up with a long chain, under
# load: a benchmark (it reports; it asserts no speed).
#
# Usage: scripts/catchup.sh [--blocks N] [--rate R] [--build-in-memory] [--bin-dir DIR] [--keep]
#   --blocks N     chain length to build before the validator loses its data (default 100000)
#   --rate R       transfers per second submitted the whole time, also while it catches up
#                  (default 500)
#   --build-in-memory
#                  build the chain with the validators' data on tmpfs (/dev/shm), where fsync
#                  costs nothing, so that a long chain takes minutes (a view's three fsyncs
#                  bound the block rate on a disk); the validator that catches up always
#                  writes to the disk, under .bench/
#   --bin-dir DIR  run tally-node and tally-genesis from DIR instead of this checkout's build
#   --keep         keep the run's directory (genesis, data, logs)
#
# It makes a fresh 4-validator chain in .bench/<time>-catchup/, runs tally-bench against it
# until the chain is N blocks long, stops validator-3 (SIGTERM), deletes its data directory
# (keeping its keys), starts it again, and measures until its committed height reaches first
# the tip it restarted at and then the live tip (within 16 blocks), while the load goes on.
# Progress goes to stderr; stdout gets one line:
#   catchup: blocks=N rate=R build_s=X build_blocks_per_s=X restart_tip=N reach_restart_tip_s=X
#            reach_live_tip_s=X live_tip=N sync_blocks_per_s=X node_rss_mb=N
# It stops what it started (by PID) on exit, error or Ctrl-C, and gives up after 2 hours of
# building or 1 hour of catching up.
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
    --keep) keep=1; shift ;;
    *) echo "catchup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$blocks" "$rate"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "catchup.sh: '$value' is not a positive whole number" >&2; exit 2; }
done

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally-node, tally-bench and tally-genesis ($PROFILE)" >&2
cargo build "${cargo_flags[@]}" -p tally-node -p tally-genesis >&2
BENCH_BIN="$TARGET_DIR/$PROFILE/tally-bench"
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
  if [[ $keep -eq 1 ]]; then echo "==> kept $run_dir and $laggard_data" >&2; else rm -rf "$run_dir" "$laggard_data"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

base=$(free_base_port)

height_of() {
  { curl -fsS --max-time 2 "http://127.0.0.1:$((base + 1000 + $1))/v1/status" 2>/dev/null || true; } \
    | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p'
}
# The highest committed height among the validators other than the laggard.
tip() {
  local best=0 v h
  for ((v = 0; v < VALIDATORS; v++)); do
    [[ $v -eq $LAGGARD ]] && continue
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
for ((v = 0; v < VALIDATORS; v++)); do
  write_node_toml "$run_dir/validator-$v"
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

echo "==> validator-$LAGGARD: stop, delete its data directory, start again" >&2
kill "${node_pids[$LAGGARD]}"
wait "${node_pids[$LAGGARD]}" 2>/dev/null || true
node_pids[$LAGGARD]=""
rm -rf "$run_dir/validator-$LAGGARD/data"
sed -i "s|^data_dir = .*|data_dir = \"$laggard_data\"|" "$run_dir/validator-$LAGGARD/node.toml"
restart_tip=$(tip)
start_node "$LAGGARD"
started=$(date +%s.%N)
reach_restart=""
last_report=$SECONDS
while true; do
  h=$(height_of "$LAGGARD")
  h=${h:-0}
  now=$(date +%s.%N)
  if [[ -z "$reach_restart" && "$h" -ge "$restart_tip" ]]; then
    reach_restart=$(awk -v a="$now" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
    echo "    reached the restart tip $restart_tip after $reach_restart s" >&2
  fi
  live=$(tip)
  if [[ -n "$reach_restart" && "$h" -ge $((live - LIVE_TIP_SLACK)) ]]; then
    reach_live=$(awk -v a="$now" -v b="$started" 'BEGIN { printf "%.1f", a - b }')
    break
  fi
  kill -0 "${node_pids[$LAGGARD]}" 2>/dev/null || { echo "catchup.sh: validator-$LAGGARD exited; see its node.log" >&2; keep=1; exit 1; }
  if awk -v a="$now" -v b="$started" -v m="$CATCHUP_SECONDS_MAX" 'BEGIN { exit !(a - b > m) }'; then
    echo "catchup.sh: validator-$LAGGARD at $h of $live after ${CATCHUP_SECONDS_MAX}s" >&2
    keep=1
    exit 1
  fi
  if ((SECONDS - last_report >= 10)); then
    echo "    validator-$LAGGARD at $h, tip $live" >&2
    last_report=$SECONDS
  fi
  sleep 0.5
done
rss_kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/${node_pids[$LAGGARD]}/status" 2>/dev/null || echo 0)
printf 'catchup: blocks=%s rate=%s build_s=%s build_blocks_per_s=%s restart_tip=%s reach_restart_tip_s=%s reach_live_tip_s=%s live_tip=%s sync_blocks_per_s=%s node_rss_mb=%s\n' \
  "$blocks" "$rate" "$build_s" "$(awk -v b="$restart_tip" -v s="$build_s" 'BEGIN { printf "%.0f", b / (s > 0 ? s : 1) }')" \
  "$restart_tip" "$reach_restart" "$reach_live" "$live" \
  "$(awk -v b="$restart_tip" -v s="$reach_restart" 'BEGIN { printf "%.0f", b / (s > 0 ? s : 1) }')" "$((rss_kb / 1024))"
