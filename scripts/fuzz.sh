#!/usr/bin/env bash
# Fuzzes every decoder of outside bytes (fuzz/, `cargo +nightly fuzz`, libFuzzer).
#
# Usage:
#   scripts/fuzz.sh --seconds N [TARGET...]   run each target (default: all) for N seconds
#   scripts/fuzz.sh --ci                      the brief run CI does (scripts/test.sh)
#   scripts/fuzz.sh --seeds                   only (re)build the seed corpora
#   scripts/fuzz.sh --list                    list the targets
#
# Seed corpora are built from the golden vectors (node/types/tests/golden), the genesis and
# badge examples, and the small seeds in fuzz/seeds; each run adds what it finds to
# fuzz/corpus/TARGET (not committed). Any crash, timeout or out-of-memory stops with exit 1
# and prints the command that reproduces it; the input is kept under fuzz/artifacts/TARGET.
# Targets are built without a sanitizer (`-s none`): the code under test forbids `unsafe`, so
# AddressSanitizer would only slow it down; overflow checks and debug assertions stay on.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(tx block consensus_msg wire proofs archive keystore genesis node_config jcs badge http consensus_core ledger_ops)
# Seconds per target in CI: 14 targets, about 80 s of fuzzing after the build. CI builds
# unoptimized (`--dev`): the build is most of the step (the instrumented dependency graph of the
# node and client), and cargo-fuzz's release build (one codegen unit per crate) took about
# twice as long from scratch; for a five-second smoke run of each target, build time matters
# more than executions per second. Longer runs (--seconds) build optimized.
CI_SECONDS=5
# Per input: slower than this is reported as a hang; more memory than this as a leak or
# an unbounded allocation.
TIMEOUT_S=10
RSS_LIMIT_MB=2048

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

seconds=""
mode=run
profile=release
selected=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --ci) seconds=$CI_SECONDS; profile=dev; shift ;;
    --seeds) mode=seeds; shift ;;
    --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) selected+=("$1"); shift ;;
  esac
