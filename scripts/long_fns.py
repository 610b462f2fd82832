#!/usr/bin/env python3
"""Lists functions longer than a bound (default 80 lines) in src/ and sim/, and exits 1 if any lacks a reason.

A function may be longer when the line just above it (its doc comment or attributes included) says why, in a
comment starting `// long:`. Relies on rustfmt's layout (the gate runs `cargo fmt --check` first): a function
ends at the first line that closes its body at the indentation it opened.
Usage: scripts/long_fns.py [max_lines]
"""
import pathlib
import re
import sys

MAX = int(sys.argv[1]) if len(sys.argv) > 1 else 80
FN = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?fn (\w+)")


def long_functions(path):
    lines = path.read_text().split("\n")
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        indent = m.group(1)
        end = next((j for j in range(i, len(lines)) if lines[j] == indent + "}"), None)
        if end is None or end - i + 1 <= MAX:
            continue
        above = i - 1
        while above >= 0 and lines[above].strip().startswith(("///", "#[", "// long:")):
            if lines[above].strip().startswith("// long:"):
                break
            above -= 1
        reason = above >= 0 and lines[above].strip().startswith("// long:")
        yield m.group(7), i + 1, end - i + 1, reason


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    unexplained = 0
    for base in ("src", "sim/src", "sim/tests", "sim/examples", "tests"):
        for path in sorted((root / base).rglob("*.rs")):
            for name, line, length, reason in long_functions(path):
                rel = path.relative_to(root)
                print(f"{rel}:{line}: fn {name} is {length} lines{' (reason given)' if reason else ''}")
                unexplained += not reason
    if unexplained:
        print(f"{unexplained} function(s) over {MAX} lines without a `// long:` reason", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
