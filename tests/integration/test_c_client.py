"""The C client library and plaza-cli against the real build/plaza.

The C programs (tests/integration/c_*.c, built by `make integration` into
build/tests/integration/) print what failed and exit non-zero; plaza-cli is
driven through pipes, as a person at a terminal would use it. The `plaza`
fixture (conftest.py) starts the server on a free 127.0.0.1 port, waits for
GET /healthz, and at teardown checks that SIGTERM makes it exit 0.
"""

import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import PlazaServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
# PLAZA_CLI: another build of it (an ASan one, say).
CLI = os.environ.get("PLAZA_CLI", os.path.join(BUILD, "plaza-cli"))


def binary(path):
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make -C {ROOT} integration` (or build it)",
                    pytrace=False)
    return path


def run_c_test(name, *args, timeout=30):
    exe = binary(os.path.join(BUILD, "tests", "integration", name))
    p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"{name} exited {p.returncode}:\n{out}"
    return out


class Cli:
    """A plaza-cli process with its stdin a pipe and its output read by a
    thread, so the test can wait for a line with a deadline."""

    def __init__(self, url, room, name, *extra):
        self.name = name
        self.proc = subprocess.Popen([binary(CLI), *extra, url, room, name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern, timeout=5.0):
        """Waits for a line matching the regex; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)  # keep the EOF for later calls
                break
            self.seen.append(line)
            m = rx.search(line)
            if m:
                return m
        pytest.fail(f"plaza-cli {self.name}: no line matching {pattern!r} within "
                    f"{timeout}s; output so far:\n" + "\n".join(self.seen), pytrace=False)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def eof(self):
        self.proc.stdin.close()

    def wait(self, timeout=5.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"plaza-cli {self.name} did not exit within {timeout}s; output:\n"
                        + "\n".join(self.seen), pytrace=False)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def clis():
    started = []

    def start(*args):
        c = Cli(*args)
        started.append(c)
        return c

    yield start
    for c in started:
        c.kill()


# ---- the C library ----------------------------------------------------------

def test_c_roundtrip_two_clients(plaza):
    srv = plaza()
    out = run_c_test("c_roundtrip", srv.ws_url())
    assert "c_roundtrip: ok" in out
    srv.signal(signal.SIGTERM)
    assert srv.wait_exit() == 0, "plaza did not exit 0 on SIGTERM"


def test_c_close_codes_reported(plaza):
    srv = plaza()
    out = run_c_test("c_close_codes", srv.ws_url(""))
    assert "c_close_codes: ok" in out


def test_c_sessions_resume_or_start_fresh(plaza):
    """The library's resuming sessions: a dropped socket comes back with the
    same id and room, the chat missed meanwhile once and the line typed
    meanwhile sent; past the grace period a fresh session rejoins by itself
    (c_resume.c says each step)."""
    srv = plaza(resume_grace_ms=1500)
    out = run_c_test("c_resume", srv.ws_url())
    assert "c_resume: ok" in out


def test_c_sessions_member_state_signals_room_state(plaza):
    """Protocol 1.1 through the library's sessions: an initial state in
    JOINED, a set as MEMBER, signals to the room and to a session, a
    compare-and-set and its ERROR 12, a state changed while away reaching
    the room once after the resume, and a fresh session after a refused
    resume starting with the state it had (c_app.c says each step)."""
    srv = plaza(resume_grace_ms=1500)
    out = run_c_test("c_app", srv.ws_url())
    assert "c_app: ok" in out


def test_c_session_resumed_out_of_a_forbidden_room(plaza):
    """A session resumed with a token whose rooms claim no longer allows
    its room gets WELCOME, ERROR 8 (op HELLO) and no ROOM: it is at once
    in no room and in step, does not ask for the room again, and can join
    another (c_forbid.c)."""
    from test_auth import SECRET, token
    srv = plaza(jwt_secret=SECRET)
    wide = token(sub="dave", name="dave", rooms=["secret", "lobby"])
    narrow = token(sub="dave", name="dave", rooms=["lobby"])
    out = run_c_test("c_forbid", srv.ws_url(), wide, narrow)
    assert "c_forbid: ok" in out


def test_c_session_view_decodes_state_c(plaza):
    """pz_client_session_view: the session sends VIEW (again after a
    resume), decodes STATE_C against its short ids (reset at ROOM) and
    hands the entries over at their exact places; AWAY names who left
    (c_view.c says each step)."""
    srv = plaza(max_speed=0, resume_grace_ms=5000)
    out = run_c_test("c_view", srv.ws_url())
    assert "c_view: ok" in out


def test_docs_c_example_builds_and_talks(plaza, tmp_path):
    """docs/client.md's C example, built the way it says against the
    library of this build, says hello in the lobby."""
    with open(os.path.join(ROOT, "docs", "client.md"), encoding="utf-8") as f:
        doc = f.read()
    section = doc[doc.index("## Native clients"):]
    code = re.search(r"```c\n(.*?)```", section, re.S).group(1)
    build = re.search(r"```sh\n(cc app\.c .*?)```", section, re.S).group(1)
    (tmp_path / "app.c").write_text(code)
    cmd = build.replace("\\\n", " ").replace("build/", BUILD + "/").replace(
        "-Iinclude", "-I" + os.path.join(ROOT, "include"))
    r = subprocess.run(cmd.strip() + " -o app", shell=True, cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"{cmd}\n{r.stderr}"
    srv = plaza()
    app = subprocess.Popen(["stdbuf", "-oL", str(tmp_path / "app"), srv.ws_url()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = app.stdout.readline()
    finally:
        app.kill()
        app.wait()
    assert line == "[npc-7] hello\n", line


def test_c_client_memory_per_connection(plaza):
    srv = plaza()
    out = run_c_test("c_memory", srv.ws_url(), "500", "12288")
    assert "bytes of heap per client" in out


# ---- plaza-cli --------------------------------------------------------------

def test_cli_chat_through_pipes(plaza, clis):
    srv = plaza()
    bob = clis(srv.ws_url(), "pipes", "bob", "--no-reconnect")
    bob.expect(r"^room pipes \(1 member\): bob#\d+$")
    alice = clis(srv.ws_url(), "pipes", "alice")
    alice.expect(r"^room pipes \(2 members\): ")
    bob.expect(r"^joined: alice#\d+$")

    alice.send("hello from a pipe")
    bob.expect(r"^\[alice\] hello from a pipe$")
    alice.expect(r"^\[alice\] hello from a pipe$")

    # EOF on stdin: LEAVE, close 1000, exit 0.
    alice.eof()
    alice.expect(r"^closed: 1000")
    assert alice.wait() == 0
    bob.expect(r"^left: alice#\d+$")

    # The server shutting down closes bob with 1001: printed; with
    # --no-reconnect that is the end, exit 0.
    srv.signal(signal.SIGTERM)
    bob.expect(r"^closed: 1001")
    assert bob.wait() == 0
    assert srv.wait_exit() == 0, "plaza did not exit 0 on SIGTERM"


def test_cli_whisper_move_who(plaza, clis):
    srv = plaza()
    bob = clis(srv.ws_url(), "cmds", "bob")
    bob_id = bob.expect(r"^welcome: you are #(\d+)").group(1)
    bob.expect(r"^room cmds ")
    alice = clis(srv.ws_url(), "cmds", "alice")
    alice_id = alice.expect(r"^welcome: you are #(\d+)").group(1)
    alice.expect(r"^room cmds ")

    alice.send(f"/w {bob_id} psst")
    bob.expect(rf"^\(whisper from alice#{alice_id}\) psst$")

    alice.send("/move 1 0 2.5")
    bob.expect(rf"^pos: .*alice#{alice_id} \(1\.0,0\.0,2\.5\)", timeout=5)

    bob.send("/who")
    bob.expect(rf"^who: cmds: .*alice#{alice_id}.*bob#{bob_id} \(you\)|"
               rf"^who: cmds: .*bob#{bob_id} \(you\).*alice#{alice_id}")

    alice.send("/w 12345 nobody")
    alice.expect(r"^error 7 not_found")
    alice.send("/bogus")
    alice.expect(r"^unknown command")

    alice.send("/quit")
    alice.expect(r"^closed: 1000")
    assert alice.wait() == 0
    bob.eof()
    assert bob.wait() == 0


def test_cli_help_lists_its_options():
    p = subprocess.run([binary(CLI), "--help"], capture_output=True, text=True, timeout=5)
    assert p.returncode == 0
    for flag in ("--token", "--bind", "--ca-file", "--insecure", "--no-reconnect"):
        assert re.search(rf"^  {flag}\b", p.stdout, re.M), (flag, p.stdout)
    assert "wss://" in p.stdout


def test_cli_connection_failure_exit_code(plaza, clis):
    srv = plaza()
    # Nothing listens on port 1; a wrong path is refused by the server.
    for url in ("ws://127.0.0.1:1/ws", srv.ws_url("/nope")):
        cli = clis(url, "lobby", "x")
        cli.expect(r"cannot connect")
        assert cli.wait() == 1, url
    cli = clis("http://127.0.0.1/", "lobby", "x")
    assert cli.wait() == 2


class V6Plaza(PlazaServer):
    """plaza listening on ::1 only."""

    def __init__(self, flags):
        super().__init__(flags)
        self.host = "::1"

    def ws_url(self, path="/ws"):
        return f"ws://[::1]:{self.port}{path}"

    def http_url(self, path):
        return f"http://[::1]:{self.port}{path}"


def test_cli_host_names_and_ipv6(plaza, clis, request):
    """A DNS name goes through the resolver ("localhost." is not the
    library's shortcut for localhost), an IPv6 literal is connected to as
    written, and a name that does not resolve fails the connection."""
    srv = plaza()
    cli = clis(f"ws://localhost.:{srv.port}/ws", "names", "dns")
    cli.expect(r"^room names \(1 member\)")
    cli.send("/quit")
    assert cli.wait() == 0
    v6 = V6Plaza([])
    request.node._plaza_servers.append(v6)  # stopped (exit 0) at teardown
    v6.start()
    cli = clis(v6.ws_url(), "names", "six")
    cli.expect(r"^room names \(1 member\)")
    cli.send("/quit")
    assert cli.wait() == 0
    cli = clis("ws://no-such-host.invalid/ws", "names", "x")
    cli.expect(r"cannot connect to ws://no-such-host\.invalid/ws: ")
    assert cli.wait() == 1


@pytest.mark.parametrize("join_after", [False, True])
def test_cli_failed_first_join_keeps_reading(plaza, clis, join_after):
    """A refused first JOIN leaves plaza-cli reading lines: /quit quits at
    once, and /join of a good room works."""
    srv = plaza()
    carol = clis(srv.ws_url(), "bad room", "carol")
    carol.expect(r"^error 6 invalid_argument")
    if join_after:
        carol.send("/join good-room")
        carol.expect(r"^room good-room \(1 member\): carol#\d+$")
    carol.send("/quit")
    carol.expect(r"^closed: 1000")
    assert carol.wait(timeout=3) == 0


def test_cli_bad_name_exits_at_once(plaza, clis):
    """ERROR 6 on HELLO: printed, and the process ends with status 4 at once,
    not after the server's 10 s HELLO timeout."""
    srv = plaza()
    start = time.monotonic()
    cli = clis(srv.ws_url(), "lobby", "n" * 40)
    cli.expect(r"^error 6 invalid_argument: .*name")
    assert cli.wait(timeout=3) == 4
    assert time.monotonic() - start < 3, "plaza-cli waited for the HELLO timeout"


def test_cli_quit_then_end_of_input_closes_cleanly(plaza, clis):
    """`(sleep 1; echo /quit) | plaza-cli ...`: /quit, then EOF at once, is
    one clean close 1000, not a second quit that aborts with 1006."""
    srv = plaza()
    bob = clis(srv.ws_url(), "quitters", "bob")
    bob.expect(r"^room quitters ")
    bob.send("/quit")
    bob.eof()
    bob.expect(r"^closed: 1000")
    assert bob.wait() == 0
    # Match close lines, not any "1006": a session id can hold those digits.
    closes = [line for line in bob.seen if line.startswith("closed:")]
    assert closes == ["closed: 1000 bye"], bob.seen
    assert not any("aborted" in line for line in bob.seen), bob.seen


def test_cli_move_prints_position_when_acknowledged(plaza, clis):
    """/move prints our position as soon as the STATE echoing its seq arrives
    (a tick, 1/30 s), not on the next 2 s positions line."""
    srv = plaza()
    alice = clis(srv.ws_url(), "movers", "alice")
    alice_id = alice.expect(r"^welcome: you are #(\d+)").group(1)
    alice.expect(r"^room movers ")
    for x in (1, 2):
        sent = time.monotonic()
        alice.send(f"/move {x} 0 2.5")
        alice.expect(rf"^pos: alice#{alice_id} \({x}\.0,0\.0,2\.5\)$", timeout=5)
        took = time.monotonic() - sent
        assert took < 0.5, f"position printed {took:.2f}s after /move"
    alice.send("/quit")
    assert alice.wait() == 0


def test_cli_state_signals_room_state(plaza, clis):
    """/state, /signal and /roomset, and what plaza-cli prints of them:
    MEMBER, SIGNAL, ROOM_STATE, a conflict with the current version, and a
    newcomer's ROOM with the states and the room state."""
    srv = plaza()
    alice = clis(srv.ws_url(), "cli-app", "alice")
    alice_id = alice.expect(r"^welcome: you are #(\d+)").group(1)
    alice.expect(r"^room cli-app ")
    bob = clis(srv.ws_url(), "cli-app", "bob")
    bob_id = bob.expect(r"^welcome: you are #(\d+)").group(1)
    bob.expect(r"^room cli-app ")
    alice.expect(rf"^joined: bob#{bob_id}$")

    alice.send('/state color=red pose=[1,2.5] note="a b"')
    for cli in (alice, bob):
        cli.expect(rf'^member: alice#{alice_id} {{"color":"red","pose":\[1,2.5\],"note":"a b"}}$')
    alice.send("/state note=")
    bob.expect(rf'^member: alice#{alice_id} {{"note":null}}$')

    alice.send('/signal emote {"type": "wave"}')
    bob.expect(rf'^signal: alice#{alice_id} emote {{"type":"wave"}}$')
    alice.send(f"/signal @{bob_id} invite lobby")
    bob.expect(rf'^signal: alice#{alice_id} invite "lobby"$')

    alice.send('/roomset seat {"id": 1} 0')
    for cli in (alice, bob):
        cli.expect(rf'^roomstate: seat = {{"id":1}} \(version 1 by alice#{alice_id}\)$')
    bob.send('/roomset seat {"id": 2} 0')
    bob.expect(r"^error 12 conflict: .*\(op 10\): seat is at version 1$")
    bob.send("/roomset seat null 1")
    alice.expect(rf"^roomstate: seat deleted \(version 2 by bob#{bob_id}\)$")
    bob.send("/roomset lamp true")
    alice.expect(rf"^roomstate: lamp = true \(version 1 by bob#{bob_id}\)$")

    carol = clis(srv.ws_url(), "cli-app", "carol")
    carol.expect(r"^room cli-app \(3 members\)")
    carol.expect(rf'^state: alice#{alice_id} {{"color":"red","pose":\[1,2.5\]}}$')
    carol.expect(r"^roomstate: lamp = true \(version 1\)$")
    assert not any(line.startswith(f"state: bob#{bob_id}") for line in carol.seen), \
        "a member without state gets no line"

    alice.send("/state =1")
    alice.expect(r"^usage: /state KEY=VALUE")
    alice.send("/signal @x kind")
    alice.expect(r"^usage: /signal \[@ID\] KIND \[JSON\]")
    for cli in (alice, bob, carol):
        cli.send("/quit")
        assert cli.wait() == 0
