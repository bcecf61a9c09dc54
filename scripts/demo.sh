#!/usr/bin/env bash
# A walk through the `tally` client against a running local testnet (scripts/testnet.sh up):
# 1. credits: acme rewards developer 1 with 100 ACME for a client library, globex sells 500
#    GLOBEX to developer 2, developer 1 transfers 12.5 ACME to developer 2;
# 2. market: developer 1 offers 40 ACME at 1.5 GLOBEX each, developer 2 takes 20 of them, the
#    book and the open offer are shown, and developer 1 cancels the rest;
# 3. metered usage: developer 1 authorizes globex for 50 GLOBEX, globex holds 20 and settles
#    12.34 from a usage CSV of three calls; a repeated settle is refused;
# 4. badges: acme anchors three example badges in one transaction, one is verified step by
#    step from the genesis file alone, then revoked and verified again (fails at step 6);
# 5. audit: the whole chain is verified from the genesis file, over HTTP and from an archive
#    exported from the running node.
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
cargo build "${cargo_flags[@]}" -p tally-client --bin tally -p tally-node --bin tally-node
tally() { "$TARGET_DIR/$PROFILE/tally" "$@"; }

echo "==> node $TALLY_NODE"
echo "==> keys (in $TALLY_KEYSTORE)"
tally keys import acme-issuer --file "$NET_DIR/members/acme/issuer.key"
tally keys import globex-issuer --file "$NET_DIR/members/globex/issuer.key"
tally keys new dev1
tally keys new dev2
DEV1="$(tally --json keys show dev1 | sed -n 's/.*"address": *"\([^"]*\)".*/\1/p')"
WORK="$(mktemp -d)"
trap 'rm -rf "$TALLY_KEYSTORE" "$WORK"' EXIT

echo
echo "==> 1. credits: acme rewards dev1 for a client library; dev2 buys GLOBEX"
tally grant --asset ACME@acme --to dev1 --amount 100 --kind reward --reason client-library \
  --ref demo-lib-1 --from acme-issuer --wait
tally grant --asset GLOBEX@globex --to dev2 --amount 500 --kind purchase --ref demo-order-1 \
  --from globex-issuer --wait
tally transfer --asset ACME@acme --to dev2 --amount 12.5 --from dev1 --wait

echo
echo "==> 2. market: dev1 offers 40 ACME at 1.5 GLOBEX; dev2 takes 20 of them for 30 GLOBEX"
tally offer place --sell 40 ACME@acme --buy GLOBEX@globex --price 3/2 --from dev1 --wait
tally offer place --sell 30 GLOBEX@globex --buy ACME@acme --price 2/3 --from dev2 --wait
echo "-- book ACME@acme / GLOBEX@globex"
tally offer book ACME@acme GLOBEX@globex
echo "-- dev1's open offers"
tally offer list dev1
OFFER="$(tally --json offer list dev1 | sed -n 's/.*"offer_id": *"\([^"]*\)".*/\1/p' | head -1)"
echo "-- dev1 cancels the rest of its offer (unlocked again)"
tally offer cancel "$OFFER" --from dev1 --wait

echo
echo "==> 3. metered usage: dev1 authorizes globex; globex holds 20 GLOBEX and settles 12.34"
tally spend authorize --provider globex --asset GLOBEX@globex --cap 50 --expires 1d --from dev1 --wait
HOLD="$(tally --json hold --holder "$DEV1" --asset GLOBEX@globex --amount 20 --expires 1h \
  --from globex-issuer --wait | sed -n 's/.*"hold_id": *"\([^"]*\)".*/\1/p')"
echo "hold $HOLD"
cat > "$WORK/usage.csv" <<'CSV'
call_id,time_ms,endpoint,units,amount
req-0001,1760000000000,/v1/search,1,0.34
req-0002,1760000000500,/v1/search,10,2
req-0003,1760000001000,/v1/embed,250,10
CSV
BATCH="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
tally settle --hold "$HOLD" --batch "$BATCH" --usage "$WORK/usage.csv" --from globex-issuer --wait
echo "-- the same batch again (refused, nothing submitted):"
if tally settle --hold "$HOLD" --batch "$BATCH" --usage "$WORK/usage.csv" --from globex-issuer --wait; then
  echo "a repeated settle was accepted" >&2
  exit 1
fi

echo
echo "==> balances"
echo "-- dev1"
tally account dev1
echo "-- dev2"
tally account dev2

echo
echo "==> 4. badges: acme anchors three example badges, one is verified, then revoked"
for badge in assertion-client-library.json credential-published-application.ob3.json \
  credential-forum-support.ob3.jws; do
  cp "examples/badges/$badge" "$WORK/"
done
tally badge anchor "$WORK/assertion-client-library.json" \
  "$WORK/credential-published-application.ob3.json" "$WORK/credential-forum-support.ob3.jws" \
  --from acme-issuer
tally badge verify "$WORK/credential-forum-support.ob3.jws" --genesis "$NET_DIR/genesis.json"
REVOKED="$(tally --json badge receipt "$WORK/credential-forum-support.ob3.jws.receipt.json" \
  | sed -n 's/.*"badge_hash": *"\([^"]*\)".*/\1/p' | head -1)"
tally badge revoke "$REVOKED" --reason "issued in error" --from acme-issuer
echo "-- verify the revoked badge (must fail at step 6):"
if tally badge verify "$WORK/credential-forum-support.ob3.jws" --genesis "$NET_DIR/genesis.json"; then
  echo "a revoked badge verified" >&2
  exit 1
fi

echo
echo "==> 5. audit: the whole chain from the genesis file, over HTTP and from an exported archive"
tally audit --genesis "$NET_DIR/genesis.json"
"$TARGET_DIR/$PROFILE/tally-node" export --node "$TALLY_NODE" --out "$WORK/chain.archive"
tally audit --genesis "$NET_DIR/genesis.json" --archive "$WORK/chain.archive"
