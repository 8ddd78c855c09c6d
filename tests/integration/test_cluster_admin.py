"""The admin API of a cluster: a broadcast reaches a room's members on every
node through the room's chat order (the room's seq, kept in the shared
history), or every room of the cluster; a kick closes a session with 4003
on whichever node holds it, also after a resume elsewhere, and answers 404
only when no node does; the session list shows who is where on every node;
unlinked from Redis, a broadcast answers 503."""

import asyncio
import signal

from cluster_util import (nodes, redis_server, two_nodes_sharing,  # noqa: F401
                          wait_until)
from plaza_client import (CHAT, CHAT_C, ROOM, Client, E_SESSION_EXPIRED,
                          async_test, http_get)
from test_admin import TOKEN, call


def admin_nodes(plaza, redis, n, **kw):
    return nodes(plaza, redis, n, admin_token=TOKEN, **kw)


@async_test
async def test_broadcast_to_a_room_on_every_node_in_its_chat_order(plaza, redis_server):
    a, b, alice, bob = await two_nodes_sharing(plaza, redis_server, "lobby",
                                               admin_token=TOKEN)
    await bob.send(CHAT_C, "hello")
    first = await alice.wait_for(CHAT, lambda m: m[4] == "hello")
    st, _, doc = call(a, "POST", "/admin/broadcast", {"text": "maintenance", "room": "lobby"})
    assert st == 200 and doc == {"rooms": 1}, (st, doc)
    got = [await c.wait_for(CHAT, lambda m: m[3] == "server") for c in (alice, bob)]
    for m in got:
        assert m[1] == first[1] + 1 and m[2] == 0 and m[4] == "maintenance", got
    # Kept in the room's history in Redis: a late joiner on any node sees it.
    c, = nodes(plaza, redis_server, 1)
    late = await Client.joined(c, "lobby", name="late")
    assert [h[1:4] for h in late.room_msg[3]][-1] == [0, "server", "maintenance"], late.room_msg
    # A room only another node has members in is found; an empty one is 404.
    carol = await Client.joined(b, "far", name="carol")
    st, _, doc = call(a, "POST", "/admin/broadcast", {"text": "far away", "room": "far"})
    assert st == 200 and doc == {"rooms": 1}, (st, doc)
    await carol.wait_for(CHAT, lambda m: m[3] == "server" and m[4] == "far away")
    assert call(a, "POST", "/admin/broadcast", {"text": "x", "room": "nobody"})[0] == 404


@async_test
async def test_broadcast_to_every_room_of_the_cluster(plaza, redis_server):
    a, b = admin_nodes(plaza, redis_server, 2)
    clients = [await Client.joined(a, "only-a", name="x"),
               await Client.joined(b, "only-b", name="y"),
               await Client.joined(a, "both", name="z1"),
               await Client.joined(b, "both", name="z2")]
    st, _, doc = call(b, "POST", "/admin/broadcast", {"text": "everyone"})
    assert st == 200 and doc == {"rooms": 3}, (st, doc)
    for c in clients:
        m = await c.wait_for(CHAT, lambda m: m[3] == "server")
        assert m[2:5] == [0, "server", "everyone"], m
    # One CHAT each, not one per node.
    await asyncio.sleep(0.3)
    for c in clients:
        assert len([m for m in c.seen if m[0] == CHAT]) == 1, c.history()


@async_test
async def test_kick_on_whichever_node_holds_the_session(plaza, redis_server):
    a, b = admin_nodes(plaza, redis_server, 2, resume_grace_ms=10000)
    victim = await Client.joined(b, "r", name="victim")
    stays = await Client.joined(b, "r", name="stays")
    st, _, doc = call(a, "POST", "/admin/kick", {"id": victim.id})
    assert st == 200 and doc == {"kicked": True}, (st, doc)
    await victim.expect_close(4003)
    await stays.ping()
    # Gone everywhere now: 404 from either node.
    for n in (a, b):
        st, _, doc = call(n, "POST", "/admin/kick", {"id": victim.id})
        assert st == 404 and "error" in doc, (st, doc)
    assert call(a, "POST", "/admin/kick", {"id": (4321 << 38) | 7})[0] == 404
    # A session of node a resumed on node b: found through the directory.
    roamer = await Client.joined(a, "r", name="roamer")
    roamer.drop()
    await asyncio.sleep(0.3)
    back = await Client.connect(b, label="roamer-on-b")
    w = await back.hello(resume=roamer.session)
    assert w[1] == roamer.id and w[5] is True
    await back.wait_for(ROOM)
    st, _, doc = call(a, "POST", "/admin/kick", {"id": roamer.id})
    assert st == 200 and doc == {"kicked": True}, (st, doc)
    await back.expect_close(4003)
    wait_until(lambda: redis_server.cmd("HGET", "plaza:where", str(roamer.id)) is None,
               3, "the directory forgets a kicked session")


