#!/usr/bin/env bash
# Open-loop load benchmark of a 4-validator Tally network, each run on its own fresh chain.
#
# Usage: scripts/bench.sh [--duration S] [--rate R] [--accounts N] [--runs N]
#                         [--against postgres] [--bin-dir DIR] [--keep] [TALLY-BENCH FLAGS...]
#   --duration S         seconds of load per run (default 20)
#   --rate R             transfers submitted per second, whatever the answers (default 500)
#   --accounts N         funded accounts (default 10000; 1000000 works, setup takes longer)
#   --runs N             runs, each on a fresh chain; prints every run, then the median
#   --against postgres   after each Tally run, run the same transfer workload on a durable
#                        local PostgreSQL (installed from Debian packages if missing, in a
#                        temporary cluster) and print both and the ratio Tally/PostgreSQL
#   --bin-dir DIR        run tally-node and tally-genesis from DIR (e.g. an older build, to
#                        compare) instead of this checkout's; tally-bench is always this one's
#   --build-ms-max MS    set each node's `engine.build_ms_max` (the time a leader aims to spend
#                        building a block; 0: blocks limited by count and bytes only)
#   --keep               keep each run's directory (genesis, data, logs) for a look afterwards
# Other flags go to tally-bench (see `tally-bench --help`, e.g. --single, --slice-ms).
#
# A run creates .bench/<time>-run<K>/ (genesis, keys, one node.toml per validator), starts 4
# nodes on free ports, waits until they commit, runs tally-bench (funding, pre-signing, the
# load, the drain), stops the nodes it started by PID and deletes the directory. It never
# touches a scripts/testnet.sh network; on an error or Ctrl-C it stops what it started.
# stdout gets one line per run:
#   run K/N: committed_tps=N p50_ms=N p99_ms=N submitted=N committed=N lost=N stranded=N late=N dropped=N
#            refused=N node_cpu_s=X bench_cpu_s=X accounts=N setup_s=X node_disk_mb=X node_rss_mb=X
# (latency: submit -> the generator seeing the block; CPU seconds during the load and drain;
# disk: validator-0's data directory after the run; RSS: the largest node's peak), then the
# median of each figure over the runs (the lower middle one for an even count); with
# --against postgres, a `postgres K/N:` line after each run and the ratio of the medians.
# Progress goes to stderr. The figures are a report, not a pass/fail check.
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
WAIT_SECONDS=60
PG_CLIENTS=16

duration=20
rate=500
accounts=10000
runs=1
against=""
bin_dir=""
keep=0
node_toml_extra=""
bench_flags=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --accounts | --senders) accounts=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --against) against=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --build-ms-max)
      [[ "$2" =~ ^[0-9]+$ ]] || { echo "bench.sh: --build-ms-max takes milliseconds, got \`$2\`" >&2; exit 2; }
      node_toml_extra=$'[engine]\nbuild_ms_max = '"$2"
      shift 2
      ;;
    --keep) keep=1; shift ;;
    *) bench_flags+=("$1"); shift ;;
  esac
