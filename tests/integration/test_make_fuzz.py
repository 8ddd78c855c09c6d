"""`make fuzz` leaves the source tree as it found it.

libFuzzer writes the inputs it finds into the first corpus directory on its
command line and crash files into the current directory unless told where.
The recipe (read with `make -n`, nothing is built or run) must hand the
committed corpus only as a later, read-only seed directory, and send new
inputs and artifacts under the build directory.
"""

import shlex
import subprocess

from conftest import ROOT


def fuzzer_commands():
    p = subprocess.run(["make", "-n", "fuzz", "FUZZ_SECONDS=1", "BUILD=build"], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    script = p.stdout.replace("\\\n", " ")
    cmds = [c.strip() for line in script.splitlines() for c in line.split(";")]
    runs = [shlex.split(c) for c in cmds if "-max_total_time=" in c]
    assert runs, f"no fuzzer run in `make -n fuzz`:\n{p.stdout}"
    return runs


def test_fuzz_writes_only_under_build():
    for argv in fuzzer_commands():
        opts = [a for a in argv[1:] if a.startswith("-")]
        dirs = [a for a in argv[1:] if not a.startswith("-")]
        assert dirs, argv
        assert dirs[0].startswith("build/"), \
            f"new inputs go to {dirs[0]!r}, inside the tree: {argv!r}"
        assert any(d.startswith("tests/fuzz/corpus/") for d in dirs[1:]), \
            f"the committed corpus is not a seed directory: {argv!r}"
        prefix = [o for o in opts if o.startswith("-artifact_prefix=")]
        assert prefix and prefix[0].split("=", 1)[1].startswith("build/"), \
            f"crash files would land in the working directory: {argv!r}"
