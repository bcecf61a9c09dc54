#!/usr/bin/env bash
# The nemesis harness over real tally-node processes (tests/chaos; README "Reliability").
#
# Usage: scripts/chaos.sh --seed N [--duration 30m] [--old-bin DIR] [--out DIR] [tally-chaos run options]
#   Builds tally-node (release) and the harness, installs the tools it needs if missing (ip, tc,
#   iptables, faketime, fallocate; Debian/Ubuntu), runs the seeded schedule and checks it. The
#   history (history.jsonl), verdict (verdict.json), final state and node logs go to --out
#   (default .chaos/seed-N-<time>/). Exit 0: valid; 1: a violation (the verdict names the first;
#   the command to reproduce it is printed); 2: the run could not be made.
#   Network namespaces need root; without it the run falls back to process faults on loopback
#   and says so. Other tally-chaos options: --nodes, --clients, --max-faults, --faults LIST, --loopback,
#   --resume-bound SECONDS, --tmpfs-mb MIB.
#
# Environment: CARGO_TARGET_DIR is honoured; TALLY_PROFILE=debug uses a debug build.
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=""
DURATION="5m"
OUT=""
PASS=()
ORIGINAL=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seed) SEED="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
if [[ -z "$SEED" ]]; then
  echo "chaos.sh: --seed N is required (any number; the same seed replays the same schedule)" >&2
  exit 2
fi
PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${OUT:-$PWD/.chaos/seed-$SEED-$(date -u +%Y%m%dT%H%M%SZ)}"

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v tc >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v faketime >/dev/null || need+=(faketime)
command -v fallocate >/dev/null || need+=(util-linux)
if [[ ${#need[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing ${need[*]}"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "chaos.sh: missing ${need[*]} (install them, or run as root on Debian/Ubuntu); faults that need them are skipped" >&2
  fi
fi

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally-node ($PROFILE) and the harness tally-chaos (dev: its speed does not matter)"
cargo build "${cargo_flags[@]}" -p tally-node
cargo build -p tally-chaos

# Whatever happens to the harness (Ctrl-C, a crash), leave no namespace, bridge or mount
# behind: the harness removes its own on exit; this catches a harness killed outright.
cleanup() {
  local pid=${CHAOS_PID:-}
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ -d "$OUT/net" ]]; then
    # Nodes the harness started (their PIDs in node.pid), if it died without stopping them.
    for pid_file in "$OUT"/net/validator-*/node.pid; do
      [[ -f "$pid_file" ]] || continue
      local node_pid
      node_pid=$(cat "$pid_file")
      # Braces, so that a process already gone (no /proc entry) makes no message either.
      if { tr '\0' ' ' <"/proc/$node_pid/cmdline"; } 2>/dev/null | grep -q tally-node; then kill -9 "$node_pid" 2>/dev/null || true; fi
    done
    for mount in $(awk -v dir="$OUT/net/" 'index($2, dir) == 1 {print $2}' /proc/mounts); do umount -l "$mount" 2>/dev/null || true; done
  fi
  if [[ -n "$pid" && $(id -u) -eq 0 ]]; then
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^tch${pid}n" || true); do ip netns del "$ns" || true; done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^tch${pid}" || true); do ip link del "$link" 2>/dev/null || true; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REPRO="scripts/chaos.sh ${ORIGINAL[*]}"
mkdir -p "$OUT"
echo "==> seed $SEED, duration $DURATION, output in $OUT"
set +e
"$TARGET_DIR/debug/tally-chaos" run --seed "$SEED" --duration "$DURATION" --bin-dir "$TARGET_DIR/$PROFILE" \
  --out "$OUT" --repro "$REPRO" "${PASS[@]}" &
CHAOS_PID=$!
wait "$CHAOS_PID"
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "==> FAILED (exit $status); node logs: $OUT/net/validator-K/node.log" >&2
  echo "==> reproduce with: $REPRO" >&2
fi
exit $status
