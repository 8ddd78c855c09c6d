"""plaza-cli keeps its session when its connection goes, as plaza-client does.

- A dropped socket (a TCP relay in front of plaza cuts it; no close frame):
  plaza-cli says so, reconnects with backoff and resumes with the same id
  and room; the chat it missed is printed once, what it had seen is not
  printed again, the line typed meanwhile is sent once it is back, and the
  others see neither LEFT nor JOINED.
- Past the grace period the resume is refused: plaza-cli says so, gets a
  new id and joins its room again by itself.
- A drain of its node behind haproxy (two nodes, a real redis-server,
  Debian's haproxy running docker/haproxy.cfg): the 1001 sends it back at
  once, through haproxy, to the surviving node, where it resumes (same id,
  missed chat once).
- Kicked (4003) it stops; with --no-reconnect a drop ends it too.
"""

import os
import re
import signal
import socket
import threading
import time

import pytest

from test_admin import TOKEN, call
from test_c_client import clis  # noqa: F401 (fixture)
from test_cluster_topology import run_cluster


class Relay:
    """A TCP relay in front of plaza. cut() drops every connection through
    it (both sides closed, no close frame), as a network failure would;
    while `up` is false it accepts and at once closes new connections, so
    reconnect attempts fail until it is up again."""

    def __init__(self, target_port):
        self.target = target_port
        self.up = True
        self.pairs = set()
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws"

    def _accept(self):
        while True:
            try:
                down, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                down.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                down.close()
                continue
            pair = (down, up)
            with self.lock:
                self.pairs.add(pair)
            for src, dst in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._end(pair)

    def _end(self, pair):
        with self.lock:
            self.pairs.discard(pair)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self):
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self._end(pair)

    def close(self):
        self.up = False
        self.sock.close()
        self.cut()


@pytest.fixture
def relay():
    made = []

    def make(port):
        r = Relay(port)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def count(cli, line):
    return sum(1 for seen in cli.seen if seen == line)


def welcome_id(cli):
    return int(cli.expect(r"^welcome: you are #(\d+)").group(1))


def expect_resumed(bob, alice, bob_id, room, before, missed, mark, timeout):
    """bob is back in `room` as the same session: the line of alice's he
    missed printed once, the one he had seen (`before`) not again, and
    alice (from her line `mark` on) saw him neither leave nor join."""
    bob.expect(rf"^welcome: you are #{bob_id} \(tick \d+ Hz, session resumed\)$",
               timeout=timeout)
    bob.expect(rf"^room {room} \(2 members\)")
    bob.expect(rf"^\[alice\] {re.escape(missed)}$")
    # A round trip after the resume: anything replayed twice would be in.
    alice.send("after")
    bob.expect(r"^\[alice\] after$")
    assert count(bob, f"[alice] {before}") == 1, bob.seen
    assert count(bob, f"[alice] {missed}") == 1, bob.seen
    assert not [line for line in alice.seen[mark:] if f"#{bob_id}" in line
                and re.match(r"^(left|joined):", line)], alice.seen


def alice_and_bob(srv, net, clis, room):
    """alice straight to plaza, bob through the relay, both in `room`."""
    alice = clis(srv.ws_url(), room, "alice")
    alice.expect(rf"^room {room} \(1 member\)")
    bob = clis(net.ws_url(), room, "bob")
    bob_id = welcome_id(bob)
    bob.expect(rf"^room {room} \(2 members\)")
    alice.expect(rf"^joined: bob#{bob_id}$")
    return alice, bob, bob_id


def test_cli_resumes_after_a_dropped_socket(plaza, clis, relay):
    srv = plaza()
    net = relay(srv.port)
    alice, bob, bob_id = alice_and_bob(srv, net, clis, "drops")
    alice.send("before the drop")
    bob.expect(r"^\[alice\] before the drop$")

    mark = len(alice.seen)
    net.up = False
    net.cut()
    bob.expect(r"^closed: 1006 connection closed without a close frame$")
    bob.expect(r"^reconnecting in \d+ ms \(attempt 1\)$")
    alice.send("said while bob was away")
    alice.expect(r"^\[alice\] said while bob was away$")
    bob.send("typed while away")
    time.sleep(0.3)  # an attempt or two finds the network still down
    net.up = True

    expect_resumed(bob, alice, bob_id, "drops", "before the drop", "said while bob was away",
                   mark, timeout=10)
    alice.expect(r"^\[bob\] typed while away$")
    bob.send("/quit")
    bob.expect(r"^closed: 1000")
    assert bob.wait() == 0
    alice.expect(rf"^left: bob#{bob_id}$")


