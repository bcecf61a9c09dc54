#!/usr/bin/env bash
# Runs every check that CI runs: formatting, lints, and the whole test suite.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# A fresh machine has cargo from rustup; make sure the two components we use are there.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "no function over ~70 lines without a reason beside it (scripts/long-fns.py)"
if ! command -v python3 >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq python3 >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq python3 >/dev/null; fi
fi
python3 scripts/long-fns.py

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny check licenses bans (deny.toml; no network needed)"
# Pinned, built from crates.io once per machine (a few minutes on a fresh one).
if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny 0.20.2" ]]; then
  cargo install cargo-deny --version 0.20.2 --locked
fi
cargo deny --log-level error check licenses bans

# The nemesis test (tests/chaos) partitions nodes with iptables inside network namespaces and
# skews a clock with libfaketime; as root, install them if missing (without them it falls back
# to fewer faults and says so).
if [[ $(id -u) -eq 0 ]] && { ! command -v iptables >/dev/null 2>&1 || ! command -v faketime >/dev/null 2>&1; }; then
  step "installing iptables and faketime (Debian packages) for tests/chaos"
  apt-get update -qq && apt-get install -y -qq iptables faketime >/dev/null
fi

step "cargo test"
cargo test --workspace --locked

# Every fuzz target (fuzz/, nightly cargo-fuzz, both installed by the script if missing) for a
# few seconds each from the seed corpora: a decoder that panics on outside bytes fails CI.
step "fuzz targets, briefly (scripts/fuzz.sh --ci)"
scripts/fuzz.sh --ci

# The TypeScript SDK: unit and golden-vector tests, then the live test against a throwaway
# 4-validator network of the debug binaries `cargo test` just built. Node.js >= 20 from
# Debian's packages if the machine has none.
node_ok() { command -v npm >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; }
if ! node_ok; then
  step "installing Node.js and npm (Debian packages)"
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root apt-get install -y -qq nodejs >/dev/null
  command -v npm >/dev/null 2>&1 || as_root apt-get install -y -qq npm >/dev/null
  node_ok || { echo "the TypeScript SDK needs Node.js >= 20 with npm; found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
fi
step "TypeScript SDK (sdk/typescript): npm ci, npm test, npm run test:live"
(
  cd sdk/typescript
  npm ci --no-audit --no-fund --loglevel=error
  npm test
  TALLY_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}/debug" npm run test:live
)

# The HTTP API against its own OpenAPI document: schemathesis (pinned, pip into a venv under
# target/) with every check, seeded, against a throwaway 4-validator network of the same debug
# binaries; a short slice (scripts/api-fuzz.sh runs longer ones).
step "HTTP API against its OpenAPI document (scripts/api-fuzz.sh --max-examples 10)"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root apt-get install -y -qq python3-venv >/dev/null
fi
scripts/api-fuzz.sh --max-examples 10 --bin-dir "${CARGO_TARGET_DIR:-$PWD/target}/debug"

# Open Badges 3.0 credentials signed by `tally badge issue` verify with Digital Bazaar's
# eddsa-rdfc-2022 implementation, an independent one (npm packages; nothing fetched at run time).
step "OB 3.0 credentials verify with an independent implementation (tests/ob3-interop/run.sh)"
tests/ob3-interop/run.sh "${CARGO_TARGET_DIR:-$PWD/target}/debug"

# The explorer page embeds the SDK's compiled modules: they must be the ones this SDK builds.
step "explorer assets are current (scripts/explorer-assets.sh --check)"
scripts/explorer-assets.sh --check

# The explorer in a real browser: Debian's chromium, driven by playwright-core, against a
# throwaway 4-validator network of the debug binaries. Screenshots in target/explorer-screenshots.
if [[ ! -x /usr/bin/chromium ]]; then
  step "installing chromium (Debian package)"
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root apt-get install -y -qq chromium >/dev/null
fi
step "explorer in chromium (sdk/typescript: npm run test:browser)"
(
  cd sdk/typescript
  TALLY_BIN_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}/debug" \
    TALLY_SCREENSHOTS="${CARGO_TARGET_DIR:-$PWD/../../target}/explorer-screenshots" \
    npm run test:browser
)
