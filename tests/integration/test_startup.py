"""Start-up: host names resolve, and a bad value of any flag exits 2 with one
line naming it before the process logs anything; the TLS files are checked
next, after only the open-file-limit line (docs/operations.md, "Configuration",
says what is checked when)."""

import os
import re
import socket
import subprocess
import time
import urllib.request

from conftest import PLAZA_BIN, ROOT, free_port
from test_docs_flags import help_flags

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT")  # a timestamped log line


def bad_values(flag, rng):
    """Values --flag must refuse: not a number, and just outside its range."""
    if flag == "host":
        return ["no-such-host.invalid", "h" * 100]
    if flag == "log-level":
        return ["loud"]
    if flag == "jwt-secret-file":
        return ["/nonexistent/plaza-key", "f" * 5000]
    if rng is None:  # a string: any text may be right, too long never is
        return ["x" * 5000]
    lo, hi = (float(v) for v in rng.split(" to "))
    return ["abc", "nan", repr(hi * 10 if hi else 1), repr(lo - 1)]


def run_plaza(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    env.update(env_extra or {})
    return subprocess.run([PLAZA_BIN, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=10)


def test_every_bad_value_exits_2_before_logging():
    problems = []
    for flag, (env, _default, rng, _meaning) in sorted(help_flags().items()):
        for value in bad_values(flag, rng):
            for how, p in (("flag", run_plaza([f"--{flag}", value, "--port", "0"])),
                           ("env", run_plaza(["--port", "0"], {env: value}))):
                lines = p.stderr.splitlines()
                if p.returncode != 2:
                    problems.append(f"{how} --{flag} {value!r}: exit {p.returncode}")
                elif len(lines) != 1 or flag not in lines[0] or LOG_LINE.match(lines[0]):
                    problems.append(f"{how} --{flag} {value!r}: stderr {p.stderr!r}, "
                                    "wanted one line naming the flag and no log")
                elif p.stdout:
                    problems.append(f"{how} --{flag} {value!r}: stdout {p.stdout!r}")
    assert not problems, "\n".join(problems)


def test_host_name_is_resolved():
    port = free_port()
    addrs = {ai[4][0] for ai in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    proc = subprocess.Popen([PLAZA_BIN, "--host", "localhost", "--port", str(port),
                             "--workers", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 10
        answered = None
        while time.monotonic() < deadline and answered is None and proc.poll() is None:
            for addr in addrs:  # the server binds one of localhost's addresses
                host = f"[{addr}]" if ":" in addr else addr
                try:
                    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=1) as r:
                        answered = r.status
                        break
                except OSError:
                    pass
            time.sleep(0.05)
        assert answered == 200, (f"--host localhost: no /healthz on {sorted(addrs)} "
                                 f"(exit {proc.poll()})")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err


def test_bad_tls_file_exits_2_after_only_the_file_limit_line(tmp_path):
    """docs/operations.md's order: values, the open-file-limit line, then
    the TLS files. A bad certificate stops plaza with exit 2 and a line
    naming the file, and nothing else was logged or bound before it."""
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate\n")
    for cert in (str(tmp_path / "missing.pem"), str(junk)):
        p = run_plaza(["--port", "0", "--tls-cert", cert, "--tls-key", cert])
        lines = p.stderr.splitlines()
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert lines and cert in lines[-1] and not LOG_LINE.match(lines[-1]), p.stderr
        logged = [line for line in lines[:-1] if LOG_LINE.match(line)]
        assert all("open file limit" in line for line in logged), p.stderr
        assert len(lines) - 1 == len(logged), p.stderr
