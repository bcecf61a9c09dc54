#!/usr/bin/env bash
# Finality while the consortium changes itself by vote (issue #12): blocks per second and p50/p99
# commit latency before, at and after each change, under a steady tally-bench load. A
# benchmark: it reports, it asserts no speed.
#
# Usage: scripts/reconfig-bench.sh [--runs N] [--rate R] [--window S] [--settle-blocks K]
#                                  [--accounts N] [--bin-dir DIR] [--keep]
#   --runs N           runs, each on a fresh chain; prints every run, then the medians (default 1)
#   --rate R           transfers submitted per second for the whole run, whatever the answers
#                      (default 300)
#   --window S         seconds of the `before` and `after` windows (default 30)
#   --settle-blocks K  the `at` window ends K blocks after the new epoch's first (default 5)
#   --accounts N       funded accounts of the load (default 5000)
#   --bin-dir DIR      run tally-node, tally-genesis and tally from DIR instead of this
#                      checkout's build (tally-bench is always this one's)
#   --keep             keep each run's directory (genesis, keys, data, logs, the tx log)
#
# A run forms a chain in .bench/<time>-reconfig-run<K>/ the way scripts/testnet.sh does: four
# operators (acme, globex, initech, hooli) each make their keys (`tally-node init`, `tally keys
# new`) and sign an application, which `tally-genesis new/add/finalize` collect. It starts the
# four nodes, then tally-bench (`--rate R`, submitting to validator-0 and validator-2, the nodes
# that stay, and writing `--tx-log`), waits S seconds, and carries out four changes one after
# another, each proposed by acme and passed by the members' votes with the `tally gov` CLI,
# each member through its own node:
#   params   set-params (block_txs_max 5000 -> 4000): a new epoch, same validators
#   join     a fifth provider, umbrella, is admitted with its validator (add-member, n = 5); its
#            node, made by `tally-node init`, starts after the vote as a full node and
#            validates from its epoch
#   remove   hooli's validator is removed (remove-validator, n = 4); its node stops
#   rotate   globex's validator key is rotated to keys made in a new home (rotate-key); the old
#            node stops, the new one follows and then validates
# The keys and applications are all made before the load starts. After a change the next one
# is proposed S seconds after the new epoch's K-th block committed (and, for join and rotate,
# once the new node validates), so that its `before` window follows the last change's `at`.
#
# Windows of a change (tally-bench windows; times are this machine's clock):
#   before  the S seconds before the proposal was submitted (the baseline)
#   at      from the proposal's submission (`tally gov propose`) to the header time of block
#           start + K, where start is the new epoch's first height (`tally gov status`): the
#           votes, the two blocks to the epoch, its first block and K more built on it
#   after   the S seconds from the header time of the new epoch's first block
# blocks_per_s counts blocks whose header time is in the window; p50/p99 are the submit ->
# commit latencies (as tally-bench sees the block) of the load's transfers submitted in it.
#
# stdout, per run and change, one line:
#   run K/N change=NAME epoch=E start_height=H at_s=X before_blocks_per_s=X before_p50_ms=N
#     before_p99_ms=N before_txs=N at_blocks_per_s=X at_p50_ms=N at_p99_ms=N at_txs=N
#     after_blocks_per_s=X after_p50_ms=N after_p99_ms=N after_txs=N votes_s=X validates_s=X
# (votes_s: proposal submitted to passing vote committed, as the CLI saw it; validates_s: for
# join and rotate, the passing vote to the new node's "this node now validates", else na);
# then per run `run K/N load: ...` (tally-bench's summary of the whole load); with --runs > 1,
# per change `median of N change=NAME ...` (the lower middle value of each figure).
# Progress goes to stderr. Bounded: setup 10 min, each wait for a vote, an epoch or a node at
# most 5 min. It stops the processes it started (by PID) on exit, error or Ctrl-C and deletes
# the run's directory unless --keep.
#
# Environment: TALLY_PROFILE=debug builds and uses debug binaries; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/local-net.sh
source scripts/lib/local-net.sh

PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BENCH_ROOT="$PWD/.bench"
VALIDATORS=4
MEMBERS=(acme globex initech hooli)
CHAIN_ID=tally-reconfig
export TALLY_PASSPHRASE=reconfig-bench
SETUP_SECONDS_MAX=600
WAIT_SECONDS_MAX=300
CLI_SECONDS_MAX=120
DRAIN_SECONDS=10

runs=1
rate=300
window=30
settle_blocks=5
accounts=5000
bin_dir=""
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    --runs) runs=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --settle-blocks) settle_blocks=$2; shift 2 ;;
    --accounts) accounts=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "reconfig-bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$runs" "$rate" "$window" "$settle_blocks" "$accounts"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "reconfig-bench.sh: '$value' is not a positive whole number" >&2; exit 2; }
done
# The load runs until the script stops it (tally-bench --stop-file); its --duration only bounds
# how many transfers it pre-signs, so it must outlast the changes: the first window, then per
# change its votes and blocks (~1 min on a busy machine) and two windows.
load_seconds=$((window * 9 + 600))

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally-node, tally-bench, tally-genesis and tally ($PROFILE)" >&2
cargo build "${cargo_flags[@]}" -p tally-node -p tally-genesis -p tally-client >&2
BENCH_BIN="$TARGET_DIR/$PROFILE/tally-bench"
BIN_DIR="${bin_dir:-$TARGET_DIR/$PROFILE}"
for bin in tally-node tally-genesis tally; do
  [[ -x "$BIN_DIR/$bin" ]] || { echo "reconfig-bench.sh: no $bin in $BIN_DIR" >&2; exit 2; }
done

mkdir -p "$BENCH_ROOT"
[[ -f "$BENCH_ROOT/.gitignore" ]] || echo '*' >"$BENCH_ROOT/.gitignore"
STAMP="$(date +%Y%m%d-%H%M%S)"

# What the cleanup needs: the processes this script started and the run's directory.
node_pids=()
load_pid=""
run_dir=""

stop_run() {
  local pid
  if [[ -n "$load_pid" ]]; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
    load_pid=""
  fi
  for pid in "${node_pids[@]}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  node_pids=()
  if [[ -n "$run_dir" ]]; then
    if [[ $keep -eq 1 ]]; then echo "==> kept $run_dir" >&2; else rm -rf "$run_dir"; fi
    run_dir=""
  fi
}
trap stop_run EXIT
trap 'exit 130' INT TERM

fail() {
  echo "reconfig-bench.sh: $*; logs in $run_dir" >&2
  keep=1
  exit 1
}

now_ms() { date +%s%3N; }
http_of() { echo "127.0.0.1:$((base + 1000 + $1))"; }
height_of() {
  { curl -fsS --max-time 2 "http://$(http_of "$1")/v1/status" 2>/dev/null || true; } \
    | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p'
}

# Node index of each member's votes: its own validator's node (validator-K; umbrella's is 4).
declare -A node_of=([acme]=0 [globex]=1 [initech]=2 [hooli]=3 [umbrella]=4)

# `tally` as operator $1 (its keystore), against its own node.
op_tally() {
  local member=$1
  shift
  timeout "$CLI_SECONDS_MAX" "$BIN_DIR/tally" --node "http://$(http_of "${node_of[$member]}")" \
    --keystore "$run_dir/operators/$member/keystore" "$@"
}

# Starts node K from home $2.
start_node() {
  (cd "$2" && exec "$BIN_DIR/tally-node" run --config node.toml >>node.log 2>&1) &
  node_pids[$1]=$!
}