done
for value in "$duration" "$rate" "$accounts" "$runs"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: expected a positive integer, got \`$value\`" >&2; exit 2; }
done
if [[ -n "$against" && "$against" != postgres ]]; then
  echo "bench.sh: --against takes \`postgres\`" >&2
  exit 2
fi

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# curl asks the nodes for their height; a fresh machine may lack it.
if ! command -v curl >/dev/null 2>&1; then
  echo "==> installing curl" >&2
  as_root apt-get update -qq && as_root apt-get install -y -qq curl >/dev/null
fi

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
  [[ -x "$NODE_BIN" ]] || { echo "bench.sh: no tally-node in $bin_dir" >&2; exit 2; }
fi
echo "==> nodes: $NODE_BIN" >&2

mkdir -p "$BENCH_ROOT"
# Everything under .bench/ is scratch: keep it out of git without touching the repository's
# own .gitignore.
[[ -f "$BENCH_ROOT/.gitignore" ]] || echo '*' >"$BENCH_ROOT/.gitignore"
STAMP="$(date +%Y%m%d-%H%M%S)"

# State the cleanup needs: what this script started and created.
node_pids=()
# The load generator or pgbench while one runs. They run in the background and the script
# waits for them, so that a signal is handled at once rather than when they finish.
client_pid=""
run_dir=""
pg_dir=""
pg_bin=""
pg_user=()

# Stops the nodes of the current run (by the PIDs this script recorded) and deletes its directory.
stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  node_pids=()
  if [[ -n "$run_dir" ]]; then
    if [[ $keep -eq 1 ]]; then echo "==> kept $run_dir" >&2; else rm -rf "$run_dir"; fi
    run_dir=""
  fi
}

# Runs "${@:2}" in the background, its stdout to file $1, and waits for it.
run_client() {
  local out=$1
  shift
  "$@" >"$out" &
  client_pid=$!
  local status=0
  wait "$client_pid" || status=$?
  client_pid=""
  return "$status"
}

cleanup() {
  if [[ -n "$client_pid" ]]; then
    kill "$client_pid" 2>/dev/null || true
    wait "$client_pid" 2>/dev/null || true
  fi
  stop_nodes
  pg_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

height_of() {
  { curl -fsS --max-time 2 "http://127.0.0.1:$1/v1/status" 2>/dev/null || true; } \
    | sed -n 's/.*"committed_height":\([0-9]*\).*/\1/p'
}

# Value of field $2 (name=value) in line $1.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# The median of the numbers on stdin (the lower middle one for an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# One Tally run on a fresh chain; sets `result` to its line. Runs in the script's own shell
# (not in a command substitution), so that the EXIT trap knows the nodes it started.
result=""
tally_run() {
  local k=$1 base
  run_dir="$BENCH_ROOT/$STAMP-run$k"
  base=$(free_base_port)
  echo "==> run $k/$runs: fresh chain in $run_dir (ports $base.., HTTP $((base + 1000))..)" >&2
  local output
  output=$("$GENESIS_BIN" init --chain-id tally-bench --validators "$VALIDATORS" --members acme,globex,initech \
    --out "$run_dir" --base-port "$base" --issuer-float 1000000 2>&1) || {
    echo "$output" >&2
    exit 1
  }
  local v dir
  for ((v = 0; v < VALIDATORS; v++)); do
    dir="$run_dir/validator-$v"
    write_node_toml "$dir" "$node_toml_extra"
    (cd "$dir" && exec "$NODE_BIN" run --config node.toml >>node.log 2>&1) &
    node_pids+=($!)
  done
  local deadline=$((SECONDS + WAIT_SECONDS)) ready h
  while true; do
    ready=0
    for ((v = 0; v < VALIDATORS; v++)); do
      h=$(height_of $((base + 1000 + v)))
      [[ -n "$h" && "$h" -ge 2 ]] && ready=$((ready + 1))
    done
    [[ $ready -eq $VALIDATORS ]] && break
    if ((SECONDS > deadline)); then
      echo "bench.sh: the nodes did not reach height 2 within ${WAIT_SECONDS}s; logs: $run_dir/validator-*/node.log" >&2
      keep=1
      exit 1
    fi
    sleep 0.5
  done
  local pids line
  pids=$(IFS=,; echo "${node_pids[*]}")
  run_client "$run_dir/result" "$BENCH_BIN" --net-dir "$run_dir" --duration "$duration" --rate "$rate" \
    --accounts "$accounts" --node-pids "$pids" "${bench_flags[@]}"
  line=$(tail -1 "$run_dir/result")
  local disk_mb rss_kb=0 pid kb
  disk_mb=$(du -sk "$run_dir/validator-0/data" | awk '{ printf "%.1f", $1 / 1024 }')
  for pid in "${node_pids[@]}"; do
    kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n "$kb" && "$kb" -gt "$rss_kb" ]] && rss_kb=$kb
  done
  stop_nodes
  result="$line node_disk_mb=$disk_mb node_rss_mb=$((rss_kb / 1024))"
}

# --- PostgreSQL ---------------------------------------------------------------------------

# The newest installed server's bin directory (Debian: /usr/lib/postgresql/<version>/bin).
find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

pg_install() {
  pg_bin=$(find_pg_bin)
  [[ -n "$pg_bin" && -x "$pg_bin/pgbench" ]] && return
  echo "==> installing PostgreSQL from the Debian packages (no cluster is created or started)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common >/dev/null
  # Debian creates and starts a `main` cluster on install unless told not to; this benchmark
  # runs its own, temporary one.
  local conf=/etc/postgresql-common/createcluster.conf
  if grep -Eq '^[#[:space:]]*create_main_cluster' "$conf" 2>/dev/null; then
    as_root sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$conf"
  else
    echo 'create_main_cluster = false' | as_root tee -a "$conf" >/dev/null
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
  pg_bin=$(find_pg_bin)
  [[ -n "$pg_bin" ]] || { echo "bench.sh: PostgreSQL did not install" >&2; exit 1; }
}

# Runs a server command as the cluster's owner: the server refuses to run as root.
pg_as_owner() { "${pg_user[@]}" "$@"; }

pg_port=""
pg_start() {
  pg_install
  pg_dir="$BENCH_ROOT/$STAMP-postgres"
  mkdir -p "$pg_dir"
  if [[ $(id -u) -eq 0 ]]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$pg_dir"
    pg_user=(runuser -u postgres --)
  else
    pg_user=()
  fi
  pg_port=$(free_base_port)
  echo "==> PostgreSQL ($("$pg_bin/postgres" --version)): temporary cluster in $pg_dir, port $pg_port" >&2
  pg_as_owner "$pg_bin/initdb" -D "$pg_dir/data" --auth=trust --username=postgres --encoding=UTF8 >"$pg_dir/initdb.log"
  # Durable like the ledger: every commit is flushed to disk before it is acknowledged.
  cat >>"$pg_dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 64
shared_buffers = 256MB
EOF
  pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w start >/dev/null
}

pg_stop() {
  [[ -n "$pg_dir" ]] || return 0
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || {
      local pid
      pid=$(head -1 "$pg_dir/data/postmaster.pid" 2>/dev/null || true)
      [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
    }
  fi
  if [[ $keep -eq 1 ]]; then echo "==> kept $pg_dir" >&2; else rm -rf "$pg_dir"; fi
  pg_dir=""
}

psql_bench() { PGOPTIONS="-c client_min_messages=warning" "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

# User + system clock ticks of process $1, with its waited-for children if $2 is 1.
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  awk -v children="$2" '{ t = $12 + $13; if (children == 1) t += $14 + $15; print t }' <<<"$stat"
}

# The same transfer workload on PostgreSQL: $accounts accounts, $PG_CLIENTS clients, for
# $duration seconds, closed loop (each client sends its next transfer when the last one
# committed: the most the server does). A transfer is one transaction: a double-entry UPDATE
# of two balances (in account order, so that two transfers never deadlock) and an INSERT of
# the transfer row keyed by a 32-byte transaction id, like a signed transfer's. Sets `result`.
pg_run() {
  local k=$1
  echo "==> postgres $k/$runs: $accounts accounts, $PG_CLIENTS clients, ${duration}s" >&2
  psql_bench -d postgres <<EOF
DROP DATABASE IF EXISTS bench;
CREATE DATABASE bench;
EOF
  psql_bench -d bench <<EOF
CREATE TABLE account (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE transfer (
  tx_id bytea PRIMARY KEY,
  from_id bigint NOT NULL,
  to_id bigint NOT NULL,
  amount bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO account SELECT id, 1000000 FROM generate_series(1, $accounts) AS id;
VACUUM ANALYZE;
CHECKPOINT;
EOF
  cat >"$pg_dir/transfer.sql" <<'EOF'
\set from random(1, :accounts)
\set to random(1, :accounts)
\set low least(:from, :to)
\set high greatest(:from, :to)
\set low_delta case when :low = :from then -1 else 1 end
\set nonce random(1, 9223372036854775806)
BEGIN;
UPDATE account SET balance = balance + :low_delta WHERE id = :low;
UPDATE account SET balance = balance - :low_delta WHERE id = :high;
INSERT INTO transfer (tx_id, from_id, to_id, amount)
  VALUES (sha256(convert_to(:client_id || '-' || :nonce, 'UTF8')), :from, :to, 1);
END;
EOF
  rm -f "$pg_dir"/pglog*
  local postmaster server_before client_before output
  postmaster=$(head -1 "$pg_dir/data/postmaster.pid")
  server_before=$(cpu_ticks "$postmaster" 1)
  # pgbench's CPU time reaches this shell's children's time once it has been waited for.
  client_before=$(cpu_ticks $$ 1)
  # pgbench writes its per-transaction logs to the working directory.
  cd "$pg_dir"
  run_client "$pg_dir/pgbench.out" "$pg_bin/pgbench" -h 127.0.0.1 -p "$pg_port" -U postgres \
    -n -M prepared -c "$PG_CLIENTS" -j 2 -T "$duration" -D accounts="$accounts" -f transfer.sql \
    --log --log-prefix=pglog bench || {
    cat "$pg_dir/pgbench.out" >&2
    echo "bench.sh: pgbench failed" >&2
    exit 1
  }
  cd - >/dev/null
  output=$(cat "$pg_dir/pgbench.out")
  local server_after client_after
  server_after=$(cpu_ticks "$postmaster" 1)
  client_after=$(cpu_ticks $$ 1)
  local tps processed failed
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$output" | tail -1)
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$output")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$output")
  # Per-transaction log lines: client, transaction number, latency in microseconds, ...
  local percentiles
  percentiles=$(cat "$pg_dir"/pglog* | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "0 0"; exit }
      r50 = int((50 * NR + 99) / 100); r99 = int((99 * NR + 99) / 100)
      printf "%.1f %.1f\n", v[r50] / 1000, v[r99] / 1000
    }')
  local ticks_per_second
  ticks_per_second=$(getconf CLK_TCK)
  printf -v result 'tps=%.0f p50_ms=%s p99_ms=%s committed=%s failed=%s clients=%s accounts=%s server_cpu_s=%.1f pgbench_cpu_s=%.1f' \
    "$tps" "${percentiles% *}" "${percentiles#* }" "$processed" "${failed:-0}" "$PG_CLIENTS" "$accounts" \
    "$(awk -v a="$server_after" -v b="$server_before" -v t="$ticks_per_second" 'BEGIN { print (a - b) / t }')" \
    "$(awk -v a="$client_after" -v b="$client_before" -v t="$ticks_per_second" 'BEGIN { print (a - b) / t }')"
}

# --- runs ----------------------------------------------------------------------------------

[[ "$against" == postgres ]] && pg_start
tally_lines=()
pg_lines=()
for ((k = 1; k <= runs; k++)); do
  tally_run "$k"
  tally_lines+=("$result")
  echo "run $k/$runs: $result"
  if [[ "$against" == postgres ]]; then
    pg_run "$k"
    pg_lines+=("$result")
    echo "postgres $k/$runs: $result"
  fi
done

tally_median() { for line in "${tally_lines[@]}"; do field "$line" "$1"; done | median; }
pg_median() { for line in "${pg_lines[@]}"; do field "$line" "$1"; done | median; }
if [[ $runs -gt 1 ]]; then
  summary=""
  for name in committed_tps p50_ms p99_ms submitted committed lost stranded late dropped refused node_cpu_s bench_cpu_s \
    setup_s node_disk_mb node_rss_mb; do
    summary+=" $name=$(tally_median "$name")"
  done
  echo "median of $runs:$summary"
  if [[ "$against" == postgres ]]; then
    summary=""
    for name in tps p50_ms p99_ms committed failed server_cpu_s pgbench_cpu_s; do
      summary+=" $name=$(pg_median "$name")"
    done
    echo "postgres median of $runs:$summary"
  fi
fi
if [[ "$against" == postgres ]]; then
  tally_tps=$(tally_median committed_tps)
  pg_tps=$(pg_median tps)
  echo "ratio tally/postgres: $(awk -v t="$tally_tps" -v p="$pg_tps" 'BEGIN { if (p > 0) printf "%.2f", t / p; else print "na" }') (committed_tps=$tally_tps vs tps=$pg_tps)"
fi