done
[[ ${#selected[@]} -eq 0 ]] && selected=("${TARGETS[@]}")
for target in "${selected[@]}"; do
  [[ " ${TARGETS[*]} " == *" $target "* ]] || { echo "unknown target $target (scripts/fuzz.sh --list)" >&2; exit 2; }
done
if [[ $mode == run && ! $seconds =~ ^[0-9]+$ ]]; then
  echo "give --seconds N, --ci or --seeds" >&2
  usage
fi

# Seed corpora: each binary seed is the target's selector byte (the decoder it goes to, see
# the target's doc comment) followed by a golden value; fuzz/seeds/TARGET/SELECTOR/* are
# prefixed the same way, fuzz/seeds/TARGET/x/* are taken as they are.
build_seeds() {
  python3 - "$@" <<'PY'
import json, os, pathlib, struct, sys

root = pathlib.Path('.')
corpus = root / 'fuzz' / 'corpus'
def put(target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ('seed-' + name)).write_bytes(data)

vectors = json.loads((root / 'node/types/tests/golden/vectors.json').read_text())
wire = json.loads((root / 'node/types/tests/golden/wire.json').read_text())
values = {}
for value in vectors['values'] + wire['values']:
    values.setdefault(value['type_name'], []).append((value['name'], bytes.fromhex(value['bytes'])))

# type name -> [(target, selector prefix)]; enum tags are borsh's one-byte variant index.
routes = {
    'SignedTransaction': [('tx', b'\x00'), ('http', b'\x00'), ('http', b'\x02')],
    'Header': [('block', b'\x00')],
    'Block': [('block', b'\x01')],
    'Certificate': [('block', b'\x02'), ('consensus_msg', b'\x00\x02'), ('consensus_msg', b'\x03\x02')],
    'Proposal': [('consensus_msg', b'\x00\x00'), ('consensus_msg', b'\x02'), ('consensus_msg', b'\x03\x01')],
    'Vote': [('consensus_msg', b'\x00\x01'), ('consensus_msg', b'\x01'), ('consensus_msg', b'\x03\x00')],
    'ValidatorSet': [('consensus_msg', b'\x04')],
    'TxBatch': [('wire', b'\x00'), ('http', b'\x00'), ('http', b'\x04')],
    'BlockRequest': [('wire', b'\x01')],
    'BlockResponse': [('wire', b'\x02')],
    'CommittedBlock': [('wire', b'\x03')],
    'Receipt': [('proofs', b'\x00')],
    'MerkleProof': [('proofs', b'\x01')],
}
for type_name, items in values.items():
    for target, prefix in routes.get(type_name, []):
        for name, data in items:
            put(target, f'{name}-{prefix.hex()}', prefix + data)
# An unsigned transaction is a signed one without its 64-byte signature.
for name, data in values['SignedTransaction']:
    put('tx', f'{name}-unsigned', b'\x01' + data[:-64])
# An archive of the golden committed block (an ArchiveRecord is a block and its certificate,
# the same bytes as a CommittedBlock): header, one record, end marker.
chain_id = wire['chain_id'].encode()
header = b'TALLYARC' + struct.pack('<I', 1) + struct.pack('<I', len(chain_id)) + chain_id + bytes(32)
for name, record in values['CommittedBlock']:
    put('archive', name, header + struct.pack('<I', len(record)) + record + struct.pack('<I', 0) + struct.pack('<Q', 1))
put('archive', 'empty', header + struct.pack('<I', 0) + struct.pack('<Q', 0))

# Sign-state files: two slots (magic, chain, sequence, view, epoch, kind, digest), the
# checksums recomputed by the target (second byte 1).
def slot(sequence, view, kind):
    body = b'TLYSIGN1' + bytes([7]) * 16 + struct.pack('>Q', sequence) + struct.pack('>Q', view)
    body += struct.pack('>Q', 0) + bytes([kind]) + bytes([0x42]) * 32
    return body.ljust(128, b'\0')
put('node_config', 'sign-state', b'\x01\x01' + slot(4, 9, 2) + slot(5, 9, 4))
put('node_config', 'sign-state-fresh', b'\x01\x01' + slot(0, 0, 0) + slot(1, 0, 0))

# Text seeds: genesis, badges and their JCS, node configuration, HTTP requests.
put('genesis', 'golden-genesis', b'\x00' + (root / 'genesis/tests/data/golden-genesis.json').read_bytes())
for path in sorted((root / 'examples/badges').glob('*.json')):
    data = path.read_bytes()
    put('jcs', path.stem, data)
    put('badge', path.stem + '-0', b'\x00' + data)
    if path.name.endswith('.ob3.json'):
        put('badge', path.stem + '-2', b'\x02' + data)
        issuer = json.loads(data).get('issuer', {})
        did = issuer.get('id') if isinstance(issuer, dict) else issuer
        if did:
            put('badge', path.stem + '-did', b'\x04' + did.encode())
    if path.name == 'achievements.json':
        put('badge', 'achievements-3', b'\x03' + data)
alice = next(key for key in vectors['keys'] if key['name'] == 'alice')['address']
tx_hex = values['SignedTransaction'][0][1].hex()
requests = [
    f'GET /v1/accounts/{alice}\n\n', 'GET /v1/blocks/1\n\n', 'GET /v1/blocks/2/certificate\n\n',
    f'GET /v1/accounts/{alice}/history?limit=5\n\n', 'GET /v1/assets/ACME@acme\n\n',
    'GET /v1/state/proof?key=00\n\n', 'GET /v1/search?q=ACME\n\n', 'GET /v1/blocks?limit=2\n\n',
    f'POST /v1/txs?wait=commit\napplication/json\n{{"tx":"{tx_hex}"}}',
    f'POST /v1/txs\napplication/json\n[{{"tx":"{tx_hex}"}}]',
]
for index, request in enumerate(requests):
    put('http', f'request-{index}', b'\x03' + request.encode())

seeds = root / 'fuzz' / 'seeds'
for folder in sorted(seeds.glob('*/*')):
    target, selector = folder.parent.name, folder.name
    for path in sorted(folder.iterdir()):
        prefix = b'' if selector == 'x' else bytes([int(selector)])
        put(target, f'{selector}-{path.name}', prefix + path.read_bytes())
PY
}

build_seeds
[[ $mode == seeds ]] && { echo "seed corpora in fuzz/corpus"; exit 0; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]]; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

FUZZ=(cargo +nightly fuzz)
BUILD_FLAGS=(--sanitizer none)
[[ $profile == dev ]] && BUILD_FLAGS+=(--dev)
printf '\n==> building %d fuzz targets (cargo +nightly fuzz build %s)\n' "${#selected[@]}" "${BUILD_FLAGS[*]}"
start=$(date +%s)
if [[ ${#selected[@]} -eq ${#TARGETS[@]} ]]; then
  "${FUZZ[@]}" build "${BUILD_FLAGS[@]}"
else
  for target in "${selected[@]}"; do "${FUZZ[@]}" build "${BUILD_FLAGS[@]}" "$target"; done
fi
echo "built in $(( $(date +%s) - start )) s"

# The binaries are run directly (as `cargo fuzz run` does after its build), so that one build
# serves every target.
bin_dir="${CARGO_TARGET_DIR:-fuzz/target}/$(rustc +nightly -vV | sed -n 's/^host: //p')/$([[ $profile == dev ]] && echo debug || echo release)"
failed=0
for target in "${selected[@]}"; do
  printf '\n==> fuzzing %s for %s s\n' "$target" "$seconds"
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  log=$(mktemp)
  set +e
  "$bin_dir/$target" -artifact_prefix="fuzz/artifacts/$target/" \
    -max_total_time="$seconds" -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" \
    -print_final_stats=1 "fuzz/corpus/$target" >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|#[0-9]+ +DONE' "$log" || true
  if [[ $status -ne 0 ]]; then
    failed=1
    tail -n 60 "$log"
    artifact=$(grep -oE 'fuzz/artifacts/[^ ]+' "$log" | tail -n 1 || true)
    echo "FAILED: fuzz target $target (exit $status)"
    [[ -n $artifact ]] && echo "reproduce: cargo +nightly fuzz run ${BUILD_FLAGS[*]} $target $artifact"
  fi
  rm -f "$log"
done
exit $failed
