#!/usr/bin/env bash
# A walk through the `tally` client against a running local testnet (scripts/testnet.sh up):
# 1. credits: acme rewards developer 1 with 100 ACME for a client library, globex sells 500
#    GLOBEX to developer 2, developer 1 transfers 12.5 ACME to developer 2;
# 2. market: developer 1 offers 40 ACME at 1.5 GLOBEX each, developer 2 takes 20 of them, the
#    book and the open offer are shown, and developer 1 cancels the rest;
# 3. metered usage: developer 1 authorizes globex for 50 GLOBEX, globex holds 20 and settles
#    12.34 from a usage CSV of three calls; a repeated settle is refused;
# 4. prices: each provider publishes the next version of its example plan (examples/pricing)
#    and retires the one before, the plans are listed in one form, 250 search queries are quoted
#    under every plan that prices them (and in ACME where a market trades), developer 1 agrees to acme's
#    plan, and acme's settlement of the queries is refused at 3.50 ACME and taken at the 3.00
#    the plan gives;
# 5. badges: acme anchors three badges in one transaction (this run's copies of three examples:
#    an Open Badges 2.0 assertion, a 3.0 credential and a 3.0 credential as a JWS), one is
#    verified step by step from the genesis file alone, then revoked and verified again (fails
#    at step 6);
# 5b. ledger-proven badges (examples/badges/milestones.json): acme settles usage for two of dev1's
#    applications; issues dev1 its client-library badge (refused for dev2); awards api-calls,
#    several-applications, spend and revenue badges (a second award run awards nothing); prints
#    the community figures (badges anchored per achievement, each proven from the genesis file);
#    one is verified in ten steps, revoked, and fails at step 6;
# 6. governance: the members vote the threshold to 3/4 and back;
# 7. audit: the whole chain is verified from the genesis file, over HTTP and from an archive
#    exported from the running node.
#
# Every run makes fresh ids (grants, offers, holds, batches, keys) and fresh badges, so the demo
# runs again on a resumed chain (scripts/testnet.sh up a second time) and shows the same steps.
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

# openssl signs this run's JWS badge; a fresh machine may lack it.
if ! command -v openssl >/dev/null 2>&1; then
  echo "==> installing openssl"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq openssl >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq openssl >/dev/null; fi
fi

if [[ ! -f "$NET_DIR/genesis.json" ]]; then
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
# The demo acts for two members: it copies their issuer keys from the operators' keystores
# (same passphrase) into its own. A .testnet made by an older version kept them as files.
for member in acme globex; do
  if [[ -d "$NET_DIR/operators/$member/keystore" ]]; then
    tally --keystore "$NET_DIR/operators/$member/keystore" keys export issuer | tally keys import "$member-issuer"
  else
    tally keys import "$member-issuer" --file "$NET_DIR/members/$member/issuer.key"
  fi
