#!/usr/bin/env python3
"""List non-test Rust functions longer than LIMIT lines (fn line to closing brace, inclusive)
that carry no reason comment ("// Not split" or "// Whole:") in the comment/attribute block
directly above them. Usage: scripts/long-fns.py [ROOT] [--all] (docs: the house issue, item 4)."""
import os, re, sys

LIMIT = 70
ROOTS = ["node", "client", "genesis", "tests/sim/src", "tests/chaos/src", "fuzz"]
SKIP_DIRS = {"tests", "benches", "examples", "target"}
REASON = re.compile(r"//\s*(Not split|Whole)\b")

def mask(src):
    """Replace the contents of comments, strings and char literals with spaces (keeping
    newlines), so braces and `fn` inside them are not seen."""
    out = list(src); i = 0; n = len(src)
    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n": out[k] = " "
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i); j = n if j < 0 else j
            blank(i, j); i = j
        elif src.startswith("/*", i):
            depth = 1; j = i + 2
            while j < n and depth:
                if src.startswith("/*", j): depth += 1; j += 2
                elif src.startswith("*/", j): depth -= 1; j += 2
                else: j += 1
            blank(i, j); i = j
        elif re.match(r'b?r(#*)"', src[i:i+40]) and (i == 0 or not (src[i-1].isalnum() or src[i-1] == "_")):
            m = re.match(r'b?r(#*)"', src[i:i+40]); end = '"' + m.group(1)
            j = src.find(end, i + m.end()); j = n if j < 0 else j + len(end)
            blank(i + m.end(), j - len(end)); i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i + 1, j); i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:i+12])
            if m: blank(i + 1, i + m.end() - 1); i += m.end()
            else: i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)

def match_brace(m, open_at):
    depth = 0
    for k in range(open_at, len(m)):
        if m[k] == "{": depth += 1
        elif m[k] == "}":
            depth -= 1
            if depth == 0: return k
    return len(m) - 1

def test_ranges(m):
    """Character ranges of items under #[cfg(test)] (modules and single fns)."""
    ranges = []
    for a in re.finditer(r"#\[cfg\(test\)\]", m):
        b = m.find("{", a.end()); semi = m.find(";", a.end())
        if b < 0 or (0 <= semi < b): continue
        ranges.append((a.start(), match_brace(m, b)))
    return ranges

def functions(path):
    src = open(path, encoding="utf-8").read()
    m = mask(src)
    lines = src.split("\n")
    tests = test_ranges(m)
    for f in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", m):
        if any(a <= f.start() <= b for a, b in tests): continue
        # The body opens at the first `{` outside parentheses/brackets; a `;` first means no body.
        depth = 0; k = f.end(); open_at = None
        while k < len(m):
            ch = m[k]
            if ch in "([": depth += 1
            elif ch in ")]": depth -= 1
            elif depth == 0 and ch == ";": break
            elif depth == 0 and ch == "{": open_at = k; break
            k += 1
        if open_at is None: continue
        close = match_brace(m, open_at)
        first = m.count("\n", 0, f.start()); last = m.count("\n", 0, close)
        length = last - first + 1
        # The comment/attribute block directly above the fn line (and the fn line's own prefix).
        above = []; j = first - 1
        while j >= 0 and re.match(r"\s*(//|#\[|#!\[|\*|/\*)", lines[j]):
            above.append(lines[j]); j -= 1
        reason = any(REASON.search(l) for l in above)
        yield first + 1, f.group(1), length, reason

def main():
    root = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "."
    show_all = "--all" in sys.argv
    found = 0
    for r in ROOTS:
        for d, dirs, files in os.walk(os.path.join(root, r)):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for name in sorted(files):
                if not name.endswith(".rs"): continue
                p = os.path.join(d, name)
                for line, fn, length, reason in functions(p):
                    if length > LIMIT and (show_all or not reason):
                        found += 1
                        print(f"{os.path.relpath(p, root)}:{line}: {fn} {length} lines" + ("  (reason given)" if reason else ""))
    if not show_all:
        print(f"{found} function(s) over {LIMIT} lines without a reason")
    return 1 if found and not show_all else 0

if __name__ == "__main__":
    sys.exit(main())
