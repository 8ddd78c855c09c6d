"""The documents name files that exist.

docs/*.md and README.md point readers at files of this repository: paths
(`src/server/static_assets.c`, `tests/integration/test_docs_flags.py`) and
bare file names (`conn_int.h`). A path must exist as written (a `*` in it
must match something); a bare name must be the name of some file of the
tree. Markdown links to local files must exist too. What a build makes
(`build/...`, `dist/`, `node_modules/`) and paths on a user's machine
(`/etc/...`) are not the repository's, so they are not checked.
"""

import glob
import os
import re

from conftest import ROOT

DOCS = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]

# Top-level folders of the repository: a token starting with one of them
# and a slash is a repository path.
TOP = ("src", "clients", "tests", "docs", "bench", "docker", "include", "shards")
PATH = re.compile(r"(?<![\w./:@$-])((?:%s)/[\w./*+-]*[\w*])" % "|".join(TOP))
# A bare file name with an extension of the files we keep.
EXT = ("c", "h", "py", "md", "ts", "tsx", "cfg", "yml", "json", "mk", "lua", "svg", "sh",
       "html", "js")
# (Not after '<': a system header, `#include <stdio.h>`.)
NAME = re.compile(r"(?<![\w./:@$<-])([A-Za-z_][\w-]*\.(?:%s))(?![\w/-])" % "|".join(EXT))
# [text](target) with a local target.
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")

# Names a document uses for files that are not ours to keep: what a user
# writes in their own project, or what a tool makes.
NOT_OURS = {
    "Node.js", "Next.js", "three.js",   # products, not files
    "Response.json",      # a Web API call in an example
    "app.c",              # the user's program in a build example
    "out.json",           # where the user asks the bench to write
    "index.mjs",          # a package's ES module, in the README's import map
    "fullchain.pem", "privkey.pem",
    "plaza.service", "plaza.sh",
    "package.json",       # the user's own, when they depend on plaza-client
    "demo.js",            # the bundle's name, checked through its path
}


def tree_names():
    names = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames
                       if not d.startswith(".") and d not in ("node_modules", "dist")
                       and not d.startswith("build")]
        names.update(filenames)
    return names


def exists(path):
    path = path.rstrip(".")
    full = os.path.join(ROOT, path)
    if "*" in path:
        return bool(glob.glob(full))
    return os.path.exists(full)


def references(text):
    """(kind, token) pairs named by one document."""
    for m in LINK.finditer(text):
        target = m.group(1)
        if "://" not in target and not target.startswith("mailto:"):
            yield "link", target
    for m in PATH.finditer(text):
        yield "path", m.group(1)
    for m in NAME.finditer(text):
        yield "name", m.group(1)


def test_docs_name_files_that_exist():
    names = tree_names()
    problems = []
    for doc in DOCS:
        rel = os.path.relpath(doc, ROOT)
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        for kind, token in references(text):
            if kind == "link":
                target = os.path.normpath(os.path.join(os.path.dirname(rel), token))
                if not exists(target):
                    problems.append(f"{rel}: link to {token!r}: no such file")
            elif kind == "path":
                if not exists(token):
                    problems.append(f"{rel}: {token!r}: no such path")
            elif token not in names and token not in NOT_OURS:
                problems.append(f"{rel}: {token!r}: no file of that name in the tree")
    assert not problems, "documents name files that do not exist:\n" + "\n".join(
        sorted(set(problems)))


def test_checker_finds_what_it_should():
    """The patterns see paths in backticks, in prose and in links, and leave
    URLs and build products alone."""
    refs = set(references(
        "see `src/static_assets.c`, tests/integration/conftest.py and [x](docs/x.md); "
        "http://example.com/src/a.c, build/plaza, clients/ts/dist/ and `conn_int.h`."))
    assert ("path", "src/static_assets.c") in refs
    assert ("path", "tests/integration/conftest.py") in refs
    assert ("link", "docs/x.md") in refs
    assert ("name", "conn_int.h") in refs
    assert not any("example.com" in t for _, t in refs), refs
    assert not any(t.startswith("build") or t.startswith("plaza") for _, t in refs), refs
    assert not exists("src/static_assets.c")
    assert exists("src/server/static_assets.c")