# An operator's validator home $2 (node K = $1, listening on base+K and base+1000+K) and its
# application to $3 for member $4 (validator name $5), signed with the member's issuer key
# (made first if the keystore lacks it). Genesis validators take their addresses from the
# genesis; later ones are given them in node.toml.
make_application() {
  local k=$1 home=$2 out=$3 member=$4 name=$5 keystore issuer
  local p2p="/ip4/127.0.0.1/tcp/$((base + k))" http
  http=$(http_of "$k")
  keystore="$run_dir/operators/$member/keystore"
  if [[ $k -lt $VALIDATORS ]]; then
    "$BIN_DIR/tally-node" init --home "$home" >"$home.init"
  else
    "$BIN_DIR/tally-node" init --home "$home" --p2p-listen "$p2p" --http-listen "$http" >"$home.init"
  fi
  if ! "$BIN_DIR/tally" --keystore "$keystore" keys show issuer >/dev/null 2>&1; then
    "$BIN_DIR/tally" --keystore "$keystore" keys new issuer >/dev/null
  fi
  issuer=$("$BIN_DIR/tally" --keystore "$keystore" keys show issuer | awk '{ print $2 }')
  "$BIN_DIR/tally-node" apply --home "$home" --chain-id "$CHAIN_ID" --member "$member" \
    --member-name "${member^}" --issuer "$issuer" --asset "${member^^}" --validator-name "$name" \
    --p2p-address "$p2p" --http-address "$http" --out "$out" >/dev/null
  "$BIN_DIR/tally" --keystore "$keystore" application sign --key issuer "$out" >/dev/null
}

# The consensus key `tally-node init` printed for home $1.
consensus_key_of() { sed -n 's/^consensus key: *//p' "$1.init"; }

# Forms the chain from the four operators' applications (as scripts/testnet.sh does) and
# makes, for the changes, umbrella's keys and application and globex's new home.
form_consortium() {
  local k member applications=()
  mkdir -p "$run_dir/operators"
  for ((k = 0; k < VALIDATORS; k++)); do
    member=${MEMBERS[$k]}
    mkdir -p "$run_dir/operators/$member"
    make_application "$k" "$run_dir/validator-$k" "$run_dir/operators/$member/application.json" \
      "$member" "validator-$k"
    applications+=("$run_dir/operators/$member/application.json")
  done
  "$BIN_DIR/tally-genesis" new --chain-id "$CHAIN_ID" --issuer-float 1000000 --out "$run_dir/draft.json" >/dev/null
  "$BIN_DIR/tally-genesis" add --draft "$run_dir/draft.json" "${applications[@]}" >/dev/null
  "$BIN_DIR/tally-genesis" finalize --draft "$run_dir/draft.json" --out "$run_dir/genesis.json" >/dev/null
  mkdir -p "$run_dir/operators/umbrella"
  make_application 4 "$run_dir/umbrella-0" "$run_dir/operators/umbrella/application.json" umbrella umbrella-0
  make_application 5 "$run_dir/validator-1b" "$run_dir/operators/globex/rotation.json" globex validator-1b
  for home in "$run_dir"/validator-{0,1,2,3,1b} "$run_dir/umbrella-0"; do
    cp "$run_dir/genesis.json" "$home/genesis.json"
  done
  # tally-bench funds its accounts from acme's issuer, which it reads from a key file (as
  # `tally-genesis init` lays them out); it is done funding before acme proposes anything.
  mkdir -p "$run_dir/members/acme"
  (umask 077 && "$BIN_DIR/tally" --keystore "$run_dir/operators/acme/keystore" keys export issuer \
    >"$run_dir/members/acme/issuer.key")
}

# Waits until node K's committed height reaches $2.
wait_height() {
  local deadline=$((SECONDS + WAIT_SECONDS_MAX)) h
  while true; do
    h=$(height_of "$1")
    [[ -n "$h" && "$h" -ge "$2" ]] && return
    ((SECONDS < deadline)) || fail "node $1 did not reach height $2 within ${WAIT_SECONDS_MAX}s"
    sleep 0.2
  done
}

# Waits until the log of the node in home $2 says $1.
wait_log() {
  local deadline=$((SECONDS + WAIT_SECONDS_MAX))
  until grep -q "$1" "$2/node.log" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "$2 did not log \"$1\" within ${WAIT_SECONDS_MAX}s"
    sleep 0.2
  done
}

# Waits until the process of node K exits (a validator voted out stops by itself).
wait_exit() {
  local deadline=$((SECONDS + WAIT_SECONDS_MAX))
  while kill -0 "${node_pids[$1]}" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "node $1 did not stop within ${WAIT_SECONDS_MAX}s"
    sleep 0.2
  done
  wait "${node_pids[$1]}" 2>/dev/null || true
  node_pids[$1]=""
}

