"""The docker/ files: no Docker engine runs on the test machines, so the
compose file is validated with Debian's docker-compose, and the Dockerfile's
build packages are checked against the ones the Makefile installs, so the two
cannot drift apart."""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_compose_file_is_valid():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed")
    r = subprocess.run([exe, "-f", "docker/compose.yml", "config", "-q"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_dockerfile_builds_with_the_makefile_packages():
    make = open(os.path.join(ROOT, "Makefile")).read()
    m = re.search(r"^RUN_DEBS := (.*?)(?<!\\)\n", make, re.S | re.M)
    assert m, "RUN_DEBS not found in the Makefile"
    run_debs = set(m.group(1).replace("\\", " ").split())
    docker = open(os.path.join(ROOT, "docker", "Dockerfile")).read()
    build_stage = docker.split("FROM debian:12-slim")[0]
    missing = sorted(p for p in run_debs if p not in build_stage)
    assert not missing, f"Dockerfile build stage lacks {missing}"
