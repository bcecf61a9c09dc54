#!/usr/bin/env bash
# Mutation testing (cargo-mutants) over the code that moves money and decides what is final:
# the ledger's executor (transfer, grant, burn, order matching, holds and settlement), the
# consensus core's vote counting and certificate intake, the certificate and proposal checks,
# and the codec. Each mutant must make a test of its own crate fail. Survivors judged harmless
# (equivalent mutants) are listed, with the reason, in docs/ARCHITECTURE.md "Testing".
#
# Usage: scripts/mutants.sh [--timeout SECONDS] [OUT_DIR]
# Hours on 2 cores (about 360 mutants, most of a minute each with the crate's tests); not run
# by CI. Results: OUT_DIR/<area>/mutants.out/{caught,missed,timeout,unviable}.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout=300
if [[ "${1:-}" == "--timeout" ]]; then timeout=$2; shift 2; fi
out=${1:-target/mutants}
if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install cargo-mutants --version 27.1.0 --locked
fi
# Vote counting and certificate checks of the consensus core and of tally-types.
consensus='::(on_vote|add_vote|try_notarize|try_commit|certifies|certificate_slot|certificate|verify_vote|verify_certificate|on_certificate|on_certificate_message|quorum|max_faulty|from_votes|checked_signers|signer_indices|verify_with|verify_batch_with|verify)( |$)'
run() {
  local area=$1; shift
  echo "==> $area"
  # Debug info off: most of a mutant's time is linking test binaries.
  CARGO_PROFILE_DEV_DEBUG=0 cargo mutants --no-shuffle -j 1 --timeout "$timeout" --output "$out/$area" "$@" || true
  for kind in missed timeout; do
    if [[ -s "$out/$area/mutants.out/$kind.txt" ]]; then sed "s/^/  $kind: /" "$out/$area/mutants.out/$kind.txt"; fi
  done
}
run codec -f node/types/src/codec.rs
run ledger -f node/ledger/src/execute/market.rs -f node/ledger/src/execute/holds.rs \
  -f node/ledger/src/execute/mod.rs -F 'market.rs|holds.rs|::(transfer|grant|burn)( |$)'
run consensus-core -f node/consensus/src/core.rs -F "$consensus"
run consensus-types -f node/types/src/consensus.rs -F "$consensus"
