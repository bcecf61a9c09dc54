#!/usr/bin/env bash
# Issues Open Badges 3.0 credentials with `tally badge issue --no-anchor` (every example
# achievement, to an account address and to an email address) and verifies them with Digital
# Bazaar's eddsa-rdfc-2022 implementation (verify.mjs); a credential with one claim changed
# must fail there. Usage: tests/ob3-interop/run.sh [TALLY_BIN_DIR]  (default: target/debug)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/debug}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
export TALLY_KEYSTORE="$work/keys" TALLY_PASSPHRASE="interop only"
"$bin/tally" keys new acme-issuer >/dev/null
"$bin/tally" keys new developer >/dev/null
developer="$("$bin/tally" --json keys show developer | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).address)')"
printf '%s\tsettled 1,000,000 calls\ndev@example.com\n' "$developer" >"$work/recipients.txt"
achievements="$root/examples/badges/achievements.json"
for id in $(node -e 'for (const a of JSON.parse(require("fs").readFileSync(process.argv[1]))) console.log(a.id)' "$achievements"); do
  "$bin/tally" badge issue --achievements "$achievements" --achievement "$id" \
    --recipients-file "$work/recipients.txt" --from acme-issuer --issuer-name "Acme APIs" \
    --valid-until 2030-01-01T00:00:00Z --evidence-uri https://badges.acme.example/evidence/1 \
    --out-dir "$work/issued" --no-anchor >/dev/null
done
node "$here/verify.mjs" "$work"/issued/*.ob3.json

# One claim changed: the independent verifier must refuse it.
first="$(ls "$work"/issued/*.ob3.json | head -n 1)"
sed 's/"name": "\([^"]*\)"/"name": "\1 (changed)"/' "$first" >"$work/changed.json"
if node "$here/verify.mjs" "$work/changed.json" >/dev/null; then
  echo "a credential with a changed claim verified" >&2
  exit 1
fi
echo "changed claim refused by the independent verifier, as it must be"