done
tally keys new dev1
tally keys new dev2
DEV1="$(tally --json keys show dev1 | sed -n 's/.*"address": *"\([^"]*\)".*/\1/p')"
DEV2="$(tally --json keys show dev2 | sed -n 's/.*"address": *"\([^"]*\)".*/\1/p')"
WORK="$(mktemp -d)"
trap 'rm -rf "$TALLY_KEYSTORE" "$WORK"' EXIT

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
b64url_decode() {
  local text=$1
  while ((${#text} % 4)); do text+="="; done
  tr '_-' '/+' <<<"$text" | base64 -d
}

# Writes this run's badges into $1: the OB 2.0 assertion and OB 3.0 credential of
# examples/badges with a new id, evidence id and issuance time, and the OB 3.0 JWS with a new
# id and time, signed with a fresh Ed25519 key.
fresh_badges() {
  local out=$1 run_hex run_uuid now now_s
  run_hex="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  run_uuid="${run_hex:0:8}-${run_hex:8:4}-4${run_hex:13:3}-a${run_hex:17:3}-${run_hex:20:12}"
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  now_s="$(date -u +%s)"
  sed -e "s#/assertions/[0-9a-f]*\.json#/assertions/$run_hex.json#" \
    -e "s#/evidence/[0-9a-f]*\"#/evidence/$run_hex\"#" \
    -e "s#\"issuedOn\": \"[^\"]*\"#\"issuedOn\": \"$now\"#" \
    examples/badges/assertion-client-library.json >"$out/assertion-client-library.json"
  sed -e "s#\"id\": \"urn:uuid:[0-9a-f-]*\"#\"id\": \"urn:uuid:$run_uuid\"#" \
    -e "s#/evidence/[0-9a-f]*\"#/evidence/$run_hex\"#" \
    -e "s#\"validFrom\": \"[^\"]*\"#\"validFrom\": \"$now\"#" \
    examples/badges/credential-published-application.ob3.json >"$out/credential-published-application.ob3.json"
  local example header payload key signature
  example="$(cat examples/badges/credential-forum-support.ob3.jws)"
  key="$out/jws-signing-key.pem"
  openssl genpkey -algorithm ed25519 -out "$key" 2>/dev/null
  # The raw 32-byte public key is the tail of its DER encoding.
  header="$(printf '{"alg":"EdDSA","typ":"JWT","kid":"https://badges.acme.example/keys/%s","jwk":{"kty":"OKP","crv":"Ed25519","x":"%s"}}' \
    "$run_hex" "$(openssl pkey -in "$key" -pubout -outform DER | tail -c 32 | b64url)" | b64url)"
  payload="$(b64url_decode "$(cut -d. -f2 <<<"$example")" \
    | sed -e "s#urn:uuid:[0-9a-f-]*#urn:uuid:$run_uuid#g" -e "s#\"nbf\":[0-9]*#\"nbf\":$now_s#" \
      -e "s#\"issuanceDate\":\"[^\"]*\"#\"issuanceDate\":\"$now\"#" | b64url)"
  printf '%s.%s' "$header" "$payload" >"$out/jws-signing-input"
  signature="$(openssl pkeyutl -sign -inkey "$key" -rawin -in "$out/jws-signing-input" | b64url)"
  # The secret half is not needed again: the token carries what verifies it.
  rm -f "$key" "$out/jws-signing-input"
  printf '%s.%s.%s' "$header" "$payload" "$signature" >"$out/credential-forum-support.ob3.jws"
  local file
  for file in assertion-client-library.json credential-published-application.ob3.json \
    credential-forum-support.ob3.jws; do
    if cmp -s "examples/badges/$file" "$out/$file"; then
      echo "could not make a fresh copy of examples/badges/$file" >&2
      exit 1
    fi
  done
}

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
echo "==> 4. prices: the providers publish price plans; dev1 agrees to acme's, which the ledger enforces"
# Each run publishes the next version of each example plan and retires the one before (a
# version never changes once published), so a resumed chain shows the same steps.
publish_plan() { # member file
  local member="$1" file="$2" plan version
  plan="$(sed -n 's/.*"plan_id": *"\([^"]*\)".*/\1/p' "$file" | head -1)"
  # The newest version published so far (every version is listed, retired ones too).
  version="$(tally --json price list --provider "$member" \
    | { grep -o "\"plan_id\":\"$plan\"[^{}]*\"version\":[0-9]*" || true; } \
    | sed 's/.*://' | sort -n | tail -1)"
  version="${version:-0}"
  sed "s/\"version\": *[0-9]*/\"version\": $((version + 1))/" "$file" >"$WORK/$member-plan.json"
  # A command substitution does not stop the script on its own: fail by hand.
  tally price publish "$WORK/$member-plan.json" --from "$member-issuer" --wait >&2 || return 1
  if [ "$version" -gt 0 ]; then
    tally price retire "$plan@$version" --from "$member-issuer" --wait >&2 || return 1
  fi
  echo "$plan@$((version + 1))"
}
ACME_PLAN="$(publish_plan acme examples/pricing/acme-standard.json)"
GLOBEX_PLAN="$(publish_plan globex examples/pricing/globex-tokens.json)"
# initech and hooli act too when the chain has all four members (their keys are copied as
# acme's and globex's were; step 6 votes with them).
ALL_MEMBERS=false
if tally --json gov status | grep -q '"active_members": *4'; then
  ALL_MEMBERS=true
  for member in initech hooli; do
    tally --keystore "$NET_DIR/operators/$member/keystore" keys export issuer | tally keys import "$member-issuer"
  done
  publish_plan initech examples/pricing/initech-maps.json >/dev/null
  publish_plan hooli examples/pricing/hooli-search.json >/dev/null
fi
echo "-- every provider's plans (a retired version stays readable), in one form"
tally price list
tally price show acme "${ACME_PLAN%@*}"
# 250 search queries: acme's, globex's and hooli's plans price them (acme: 100 free per hold,
# then 0.02 ACME each; globex: 0.03 GLOBEX each; hooli: 50 free, then 0.018 HOOLI each); the
# market's last ACME/GLOBEX price (step 2) converts GLOBEX, and HOOLI has no market yet.
echo "-- what these 250 queries cost under every active plan that prices search queries, and in ACME"
tally price quote --usage examples/pricing/search.csv --in ACME@acme
tally spend authorize --provider acme --asset ACME@acme --cap 20 --expires 1d --plan "$ACME_PLAN" \
  --from dev1 --wait
HOLD="$(tally --json hold --holder "$DEV1" --asset ACME@acme --amount 10 --expires 1h \
  --from acme-issuer --wait | sed -n 's/.*"hold_id": *"\([^"]*\)".*/\1/p')"
echo "hold $HOLD under $ACME_PLAN"
echo "-- acme claims 3.50 ACME for the queries (refused by the ledger: the plan gives 3.00):"
BATCH="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
if tally settle --hold "$HOLD" --batch "$BATCH" --usage examples/pricing/search.csv --amount 3.50 \
  --from acme-issuer --wait; then
  echo "an over-charge was accepted" >&2
  exit 1
fi
echo "-- acme settles what the plan gives:"
tally settle --hold "$HOLD" --batch "$BATCH" --usage examples/pricing/search.csv --from acme-issuer --wait

echo
echo "==> balances"
echo "-- dev1"
tally account dev1
echo "-- dev2"
tally account dev2

echo
echo "==> 5. badges: acme anchors three badges issued in this run, one is verified, then revoked"
# A badge is anchored once per chain (the same bytes again are refused as duplicate_badge_root),
# so each run issues its own: copies of the examples with this run's id and issuance time. The
# JWS is signed again with a throwaway key, put in its header, as the example was.
fresh_badges "$WORK"
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
echo "==> 5b. badges the ledger proves: usage for two applications, then issue, award, verify, revoke"
# acme settles three more batches of dev1's search queries under its plan, naming the
# application each was for: with step 4's batch, 1,000 units for two applications.
for app in weather-bot news-bot weather-bot; do
  HOLD="$(tally --json hold --holder "$DEV1" --asset ACME@acme --amount 10 --expires 1h \
    --from acme-issuer --wait | sed -n 's/.*"hold_id": *"\([^"]*\)".*/\1/p')"
  BATCH="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  tally settle --hold "$HOLD" --batch "$BATCH" --usage examples/pricing/search.csv --app "$app" \
    --from acme-issuer --wait
done
MILESTONES=examples/badges/milestones.json
ACHIEVEMENTS=https://badges.acme.example/achievements
tally badge achievement validate "$MILESTONES"
echo "-- acme issues its client-library badge to dev1 (proven by step 1's reward grant)"
tally badge issue --achievements "$MILESTONES" --achievement "$ACHIEVEMENTS/client-library" \
  --recipient "$DEV1" --from acme-issuer --genesis "$NET_DIR/genesis.json" --out-dir "$WORK/issued"
echo "-- the same badge for dev2, who has no such grant (refused, nothing signed):"
if tally badge issue --achievements "$MILESTONES" --achievement "$ACHIEVEMENTS/client-library" \
  --recipient "$DEV2" --from acme-issuer --genesis "$NET_DIR/genesis.json" --out-dir "$WORK/refused"; then
  echo "a badge was issued to an account that does not meet its rule" >&2
  exit 1
fi
# The progress files live with the testnet, so a second run goes on from where this one stopped.
award() {
  tally badge award --rule "examples/badges/rules/$1.json" --from acme-issuer \
    --genesis "$NET_DIR/genesis.json" --out-dir "$WORK/award-$1" --progress "$NET_DIR/award-$1.json"
}
for rule in api-calls-1k several-applications acme-customer revenue-generated; do
  echo "-- award $rule"
  award "$rule"
done
echo "-- award api-calls-1k again from height 1 (the ledger shows every badge already awarded):"
AGAIN="$(tally --json badge award --rule examples/badges/rules/api-calls-1k.json --from acme-issuer \
  --genesis "$NET_DIR/genesis.json" --out-dir "$WORK/award-again" \
  --progress "$NET_DIR/award-api-calls-1k.json" --from-height 1)"
if ! grep -q '"awarded": *\[\]' <<<"$AGAIN"; then
  echo "a second award run awarded again: $AGAIN" >&2
  exit 1
fi
echo "-- the community figures: acme's badges anchored per achievement, each proven by a state proof"
tally badge figures --member acme --genesis "$NET_DIR/genesis.json"
CREDENTIAL="$(ls "$WORK"/award-api-calls-1k/*.ob3.json | head -1)"
echo "-- verify dev1's api-calls-1k credential: ten steps, the last one the ledger's usage counter"
tally badge verify "$CREDENTIAL" --genesis "$NET_DIR/genesis.json"
PROVEN="$(tally --json badge receipt "$CREDENTIAL.receipt.json" \
  | sed -n 's/.*"badge_hash": *"\([^"]*\)".*/\1/p' | head -1)"
tally badge revoke "$PROVEN" --reason "demo: revoked after verifying" --from acme-issuer
echo "-- verify it again (must fail at step 6):"
if tally badge verify "$CREDENTIAL" --genesis "$NET_DIR/genesis.json"; then
  echo "a revoked badge verified" >&2
  exit 1
fi

echo
echo "==> 6. governance: the members vote the threshold to 3/4 and back to more than 2/3"
# Each member votes with its own governance key (its issuer key); the demo holds all four.
if $ALL_MEMBERS; then
  gov_id() { tally --json gov propose "$@" | sed -n 's/.*"proposal_id": *"\([^"]*\)".*/\1/p'; }
  RAISE="$(gov_id set-threshold 3/4 --from acme-issuer --wait)"
  for member in globex initech; do tally gov vote "$RAISE" yes --from "$member-issuer" --wait; done
  tally gov show "$RAISE"
  LOWER="$(gov_id set-threshold 2/3 --from acme-issuer --wait)"
  tally gov vote "$LOWER" yes --from globex-issuer --wait
  tally gov vote "$LOWER" yes --from initech-issuer --wait
  echo "-- three of four is not more than 3/4: still open"
  tally gov show "$LOWER"
  tally gov vote "$LOWER" yes --from hooli-issuer --wait
  tally gov status
else
  echo "(skipped: this chain was made before governance; run scripts/testnet.sh down, then up)"
fi

echo
echo "==> 7. audit: the whole chain from the genesis file, over HTTP and from an exported archive"
tally audit --genesis "$NET_DIR/genesis.json"
"$TARGET_DIR/$PROFILE/tally-node" export --node "$TALLY_NODE" --out "$WORK/chain.archive"
tally audit --genesis "$NET_DIR/genesis.json" --archive "$WORK/chain.archive"