def test_cli_refused_resume_gets_a_fresh_session_and_rejoins(plaza, clis, relay):
    srv = plaza(resume_grace_ms=300)
    net = relay(srv.port)
    alice, bob, bob_id = alice_and_bob(srv, net, clis, "fresh")

    net.up = False
    net.cut()
    bob.expect(r"^reconnecting in \d+ ms \(attempt 1\)$")
    alice.expect(rf"^left: bob#{bob_id}$", timeout=5)  # the grace period ended
    net.up = True

    bob.expect(r"^error 9 session_expired", timeout=10)
    new_id = welcome_id(bob)
    assert new_id != bob_id
    bob.expect(rf"^resume refused: new session #{new_id}, joining fresh$")
    bob.expect(r"^room fresh \(2 members\)")
    alice.expect(rf"^joined: bob#{new_id}$")
    bob.send("back")
    alice.expect(r"^\[bob\] back$")
    bob.send("/quit")
    assert bob.wait() == 0


def test_cli_no_reconnect_ends_on_a_drop(plaza, clis, relay):
    srv = plaza()
    net = relay(srv.port)
    bob = clis(net.ws_url(), "once", "bob", "--no-reconnect")
    bob.expect(r"^room once ")
    net.cut()
    bob.expect(r"^closed: 1006")
    assert bob.wait() == 3
    assert not [line for line in bob.seen if line.startswith("reconnecting")], bob.seen


def test_cli_kicked_does_not_come_back(plaza, clis):
    srv = plaza(admin_token=TOKEN)
    bob = clis(srv.ws_url(), "kicks", "bob")
    bob_id = welcome_id(bob)
    bob.expect(r"^room kicks ")
    st, _, doc = call(srv, "POST", "/admin/kick", {"id": bob_id})
    assert st == 200, (st, doc)
    bob.expect(r"^closed: 4003")
    assert bob.wait() == 3
    assert not [line for line in bob.seen if line.startswith("reconnecting")], bob.seen


# --- a drain behind haproxy --------------------------------------------------

@pytest.fixture
def two_nodes(request):
    """redis-server, two clustered plaza nodes (--node-id 1 and 2) and
    haproxy in front, as docker/compose.yml runs them."""
    yield from run_cluster(request, 2)


def test_cli_survives_a_drain_of_its_node_behind_haproxy(two_nodes, clis):
    lb = two_nodes.haproxy
    bob = clis(lb.ws_url(), "rolling", "bob")
    bob_id = welcome_id(bob)
    bob.expect(r"^room rolling \(1 member\)")
    drained_id = bob_id >> 38  # the node bits of an id (docs/protocol.md)
    assert drained_id in (1, 2), bob_id
    survivor = two_nodes.node(3 - drained_id)
    alice = clis(survivor.ws_url(), "rolling", "alice")
    alice.expect(r"^room rolling \(2 members\)")
    bob.expect(r"^joined: alice#\d+$")
    alice.send("before the drain")
    bob.expect(r"^\[alice\] before the drain$")

    # bob is frozen while his node drains, so what is said meanwhile is
    # certainly missed and must come from the resume.
    mark = len(alice.seen)
    os.kill(bob.proc.pid, signal.SIGSTOP)
    try:
        drained = two_nodes.node(drained_id)
        drained.signal(signal.SIGTERM)
        assert drained.wait_exit(10) == 0, drained.log_tail()
        alice.send("said during the drain")
        alice.expect(r"^\[alice\] said during the drain$")
    finally:
        os.kill(bob.proc.pid, signal.SIGCONT)

    bob.expect(r"^closed: 1001 ")
    bob.expect(r"^reconnecting in 0 ms \(attempt 1\)$")
    expect_resumed(bob, alice, bob_id, "rolling", "before the drain", "said during the drain",
                   mark, timeout=20)
    bob.send("back through haproxy")
    alice.expect(r"^\[bob\] back through haproxy$")
    assert "SIGTERM: closing clients with 1001" in drained.read_log()
    bob.send("/quit")
    assert bob.wait() == 0
