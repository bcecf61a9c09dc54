#!/bin/bash
# Checks that the unit tests can fail: applies each mutation of scripts/mutations.txt (file|from|to,
# "\\n" for a newline) alone, runs `node --test`, and reports whether the tests caught it. The
# source file is restored after each. Usage: scripts/mutate.sh < scripts/mutations.txt
cd "$(dirname "$0")/.."
backup=$(mktemp) output=$(mktemp)
trap 'rm -f "$backup" "$output"' EXIT
while IFS='|' read -r file from to; do
  [[ -z "$file" || "$file" == \#* ]] && continue
  cp "$file" "$backup"
  python3 - "$file" "$from" "$to" <<'PY'
import sys
p, a, b = [x.replace('\\n', '\n') for x in sys.argv[1:]]
s = open(p).read()
assert a in s, f"pattern not found in {p}: {a}"
open(p, 'w').write(s.replace(a, b, 1))
PY
  if npx tsc -p tsconfig.json >/dev/null 2>&1 && node --test dist/test/*.test.js >"$output" 2>&1; then
    echo "SURVIVED  $file: $from"
  else
    echo "caught    $file: $from  ($(grep -c '^not ok\|    not ok' "$output") failing)"
  fi
  cp "$backup" "$file"
done
npx tsc -p tsconfig.json >/dev/null 2>&1
