#!/usr/bin/env python3
"""Lists every Rust `fn` whose body is over 80 lines (issue 11: no function over 80 lines;
a long table is data, not code) and exits 1 if there is one.

Usage: python3 tests/long_fns.py [DIR...]   (default: src tests benches)
A body's length is counted from the line of its opening brace to the line of its closing
one. Comments, strings (raw ones too) and char literals are blanked before braces are
matched, so a brace inside them does not count. LIMIT in the environment changes the limit.
"""

import os
import re
import sys

LIMIT = int(os.environ.get("LIMIT", "80"))
FN = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
    r'(?:extern\s+"[^"]*"\s+)?fn\s+(\w+)'
)
RAW = re.compile(r'r(#*)"')
CHAR = re.compile(r"'(\\.[^']*|[^\\'])'")


def blank(text):
    """`text` with comments, strings and char literals turned to spaces (newlines kept)."""
    out, i, n = [], 0, len(text)

    def skip(j):
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        return j

    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = skip(n if j < 0 else j)
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = skip(n if j < 0 else j + 2)
        elif text[i] == "r" and RAW.match(text, i) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = RAW.match(text, i)
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            i = skip(n if j < 0 else j + len(end))
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = skip(j + 1)
        elif text[i] == "'" and CHAR.match(text, i):
            i = skip(CHAR.match(text, i).end())
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def body_start(lines, first):
    """(line, column) of the `{` opening the body of the fn declared at `first`, or None
    for a declaration without a body."""
    depth = 0
    for k in range(first, len(lines)):
        start = lines[k].index("fn") if k == first else 0
        for col in range(start, len(lines[k])):
            ch = lines[k][col]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                return None
            elif ch == "{" and depth <= 0:
                return k, col
    return None


def long_fns(path):
    """(line, name, body lines) of each fn in `path` over the limit."""
    with open(path, encoding="utf-8") as f:
        lines = blank(f.read()).split("\n")
    for first, line in enumerate(lines):
        m = FN.match(line)
        start = m and body_start(lines, first)
        if not start:
            continue
        k, col = start
        depth = 0
        for e in range(k, len(lines)):
            for ch in lines[e][col:] if e == k else lines[e]:
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth == 0:
                    break
            if depth == 0:
                if e - k + 1 > LIMIT:
                    yield first + 1, m.group(1), e - k + 1
                break


def main(roots):
    found = 0
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in ("target", "node_modules"))
            for name in sorted(files):
                if name.endswith(".rs"):
                    path = os.path.join(dirpath, name)
                    for line, fn, length in long_fns(path):
                        print(f"{path}:{line}: fn {fn} is {length} lines")
                        found += 1
    print(f"{found} fn(s) over {LIMIT} lines", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src", "tests", "benches"]))
