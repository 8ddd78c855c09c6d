"""docs/operations.md and `plaza --help` describe the same flags.

Both are parsed: every flag's environment twin, default, range and meaning
must be the same in the documentation's table and in --help, and neither
may list a flag the other lacks, `--help` and `--version` included. Every
row of --help is in columns: the variables and the meanings each start at
one offset. `--version` prints the version the build was made with.
"""

import os
import re
import subprocess

import pytest

from conftest import PLAZA_BIN, ROOT

DOC = os.path.join(ROOT, "docs", "operations.md")

# "  --tick-hz   PLAZA_TICK_HZ   STATE ticks per second (default 30, 1 to 1000)"
HELP_LINE = re.compile(r"^  --(?P<flag>\S+)\s+(?P<env>PLAZA_\S+)\s+(?P<meaning>.*?) "
                       r"\(default (?P<default>[^,()]+)(?:, (?P<range>\S+ to \S+))?\)$")
# "  --version      print the version and exit": the flags with no variable.
BARE_LINE = re.compile(r"^  --(?P<flag>\S+)\s+(?P<meaning>[^-\s].*)$")


def help_text():
    p = subprocess.run([PLAZA_BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout


def help_flags():
    """The flags of --help that have a variable (the settings)."""
    return {f: v for f, v in help_rows().items() if v[0] is not None}


def help_rows():
    """Every --help row: flag -> (env, default, range, meaning); env, default
    and range are None for --help and --version."""
    rows = {}
    for line in help_text().splitlines():
        if not line.startswith("  --"):
            continue
        m = HELP_LINE.match(line)
        if m:
            rows[m["flag"]] = (m["env"], m["default"], m["range"] or None, m["meaning"])
            continue
        m = BARE_LINE.match(line)
        if m is None or "PLAZA_" in line:
            raise AssertionError(f"--help line not understood: {line!r}")
        rows[m["flag"]] = (None, None, None, m["meaning"])
    assert len(rows) >= 10, f"too few flags parsed from --help: {sorted(rows)}"
    return rows


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
        flags[flag[2:]] = tuple(None if v in ("—", "-", "") else v
                                for v in (env, default, rng)) + (meaning,)
    return flags


def test_operations_doc_and_help_agree():
    doc, helped = doc_flags(), help_rows()
    assert "help" in helped and "version" in helped, sorted(helped)
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


def test_help_rows_are_aligned():
    """Each column starts at the same offset on every row, however long
    a flag or its variable is (--max-sessions-per-user once was not)."""
    text = help_text()
    env_cols, meaning_cols = set(), set()
    for line in text.splitlines():
        if not line.startswith("  --"):
            continue
        m = HELP_LINE.match(line)
        if m:
            env_cols.add(m.start("env"))
            meaning_cols.add(m.start("meaning"))
        else:
            meaning_cols.add(BARE_LINE.match(line).start("meaning"))
    assert len(env_cols) == 1 and len(meaning_cols) == 1, (
        f"--help columns start at {sorted(env_cols)} (variables) and "
        f"{sorted(meaning_cols)} (meanings):\n{text}")


def test_version_prints_the_build_version():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        m = re.search(r"^VERSION := (\S+)$", f.read(), re.M)
    assert m, "Makefile: no VERSION"
    p = subprocess.run([PLAZA_BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and not p.stderr, (p.returncode, p.stderr)
    assert re.fullmatch(rf"plaza {re.escape(m[1])} \(protocol \d+\)\n", p.stdout), p.stdout


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_exit_0_without_logging(flag):
    p = subprocess.run([PLAZA_BIN, flag], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and p.stdout and not p.stderr, (p.returncode, p.stderr)