# The current epoch's number and first height, from `tally gov status` (its first "epoch N
# from height H: V validators" line is the current epoch; scheduled ones follow).
current_epoch() {
  op_tally acme gov status | sed -n 's/^epoch \([0-9]*\) from height \([0-9]*\):.*/\1 \2/p' | head -1
}

# Carries out one change: acme proposes `$3...` (id $2) and the voters in `voters` vote yes;
# sets proposed_ms, passed_ms, epoch_start and appends NAME:PROPOSED:START to `marks`.
voters=()
marks=()
proposed_ms=0
passed_ms=0
epoch_start=0
change_by_vote() {
  local name=$1 id=$2 expected_epoch=$3 member status
  shift 3
  echo "==> change $name: acme proposes $1; ${voters[*]} vote" >&2
  proposed_ms=$(now_ms)
  op_tally acme gov propose "$@" --id "$id" --from issuer --wait >>"$run_dir/gov.log" ||
    fail "the proposal of $name was refused"
  for member in "${voters[@]}"; do
    op_tally "$member" gov vote "$id" yes --from issuer --wait >>"$run_dir/gov.log" ||
      fail "$member's vote on $name was refused"
  done
  passed_ms=$(now_ms)
  # The last vote committed on its member's node; acme's may be a block behind.
  local deadline=$((SECONDS + WAIT_SECONDS_MAX)) epoch
  while true; do
    status=$(op_tally acme gov show "$id" | sed -n 's/^proposal [0-9a-f]*: //p')
    [[ "$status" == passed ]] && break
    [[ "$status" == open ]] || fail "proposal $name is $status, not passed"
    ((SECONDS < deadline)) || fail "proposal $name still open after ${WAIT_SECONDS_MAX}s"
    sleep 0.2
  done
  while true; do
    read -r epoch epoch_start <<<"$(current_epoch)"
    [[ "$epoch" == "$expected_epoch" ]] && break
    ((SECONDS < deadline)) || fail "epoch $expected_epoch did not start within ${WAIT_SECONDS_MAX}s"
    sleep 0.2
  done
  marks+=("$name:$proposed_ms:$epoch_start")
  echo "    passed after $(seconds_between "$passed_ms" "$proposed_ms") s; epoch $epoch from height $epoch_start" >&2
}

# Waits for the K-th block of the epoch, then the window, before the next change.
settle() {
  wait_height 0 $((epoch_start + settle_blocks))
  sleep "$window"
  sleep 1
}

# Seconds from Unix ms $2 to Unix ms $1, and from Unix ms $1 to now.
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 1000 }'; }
seconds_since() { seconds_between "$(now_ms)" "$1"; }

