"""Facts the documents repeat from the code, checked against it.

- Every path of the admin API (the `/admin/...` paths src/server/admin.c
  answers) is named where the admin token is described (docs/auth.md) and
  in the operations guide (docs/operations.md).
- README's layout table lists each folder once (not a folder and one
  inside it too), and each one exists.
"""

import os
import re

from conftest import ROOT


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def admin_paths():
    paths = set(re.findall(r'strcmp\(path, "(/admin/[a-z_/]+)"\)', read("src/server/admin.c")))
    assert len(paths) >= 4, f"admin paths not found in src/server/admin.c: {paths}"
    return paths


def section(text, heading):
    """The text under a markdown heading, up to the next heading."""
    m = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def test_every_admin_path_is_documented():
    token_section = section(read("docs/auth.md"), "The admin token")
    operations = read("docs/operations.md")
    missing = [f"docs/auth.md (The admin token): {p}" for p in sorted(admin_paths())
               if f"`{p}`" not in token_section]
    missing += [f"docs/operations.md: {p}" for p in sorted(admin_paths())
                if p not in operations]
    assert not missing, "admin paths the documents do not name:\n" + "\n".join(missing)


def test_readme_layout_lists_each_folder_once():
    layout = section(read("README.md"), "Layout")
    folders = re.findall(r"^\| `([^`]+)` \|", layout, re.M)
    assert len(folders) >= 5, layout
    dupes = sorted({f for f in folders if folders.count(f) > 1})
    assert not dupes, f"README's layout lists {dupes} more than once"
    nested = [(inner, outer) for inner in folders for outer in folders
              if inner != outer and inner.startswith(outer.rstrip("/") + "/")]
    assert not nested, f"README's layout lists folders inside listed ones: {nested}"
    missing = [f for f in folders if not os.path.isdir(os.path.join(ROOT, f))]
    assert not missing, f"README's layout lists folders that do not exist: {missing}"
