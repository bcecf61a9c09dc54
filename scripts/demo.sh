#!/usr/bin/env bash
# A walk through the `tally` client against a running local testnet (scripts/testnet.sh up):
# import the acme issuer key, create two developer keys, grant 100 ACME to developer 1,
# transfer 12.5 ACME from developer 1 to developer 2, and print both balances.
#
# Usage: scripts/demo.sh
# Environment: TALLY_NODE (default http://127.0.0.1:28000, the testnet's first node at the
# default base port); TALLY_PROFILE=debug uses a debug build of `tally`; CARGO_TARGET_DIR is
# honoured. Keys go to a fresh temporary keystore (passphrase "demo"), removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${TALLY_PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
NET_DIR="$PWD/.testnet"
export TALLY_NODE="${TALLY_NODE:-http://127.0.0.1:28000}"
export TALLY_PASSPHRASE="demo"
TALLY_KEYSTORE="$(mktemp -d)"
export TALLY_KEYSTORE
trap 'rm -rf "$TALLY_KEYSTORE"' EXIT

if [[ ! -f "$NET_DIR/members/acme/issuer.key" ]]; then
  echo "no testnet in $NET_DIR; start one with scripts/testnet.sh up" >&2
  exit 1
fi

cargo_flags=()
[[ "$PROFILE" == release ]] && cargo_flags+=(--release)
echo "==> building tally ($PROFILE)"
cargo build "${cargo_flags[@]}" -p tally-client --bin tally
tally() { "$TARGET_DIR/$PROFILE/tally" "$@"; }

echo "==> node $TALLY_NODE"
echo "==> keys (in $TALLY_KEYSTORE)"
tally keys import acme-issuer --file "$NET_DIR/members/acme/issuer.key"
tally keys new dev1
tally keys new dev2

echo "==> grant 100 ACME@acme to dev1"
tally grant --asset ACME@acme --to dev1 --amount 100 --kind purchase --ref demo-order-1 \
  --from acme-issuer --wait

echo "==> transfer 12.5 ACME@acme from dev1 to dev2"
tally transfer --asset ACME@acme --to dev2 --amount 12.5 --from dev1 --wait

echo "==> balances"
echo "-- dev1"
tally account dev1
echo "-- dev2"
tally account dev2