# One run on a fresh chain; sets `lines` to its output lines.
lines=()
one_run() {
  local k=$1
  run_dir="$BENCH_ROOT/$STAMP-reconfig-run$k"
  mkdir -p "$run_dir"
  # Four validators, umbrella's node (base+4) and globex's new one (base+5).
  base=$(VALIDATORS=6 free_base_port)
  echo "==> run $k/$runs: forming $CHAIN_ID in $run_dir (ports $base.., HTTP $((base + 1000))..)" >&2
  local setup_deadline=$((SECONDS + SETUP_SECONDS_MAX))
  form_consortium
  local v
  for ((v = 0; v < VALIDATORS; v++)); do start_node "$v" "$run_dir/validator-$v"; done
  for ((v = 0; v < VALIDATORS; v++)); do wait_height "$v" 2; done

  echo "==> load: $rate transfers/s to validator-0 and validator-2" >&2
  "$BENCH_BIN" --net-dir "$run_dir" --nodes "$(http_of 0),$(http_of 2)" --rate "$rate" \
    --duration "$load_seconds" --accounts "$accounts" --drain-seconds "$DRAIN_SECONDS" \
    --tx-log "$run_dir/tx.log" --stop-file "$run_dir/stop" >"$run_dir/load.out" 2>"$run_dir/load.err" &
  load_pid=$!
  until grep -q '^tx ' "$run_dir/tx.log" 2>/dev/null; do
    kill -0 "$load_pid" 2>/dev/null || fail "tally-bench stopped; see load.err"
    ((SECONDS < setup_deadline)) || fail "the load did not start within ${SETUP_SECONDS_MAX}s"
    sleep 0.5
  done
  sleep "$window"
  sleep 1

  local -A validates=([params]=na [join]=na [remove]=na [rotate]=na)
  local -A votes=()

  voters=(globex initech)
  change_by_vote params 000000000000000000000000000000c1 1 set-params --block-txs-max 4000
  votes[params]=$(seconds_between "$passed_ms" "$proposed_ms")
  settle

  change_by_vote join 000000000000000000000000000000c2 2 add-member "$run_dir/operators/umbrella/application.json"
  votes[join]=$(seconds_between "$passed_ms" "$proposed_ms")
  start_node 4 "$run_dir/umbrella-0"
  wait_log "this node now validates" "$run_dir/umbrella-0"
  validates[join]=$(seconds_since "$passed_ms")
  settle

  # Five members now: a proposal needs four yes.
  voters=(globex initech umbrella)
  change_by_vote remove 000000000000000000000000000000c3 3 remove-validator "$(consensus_key_of "$run_dir/validator-3")"
  votes[remove]=$(seconds_between "$passed_ms" "$proposed_ms")
  wait_exit 3
  settle

  change_by_vote rotate 000000000000000000000000000000c4 4 rotate-key \
    "$(consensus_key_of "$run_dir/validator-1")" "$run_dir/operators/globex/rotation.json"
  votes[rotate]=$(seconds_between "$passed_ms" "$proposed_ms")
  start_node 5 "$run_dir/validator-1b"
  wait_exit 1
  wait_log "this node now validates" "$run_dir/validator-1b"
  validates[rotate]=$(seconds_since "$passed_ms")
  settle

  echo "==> stopping the load" >&2
  touch "$run_dir/stop"
  local deadline=$((SECONDS + DRAIN_SECONDS + 60))
  while kill -0 "$load_pid" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "tally-bench did not stop within $((DRAIN_SECONDS + 60))s"
    sleep 0.5
  done
  wait "$load_pid" || fail "tally-bench failed; see load.err"
  load_pid=""

  local change_args=() mark windows name
  for mark in "${marks[@]}"; do change_args+=(--change "$mark"); done
  marks=()
  windows=$("$BENCH_BIN" windows --tx-log "$run_dir/tx.log" --window-seconds "$window" \
    --settle-blocks "$settle_blocks" "${change_args[@]}") || fail "tally-bench windows failed"
  lines=()
  while read -r line; do
    name=$(sed -n 's/^change=\([a-z]*\) .*/\1/p' <<<"$line")
    lines+=("change=$name ${line#change=$name } votes_s=${votes[$name]} validates_s=${validates[$name]}")
  done <<<"$windows"
  lines+=("load: $(tail -1 "$run_dir/load.out")")
  stop_run
}

# Value of field $2 (name=value) in line $1.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
# The median of the numbers on stdin (the lower middle one for an even count); na if none.
median() { { grep -E '^[0-9.]+$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "na" }'; }

all_lines=()
for ((k = 1; k <= runs; k++)); do
  one_run "$k"
  for line in "${lines[@]}"; do
    echo "run $k/$runs $line"
    all_lines+=("$line")
  done
done
if [[ $runs -gt 1 ]]; then
  for name in params join remove rotate; do
    summary=""
    for figure in at_s before_blocks_per_s before_p50_ms before_p99_ms at_blocks_per_s at_p50_ms at_p99_ms \
      after_blocks_per_s after_p50_ms after_p99_ms votes_s validates_s; do
      value=$(for line in "${all_lines[@]}"; do
        if [[ "$line" == "change=$name "* ]]; then field "$line" "$figure"; fi
      done | median)
      summary+=" $figure=$value"
    done
    echo "median of $runs change=$name$summary"
  done
fi
