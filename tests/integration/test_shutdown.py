"""SIGTERM and POST /admin/drain stop plaza in order (issue 14): every
worker's loop stops and every thread is joined before anything is freed,
and the drain answers the request that asked for it.

Before the fix main destroyed the workers one by one, joining each and
freeing it at once. A worker with no clients stops at once; one lingering
on a client that never answers our close (up to 3 s) goes on meanwhile,
expires detached sessions, and tells each session's home worker, through
that worker's inbox, that it is gone. If that home had already been
freed, plaza aborted (SIGABRT in pz_mailbox_post_force) or wrote into
freed memory instead of exiting 0.
"""

import signal

from plaza_client import ROOM, Client, async_test, room_on_shard
from rawws import RawWS
from test_admin import TOKEN, call


async def session_homed_on(srv, worker, label):
    """A raw client whose session was created on `worker` (the id says)."""
    clients = []
    while True:
        c = await RawWS.connect(srv, label=f"{label}-{len(clients)}")
        await c.hello(c.label)
        clients.append(c)
        if (c.id >> 32) & 63 == worker:
            return c
        assert len(clients) < 8, "the acceptor never chose that worker"


@async_test
async def test_sigterm_while_a_lingering_worker_tells_a_stopped_one(plaza):
    srv = plaza(workers=2, resume_grace_ms=300)
    # Home on worker 0, living on worker 1: its room's worker.
    x = await session_homed_on(srv, 0, "x")
    room = room_on_shard(1, "far")
    await x.send(2, room)
    await x.wait_for(ROOM, lambda m: m[1] == room)

    srv.signal(signal.SIGTERM)
    # Worker 0 holds no connection and stops at once. Worker 1 closes x
    # with 1001 and, x never answering, lingers up to 3 s; x's session,
    # detached by that close, ends after 300 ms of grace and worker 1 tells
    # worker 0 (the home of its id).
    assert srv.wait_exit(10) == 0, srv.sanitizer_report() or srv.log_tail()
    log = srv.read_log()
    assert "stopped" in log, srv.log_tail()


@async_test
async def test_drain_answers_its_request_while_everyone_is_closed(plaza):
    """POST /admin/drain must answer the request that asked for it: the
    answer is written before the stop is signalled, so nothing the stop
    does (every client closed with 1001 on both workers, a worker
    lingering on a client that never answers) comes before it."""
    for round_ in range(2):  # the lingering worker is each one in turn
        srv = plaza(workers=2, admin_token=TOKEN, resume_grace_ms=200)
        clients = [await Client.joined(srv, room_on_shard(i % 2, f"r{round_}"),
                                       name=f"c{i}") for i in range(12)]
        mute = await session_homed_on(srv, round_ % 2, f"mute{round_}")
        await mute.send(2, room_on_shard(1 - round_ % 2, "far"))
        await mute.wait_for(ROOM)
        st, _, doc = call(srv, "POST", "/admin/drain")
        assert st == 202 and doc == {"draining": True}, (st, doc)
        for c in clients:
            await c.expect_close(1001)
        assert srv.wait_exit(10) == 0, srv.sanitizer_report() or srv.log_tail()
