#!/usr/bin/env bash
# Builds the TypeScript SDK and copies its ES modules, with the npm modules they import, into
# node/src/api/explorer_page, where the node binary embeds them for the explorer page (GET /).
# Run after changing the SDK; `--check` only reports whether the embedded copy is current
# (scripts/test.sh runs that).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/sdk/typescript"
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.build.json
cd "$root"
node scripts/lib/explorer-assets.mjs "$@"
