"""docs/operations.md and `plaza --help` describe the same flags.

Both are parsed: every flag's environment twin, default, range and meaning
must be the same in the documentation's table and in --help, and neither
may list a flag the other lacks.
"""

import os
import re
import subprocess

from conftest import PLAZA_BIN, ROOT

DOC = os.path.join(ROOT, "docs", "operations.md")

# "  --tick-hz   PLAZA_TICK_HZ   STATE ticks per second (default 30, 1 to 1000)"
HELP_LINE = re.compile(r"^  --(?P<flag>\S+)\s+(?P<env>PLAZA_\S+)\s+(?P<meaning>.*?) "
                       r"\(default (?P<default>[^,()]+)(?:, (?P<range>\S+ to \S+))?\)$")


def help_flags():
    p = subprocess.run([PLAZA_BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    flags = {}
    for line in p.stdout.splitlines():
        m = HELP_LINE.match(line)
        if m:
            flags[m["flag"]] = (m["env"], m["default"], m["range"] or None, m["meaning"])
        elif line.startswith("  --") and "PLAZA_" in line:
            raise AssertionError(f"--help line not understood: {line!r}")
    assert len(flags) >= 10, f"too few flags parsed from --help: {sorted(flags)}"
    return flags


def cell(text):
    """Markdown table cell to plain text: no backticks, `\\|` as `|`."""
    return text.strip().replace("\\|", "|").replace("`", "")


def doc_flags():
    with open(DOC, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = lines.index("| flag | env | default | range | meaning |")
    flags = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell(c) for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 5, f"docs row not understood: {line!r}"
        flag, env, default, rng, meaning = cells
        assert flag.startswith("--"), line
        flags[flag[2:]] = (env, default, None if rng in ("—", "-", "") else rng, meaning)
    return flags


def test_operations_doc_and_help_agree():
    doc, helped = doc_flags(), help_flags()
    assert sorted(doc) == sorted(helped), (
        f"only in docs: {sorted(set(doc) - set(helped))}; "
        f"only in --help: {sorted(set(helped) - set(doc))}")
    fields = ("env", "default", "range", "meaning")
    diffs = []
    for flag in helped:
        for name, d, h in zip(fields, doc[flag], helped[flag]):
            if d != h:
                diffs.append(f"--{flag} {name}: docs {d!r}, --help {h!r}")
    assert not diffs, "docs/operations.md and plaza --help differ:\n" + "\n".join(diffs)