@async_test
async def test_kick_of_a_session_in_its_grace_period_on_another_node(plaza, redis_server):
    a, b = admin_nodes(plaza, redis_server, 2, resume_grace_ms=10000)
    gone = await Client.joined(b, "r", name="gone")
    gone.drop()
    await asyncio.sleep(0.3)
    assert call(a, "POST", "/admin/kick", {"id": gone.id})[0] == 200
    # Its record went too: no node resumes it.
    for n in (a, b):
        c = await Client.connect(n)
        await c.hello(resume=gone.session, expect_welcome=False)
        await c.wait_error(E_SESSION_EXPIRED)


@async_test
async def test_sessions_lists_who_is_where_on_every_node(plaza, redis_server):
    a, b = admin_nodes(plaza, redis_server, 2)
    na = int(http_get(a, "/healthz")[2].split('"node":"plaza-')[1].split('"')[0])
    nb = int(http_get(b, "/healthz")[2].split('"node":"plaza-')[1].split('"')[0])
    x = await Client.joined(a, "lobby", name="x")
    # y's client from another loopback address: its node writes it into
    # the presence, where node a reads it.
    y = await Client.joined(b, "lobby", name="y", local_addr=("127.0.0.7", 0))
    z = await Client.joined(b, "other", name="z")
    idle = await Client.connect(a)
    await idle.hello("idle")

    def listing(query=""):
        st, _, doc = call(a, "GET", "/admin/sessions" + query)
        assert st == 200, doc
        return {s["id"]: s for s in doc["sessions"]}
    lobby = listing("?room=lobby")
    assert set(lobby) == {x.id, y.id}, lobby
    assert lobby[x.id]["node"] == na and lobby[x.id]["connected"] is True
    assert lobby[y.id]["node"] == nb and lobby[y.id]["name"] == "y"
    assert lobby[y.id]["room"] == "lobby"
    assert lobby[x.id]["addr"] == "127.0.0.1" and lobby[y.id]["addr"] == "127.0.0.7", lobby
    every = listing()
    assert set(every) == {x.id, y.id, z.id, idle.id}, every
    assert every[z.id]["room"] == "other" and every[idle.id]["room"] is None


@async_test
async def test_broadcast_while_unlinked_is_503(plaza, redis_server):
    a, = admin_nodes(plaza, redis_server, 1)
    c = await Client.joined(a, "lobby", name="c")
    redis_server.kill()
    wait_until(lambda: http_get(a, "/healthz")[0] == 503, 5, "unlinked")
    st, _, doc = call(a, "POST", "/admin/broadcast", {"text": "hi", "room": "lobby"})
    assert st == 503 and "error" in doc, (st, doc)
    # The local list still answers (this node's sessions).
    st, _, doc = call(a, "GET", "/admin/sessions")
    assert st == 200 and [s["id"] for s in doc["sessions"]] == [c.id], doc


@async_test
async def test_admin_drain_is_a_sigterm(plaza, redis_server):
    from plaza_client import JOINED, LEFT
    a, b, alice, bob = await two_nodes_sharing(plaza, redis_server, "rolling",
                                               admin_token=TOKEN, resume_grace_ms=20000)
    assert call(a, "POST", "/admin/drain", token="wrong")[0] == 401
    assert call(a, "GET", "/admin/drain")[0] == 405
    mark = len(bob.seen)
    st, _, doc = call(a, "POST", "/admin/drain")
    assert st == 202 and doc == {"draining": True}, (st, doc)
    await alice.expect_close(1001)
    assert a.wait_exit(10) == 0, a.log_tail()
    assert "drain asked" in a.read_log()
    back = await Client.connect(b, label="alice-back")
    w = await back.hello(resume=alice.session)
    assert w[1] == alice.id and w[5] is True, w
    await back.wait_for(ROOM)
    await bob.collect(1)
    assert not [m for m in bob.seen[mark:] if m[0] in (JOINED, LEFT)], bob.history()


def test_admin_drain_without_cluster_exits_0(plaza):
    """The drain exits 0 and its log line names what asked: the admin API,
    not a SIGTERM nobody sent."""
    s = plaza(admin_token=TOKEN)
    st, _, _ = call(s, "POST", "/admin/drain")
    assert st == 202
    assert s.wait_exit(10) == 0, s.log_tail()
    log = s.read_log()
    assert "POST /admin/drain: closing clients with 1001" in log, log
    assert "SIGTERM" not in log, log


def test_sigterm_says_sigterm(plaza):
    s = plaza(admin_token=TOKEN)
    s.signal(signal.SIGTERM)
    assert s.wait_exit(10) == 0, s.log_tail()
    assert "SIGTERM: closing clients with 1001" in s.read_log(), s.read_log()
