/*
 * plaza-floor: the lower bound of a realtime room server on this machine.
 *
 * What it is for. `make bench` reports plaza's CPU per client-second as a
 * ratio to this program's, under the same load from plaza-bench. The floor
 * makes the same system calls and moves the same bytes as plaza, and does
 * as little else as a server that relays positions can: whatever plaza
 * spends beyond the floor is the price of its event loop (libuv), its
 * WebSocket layer (wslay), MessagePack decoding and encoding, sessions,
 * rate limits and movement rules.
 *
 * "The same reads and writes, no protocol work" means, here:
 *  - Same syscalls: one epoll loop (plaza: libuv, which is epoll too), one
 *    read per readable socket, one write (header + payload together; plaza
 *    does one writev of two buffers) per client per message. No batching of
 *    several messages into one write that plaza would not batch either.
 *  - Same bytes: per room and per tick one STATE frame holding one entry per
 *    member that moved since the last tick, written to every member: the
 *    same frame size as plaza's (ids are 9-byte uint64 like plaza's
 *    node-prefixed ids, seq in its smallest form, positions as float32). It
 *    is built by copying pre-encoded per-member entries (no MessagePack
 *    encoder): the member's 6-element entry is a fixed template whose seq
 *    and position are patched when its MOVE arrives.
 *  - Same latency semantics: the entry of a member carries the last seq it
 *    sent, so plaza-bench measures move-to-STATE latency exactly as against
 *    plaza, and the tick rate is the same (--tick-hz).
 *  - Client frames are unmasked (every byte, as any server must) and then
 *    read only at fixed places: the op byte and, for MOVE, the seq and the
 *    four float32 coordinates, copied raw (float64/integer coordinates are
 *    converted, which plaza-bench does not send). No MessagePack parser.
 *  - The handshake is the cheapest correct one: find Sec-WebSocket-Key, SHA1
 *    + base64 it, answer a fixed 101 (selecting plaza.v1 when offered).
 *  - HELLO gets a pre-encoded WELCOME (id patched in), JOIN a ROOM with the
 *    room's members (pre-encoded fixed-size rows) and the others a JOINED;
 *    CHAT is relayed at once to the room like plaza's (its text copied raw);
 *    PING gets a PONG. These happen at setup or a few times a minute.
 *  - Left out: validation of anything (a malformed message is ignored),
 *    rate limits, movement rules, sessions and resume, names, chat history,
 *    fragmented messages (plaza-bench never fragments), HTTP endpoints
 *    (every non-upgrade request gets a fixed 200), multiple threads (plaza
 *    runs with --workers 1 in the comparison).
 *  - Slow clients: a write the socket does not take whole keeps its rest in
 *    a buffer (EPOLLOUT); STATE frames for that client are skipped until it
 *    drains (plaza: latest-wins replacement of an unsent STATE).
 *
 * Flags: --port P (8090), --host A (127.0.0.1), --tick-hz H (30),
 * --room-size S (50: members a room's tables are first sized for; rooms are
 * formed by the JOIN's room name, as plaza does, and grow past S).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define HTTP_MAX 4096
#define MSG_MAX 16384
#define OUT_MAX (1u << 20) /* unsent bytes before a client is dropped */
#define ENTRY_MAX 40       /* 96 cf id8 seq<=9 4*(ca f4) = 1+9+9+20 */
#define ID_BASE                                                                \
  (1ull << 38) /* like plaza's [node:15][worker:6][n:32], node 1 */

typedef struct room room_t;

typedef struct conn {
  int fd;
  bool ws;    /* past the upgrade */
  bool dirty; /* moved since the last tick */
  bool hello;
  bool dead;       /* closed; freed at the end of the loop iteration */
  uint32_t member; /* index in room->members */
  uint64_t id;
  room_t *room;
  uint8_t *in; /* partial HTTP head or partial frame, else NULL */
  uint32_t in_len;
  uint8_t *out; /* unwritten rest, else NULL */
  uint32_t out_len, out_off;
  uint8_t entry_len;
  uint8_t entry[ENTRY_MAX]; /* this member's pre-encoded STATE entry */
  struct conn *next_dead;
} conn_t;

struct room {
  room_t *next; /* hash chain */
  char name[65];
  uint8_t name_len;
  uint32_t n, cap;
  conn_t **members;
  uint32_t n_dirty;
  conn_t **dirty;
  uint64_t chat_seq;
};

static int g_ep, g_tfd, g_lfd;
static unsigned g_tick_hz = 30, g_room_size = 50;
static uint64_t g_tick, g_next_id = 1;
static volatile sig_atomic_t g_stop;
static room_t *g_rooms[4096];
static uint8_t g_rbuf[65536 + MSG_MAX + 16];
static conn_t *g_dead;   /* closed, to free after the epoll batch */
static uint8_t *g_frame; /* STATE / broadcast frame being built */
static size_t g_frame_cap;

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    perror("malloc");
    exit(1);
  }
  return p;
}
static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n);
  if (!p) {
    perror("realloc");
    exit(1);
  }
  return p;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tiny MessagePack writers (fixed forms) ---------------------------- */

static uint8_t *put_be(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--)
    *p++ = (uint8_t)(v >> (8 * i));
  return p;
}
/* Smallest form, as msgpack-c's pack_uint64 writes it. */
static uint8_t *put_uint(uint8_t *p, uint64_t v) {
  if (v < 128) {
    *p++ = (uint8_t)v;
  } else if (v < 256) {
    *p++ = 0xcc;
    *p++ = (uint8_t)v;
  } else if (v < 65536) {
    *p++ = 0xcd;
    p = put_be(p, v, 2);
  } else if (v < 4294967296ull) {
    *p++ = 0xce;
    p = put_be(p, v, 4);
  } else {
    *p++ = 0xcf;
    p = put_be(p, v, 8);
  }
  return p;
}
static uint8_t *put_id(uint8_t *p, uint64_t id) {
  *p++ = 0xcf;
  return put_be(p, id, 8);
}
static uint8_t *put_arr(uint8_t *p, uint32_t n) {
  if (n < 16) {
    *p++ = (uint8_t)(0x90 | n);
  } else if (n < 65536) {
    *p++ = 0xdc;
    p = put_be(p, n, 2);
  } else {
    *p++ = 0xdd;
    p = put_be(p, n, 4);
  }
  return p;
}
static uint8_t *put_str(uint8_t *p, const char *s, size_t n) {
  if (n < 32) {
    *p++ = (uint8_t)(0xa0 | n);
  } else {
    *p++ = 0xd9;
    *p++ = (uint8_t)n;
  }
  memcpy(p, s, n);
  return p + n;
}
static const uint8_t ZERO_POS[20] = {0xca, 0, 0, 0, 0, 0xca, 0, 0, 0, 0,
                                     0xca, 0, 0, 0, 0, 0xca, 0, 0, 0, 0};

/* WebSocket header of an unmasked final frame; returns its size. */
static size_t ws_header(uint8_t *h, int opcode, size_t len) {
  h[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    h[1] = (uint8_t)len;
    return 2;
  }
  if (len < 65536) {
    h[1] = 126;
    put_be(h + 2, len, 2);
    return 4;
  }
  h[1] = 127;
  put_be(h + 2, len, 8);
  return 10;
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(conn_t *c);

static void frame_reserve(size_t n) {
  if (n > g_frame_cap) {
    g_frame_cap = n * 2;
    g_frame = xrealloc(g_frame, g_frame_cap);
  }
}

static void want_out(conn_t *c, bool on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                           .data.ptr = c};
  epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes a whole frame or keeps its rest. droppable: skip when the client
 * still has unsent bytes (a STATE). Returns false when c was closed. */
static bool conn_write(conn_t *c, const uint8_t *buf, size_t len,
                       bool droppable) {
  if (c->dead)
    return false;
  if (c->out) {
    if (droppable)
      return true;
    if (c->out_len + len > OUT_MAX) { /* plaza: --max-outbound, close 4004 */
      conn_close(c);
      return false;
    }
    c->out = xrealloc(c->out, c->out_len + len);
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += (uint32_t)len;
    return true;
  }
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == (ssize_t)len)
    return true;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      conn_close(c);
      return false;
    }
    n = 0;
  }
  c->out_len = (uint32_t)(len - (size_t)n);
  c->out_off = 0;
  c->out = xmalloc(c->out_len);
  memcpy(c->out, buf + n, c->out_len);
  want_out(c, true);
  return true;
}

static void conn_flush(conn_t *c) {
  while (c->out && !c->dead) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        conn_close(c);
      return;
    }
    c->out_off += (uint32_t)n;
    if (c->out_off == c->out_len) {
      free(c->out);
      c->out = NULL;
      want_out(c, false);
    }
  }
}

/* Sends one binary message (header prepended here). */
static bool send_msg(conn_t *c, const uint8_t *payload, size_t len) {
  uint8_t buf[10 + 2048];
  if (len > 2048) {
    frame_reserve(len + 10);
    size_t h = ws_header(g_frame, 2, len);
    memmove(g_frame + h, payload, len);
    return conn_write(c, g_frame, h + len, false);
  }
  size_t h = ws_header(buf, 2, len);
  memcpy(buf + h, payload, len);
  return conn_write(c, buf, h + len, false);
}

/* ---- rooms ------------------------------------------------------------- */

static uint32_t hash_name(const uint8_t *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 16777619u;
  return h;
}

static room_t *room_get(const uint8_t *name, size_t n) {
  uint32_t b = hash_name(name, n) % 4096;
  for (room_t *r = g_rooms[b]; r; r = r->next)
    if (r->name_len == n && memcmp(r->name, name, n) == 0)
      return r;
  room_t *r = calloc(1, sizeof(*r));
  if (!r)
    exit(1);
  memcpy(r->name, name, n);
  r->name_len = (uint8_t)n;
  r->cap = g_room_size ? g_room_size : 1;
  r->members = xmalloc(r->cap * sizeof(conn_t *));
  r->dirty = xmalloc(r->cap * sizeof(conn_t *));
  r->next = g_rooms[b];
  g_rooms[b] = r;
  return r;
}

/* A fixed-size member row: [id, "f", x, y, z, yaw]. */
static uint8_t *put_member_row(uint8_t *p, const conn_t *m) {
  *p++ = 0x96;
  p = put_id(p, m->id);
  p = put_str(p, "f", 1);
  memcpy(p, m->entry_len ? m->entry + m->entry_len - 20 : ZERO_POS, 20);
  return p + 20;
}

/* Broadcasts a payload to every member but `except`, one write each. */
static void room_broadcast(room_t *r, const uint8_t *payload, size_t len,
                           const conn_t *except) {
  frame_reserve(len + 10);
  size_t h = ws_header(g_frame, 2, len);
  memmove(g_frame + h, payload, len);
  /* Members may close (and leave) while we write: walk from the end. */
  for (uint32_t i = r->n; i-- > 0;) {
    if (i >= r->n)
      continue;
    conn_t *m = r->members[i];
    if (m != except)
      conn_write(m, g_frame, h + len, false);
  }
}

static void room_leave(conn_t *c, bool tell) {
  room_t *r = c->room;
  if (!r)
    return;
  if (c->dirty) {
    for (uint32_t i = 0; i < r->n_dirty; i++)
      if (r->dirty[i] == c) {
        r->dirty[i] = r->dirty[--r->n_dirty];
        break;
      }
    c->dirty = false;
  }
  r->members[c->member] = r->members[--r->n];
  r->members[c->member]->member = c->member;
  c->room = NULL;
  /* An empty room is kept (rooms are few and named by the bench): nothing
   * walking the rooms ever sees one vanish. */
  if (tell && r->n) {
    uint8_t left[16], *p = left;
    *p++ = 0x92;
    *p++ = 4;
    p = put_id(p, c->id);
    room_broadcast(r, left, (size_t)(p - left), NULL);
  }
}

static void room_join(conn_t *c, const uint8_t *name, size_t n) {
  room_leave(c, true);
  room_t *r = room_get(name, n);
  if (r->n == r->cap) {
    r->cap *= 2;
    r->members = xrealloc(r->members, r->cap * sizeof(conn_t *));
    r->dirty = xrealloc(r->dirty, r->cap * sizeof(conn_t *));
  }
  c->member = r->n;
  r->members[r->n++] = c;
  c->room = r;

  /* JOINED to the others: [3, id, name, x, y, z, yaw] */
  uint8_t joined[48], *p = joined;
  *p++ = 0x97;
  *p++ = 3;
  p = put_id(p, c->id);
  p = put_str(p, "f", 1);
  memcpy(p, ZERO_POS, 20);
  p += 20;
  room_broadcast(r, joined, (size_t)(p - joined), c);

  /* ROOM to the joiner: [2, room, [rows...], []] */
  size_t need = 80 + (size_t)r->n * 32;
  uint8_t *buf = xmalloc(need);
  p = buf;
  *p++ = 0x94;
  *p++ = 2;
  p = put_str(p, r->name, r->name_len);
  p = put_arr(p, r->n);
  for (uint32_t i = 0; i < r->n; i++)
    p = put_member_row(p, r->members[i]);
  *p++ = 0x90;
  send_msg(c, buf, (size_t)(p - buf));
  free(buf);
}

/* A disconnect sends no LEFT: plaza keeps the session for its resume grace
 * period too. The struct is freed after the current epoll batch. */
static void conn_close(conn_t *c) {
  if (c->dead)
    return;
  c->dead = true;
  room_leave(c, false);
  epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->in);
  c->in = NULL;
  free(c->out);
  c->out = NULL;
  c->next_dead = g_dead;
  g_dead = c;
}

/* ---- the tick ------------------------------------------------------------ */

static void tick(void) {
  g_tick++;
  for (unsigned b = 0; b < 4096; b++) {
    room_t *r = g_rooms[b];
    while (r) {
      if (r->n_dirty) {
        size_t len = 16 + (size_t)r->n_dirty * ENTRY_MAX;
        frame_reserve(len + 10);
        uint8_t *pl = g_frame + 10, *p = pl;
        *p++ = 0x93;
        *p++ = 5;
        p = put_uint(p, g_tick);
        p = put_arr(p, r->n_dirty);
        for (uint32_t i = 0; i < r->n_dirty; i++) {
          conn_t *m = r->dirty[i];
          memcpy(p, m->entry, m->entry_len);
          p += m->entry_len;
          m->dirty = false;
        }
        r->n_dirty = 0;
        len = (size_t)(p - pl);
        uint8_t h[10];
        size_t hl = ws_header(h, 2, len);
        uint8_t *f = pl - hl;
        memcpy(f, h, hl);
        for (uint32_t i = r->n; i-- > 0;) {
          if (i >= r->n)
            continue;
          conn_write(r->members[i], f, hl + len, true);
        }
      }
      r = r->next;
    }
  }
}

/* ---- client messages -------------------------------------------------------
 */

/* Size of one MessagePack scalar at p (numbers only), 0 if unknown. */
static size_t num_size(const uint8_t *p) {
  uint8_t b = p[0];
  if (b < 0x80 || b >= 0xe0)
    return 1;
  switch (b) {
  case 0xcc:
  case 0xd0:
    return 2;
  case 0xcd:
  case 0xd1:
    return 3;
  case 0xce:
  case 0xd2:
  case 0xca:
    return 5;
  case 0xcf:
  case 0xd3:
  case 0xcb:
    return 9;
  default:
    return 0;
  }
}

static uint64_t get_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

/* A coordinate as float32 bytes (ca + 4), copied raw when it is one. */
static void coord_f32(uint8_t *out, const uint8_t *p) {
  float f;
  uint8_t b = p[0];
  if (b == 0xca) {
    memcpy(out, p, 5);
    return;
  }
  if (b == 0xcb) {
    uint64_t u = get_be(p + 1, 8);
    double d;
    memcpy(&d, &u, 8);
    f = (float)d;
  } else if (b < 0x80) {
    f = (float)b;
  } else if (b >= 0xe0) {
    f = (float)(int8_t)b;
  } else {
    f = 0; /* other integer forms: not sent by the bench */
  }
  uint32_t u32;
  memcpy(&u32, &f, 4);
  out[0] = 0xca;
  put_be(out + 1, u32, 4);
}

static void on_move(conn_t *c, const uint8_t *p, size_t n) {
  /* p: [4, seq, x, y, z, yaw] = 96 04 seq x y z yaw */
  if (!c->room || n < 3)
    return;
  const uint8_t *q = p + 2, *end = p + n;
  size_t s = num_size(q);
  if (!s || q + s > end)
    return;
  uint64_t seq = s == 1 ? q[0] : get_be(q + 1, (int)s - 1);
  q += s;
  uint8_t *e = c->entry;
  *e++ = 0x96;
  e = put_id(e, c->id);
  e = put_uint(e, seq);
  for (int i = 0; i < 4; i++) {
    size_t k = q < end ? num_size(q) : 0;
    if (!k || q + k > end) {
      memcpy(e, ZERO_POS, 5);
    } else {
      coord_f32(e, q);
      q += k;
    }
    e += 5;
  }
  c->entry_len = (uint8_t)(e - c->entry);
  if (!c->dirty) {
    c->dirty = true;
    c->room->dirty[c->room->n_dirty++] = c;
  }
}

/* A str at p: its bytes and total size, or false. */
static bool get_str(const uint8_t *p, const uint8_t *end, const uint8_t **s,
                    size_t *n, size_t *total) {
  if (p >= end)
    return false;
  size_t h;
  if ((p[0] & 0xe0) == 0xa0) {
    *n = p[0] & 0x1f;
    h = 1;
  } else if (p[0] == 0xd9 && p + 1 < end) {
    *n = p[1];
    h = 2;
  } else if (p[0] == 0xda && p + 2 < end) {
    *n = (size_t)get_be(p + 1, 2);
    h = 3;
  } else {
    return false;
  }
  if (p + h + *n > end)
    return false;
  *s = p + h;
  *total = h + *n;
  return true;
}

static void on_message(conn_t *c, const uint8_t *p, size_t n) {
  if (n < 2 || (p[0] & 0xf0) != 0x90)
    return;
  switch (p[1]) {
  case 4:
    on_move(c, p, n);
    break;
  case 1: { /* HELLO -> WELCOME [1, id, session, tick_hz, time, false] */
    static const char session[] =
        "274877906945.00000000000000000000000000000000";
    uint8_t w[96], *q = w;
    c->hello = true;
    *q++ = 0x96;
    *q++ = 1;
    q = put_id(q, c->id);
    q = put_str(q, session, sizeof(session) - 1);
    q = put_uint(q, g_tick_hz);
    *q++ = 0xcf;
    q = put_be(q, now_ms(), 8);
    *q++ = 0xc2;
    send_msg(c, w, (size_t)(q - w));
    break;
  }
  case 2: { /* JOIN [2, room] */
    const uint8_t *s;
    size_t sn, tot;
    if (get_str(p + 2, p + n, &s, &sn, &tot) && sn >= 1 && sn <= 64)
      room_join(c, s, sn);
    break;
  }
  case 3: /* LEAVE: LEFT to everyone, the leaver included */
    if (c->room) {
      uint8_t left[16], *q = left;
      *q++ = 0x92;
      *q++ = 4;
      q = put_id(q, c->id);
      room_leave(c, true);
      send_msg(c, left, (size_t)(q - left));
    }
    break;
  case 5: { /* CHAT [5, text] -> [6, seq, id, "f", text, ts] to the room */
    const uint8_t *s;
    size_t sn, tot;
    if (!c->room || !get_str(p + 2, p + n, &s, &sn, &tot))
      break;
    uint8_t buf[640], *q = buf;
    if (tot > 520)
      break;
    *q++ = 0x96;
    *q++ = 6;
    q = put_uint(q, ++c->room->chat_seq);
    q = put_id(q, c->id);
    q = put_str(q, "f", 1);
    memcpy(q, s - (tot - sn), tot);
    q += tot;
    *q++ = 0xcf;
    q = put_be(q, now_ms(), 8);
    room_broadcast(c->room, buf, (size_t)(q - buf), NULL);
    break;
  }
  case 7: { /* PING [7, t] -> PONG [8, t, now] */
    size_t k = n > 2 ? num_size(p + 2) : 0;
    if (!k || 2 + k > n)
      break;
    uint8_t buf[32], *q = buf;
    *q++ = 0x93;
    *q++ = 8;
    memcpy(q, p + 2, k);
    q += k;
    *q++ = 0xcf;
    q = put_be(q, now_ms(), 8);
    send_msg(c, buf, (size_t)(q - buf));
    break;
  }
  default:
    break;
  }
}

/* Parses whole frames of buf; returns bytes consumed, or -1 if c closed. */
static long ws_input(conn_t *c, uint8_t *buf, size_t len) {
  size_t off = 0;
  while (len - off >= 2) {
    uint8_t *f = buf + off;
    int opcode = f[0] & 0x0f;
    uint64_t plen = f[1] & 0x7f;
    size_t h = 2;
    if (plen == 126) {
      if (len - off < 4)
        break;
      plen = get_be(f + 2, 2);
      h = 4;
    } else if (plen == 127) {
      if (len - off < 10)
        break;
      plen = get_be(f + 2, 8);
      h = 10;
    }
    bool masked = f[1] & 0x80;
    if (plen > MSG_MAX) {
      conn_close(c);
      return -1;
    }
    size_t mh = h + (masked ? 4 : 0);
    if (len - off < mh + plen)
      break;
    uint8_t *pl = f + mh;
    if (masked) {
      uint8_t m[4];
      memcpy(m, f + h, 4);
      uint32_t m32;
      memcpy(&m32, m, 4);
      size_t i = 0;
      for (; i + 4 <= plen; i += 4) {
        uint32_t v;
        memcpy(&v, pl + i, 4);
        v ^= m32;
        memcpy(pl + i, &v, 4);
      }
      for (; i < plen; i++)
        pl[i] ^= m[i & 3];
    }
    off += mh + plen;
    if (opcode == 2) {
      on_message(c, pl, plen);
    } else if (opcode == 8) { /* close: echo the code, then close */
      uint8_t cl[4] = {0x88, 0, 0, 0};
      size_t cn = 2;
      if (plen >= 2) {
        cl[1] = 2;
        cl[2] = pl[0];
        cl[3] = pl[1];
        cn = 4;
      }
      send(c->fd, cl, cn, MSG_NOSIGNAL | MSG_DONTWAIT);
      conn_close(c);
      return -1;
    } else if (opcode == 9) { /* ping -> pong */
      uint8_t pong[2 + 125];
      pong[0] = 0x8a;
      pong[1] = (uint8_t)(plen > 125 ? 125 : plen);
      memcpy(pong + 2, pl, pong[1]);
      if (!conn_write(c, pong, 2 + pong[1], false))
        return -1;
    }
    /* text, pong, continuation: read and discarded */
    if (c->dead) /* closed by a write failure inside on_message */
      return -1;
  }
  return (long)off;
}

static const char *find_ci(const char *hay, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (strncasecmp(hay + i, needle, k) == 0)
      return hay + i;
  return NULL;
}

/* Returns bytes of the head consumed (0: need more), or -1 if c closed. */
static long http_input(conn_t *c, const uint8_t *buf, size_t len) {
  const char *s = (const char *)buf;
  const char *eoh = memmem(s, len, "\r\n\r\n", 4);
  if (!eoh) {
    if (len > HTTP_MAX) {
      conn_close(c);
      return -1;
    }
    return 0;
  }
  size_t head = (size_t)(eoh - s) + 4;
  const char *k = find_ci(s, head, "\r\nSec-WebSocket-Key:");
  if (!k) {
    static const char ok[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: 36\r\nConnection: close\r\n\r\n"
        "{\"status\":\"ok\",\"node\":\"plaza-floor\"}";
    send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    conn_close(c);
    return -1;
  }
  k += 20;
  while (*k == ' ' || *k == '\t')
    k++;
  const char *ke = k;
  while (ke < s + head && *ke != '\r' && *ke != ' ')
    ke++;
  char cat[128];
  size_t kn = (size_t)(ke - k);
  if (kn == 0 || kn > 64) {
    conn_close(c);
    return -1;
  }
  memcpy(cat, k, kn);
  memcpy(cat + kn, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdn = 0;
  EVP_Digest(cat, kn + 36, md, &mdn, EVP_sha1(), NULL);
  char acc[32];
  EVP_EncodeBlock((unsigned char *)acc, md, (int)mdn);
  bool proto = find_ci(s, head, "plaza.v1") != NULL;
  char resp[256];
  int rn = snprintf(resp, sizeof(resp),
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                    acc, proto ? "Sec-WebSocket-Protocol: plaza.v1\r\n" : "");
  c->ws = true;
  if (!conn_write(c, (const uint8_t *)resp, (size_t)rn, false))
    return -1;
  return (long)head;
}

static void conn_read(conn_t *c) {
  /* Read once (level-triggered: the loop comes back for more). The carry
   * of a partial frame goes first. */
  size_t have = c->in_len;
  if (have)
    memcpy(g_rbuf, c->in, have);
  ssize_t n = recv(c->fd, g_rbuf + have, 65536, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    conn_close(c);
    return;
  }
  if (n < 0)
    return;
  size_t len = have + (size_t)n, off = 0;
  if (!c->ws) {
    long h = http_input(c, g_rbuf, len);
    if (h < 0)
      return;
    off = (size_t)h;
  }
  if (c->dead)
    return;
  if (c->ws && off < len) {
    long r = ws_input(c, g_rbuf + off, len - off);
    if (r < 0)
      return;
    off += (size_t)r;
  }
  if (c->dead)
    return;
  size_t rest = len - off;
  if (rest == 0) {
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
  } else {
    if (rest > c->in_len || !c->in)
      c->in = xrealloc(c->in, rest);
    memmove(c->in, g_rbuf + off, rest);
    c->in_len = (uint32_t)rest;
  }
}

static void accept_all(void) {
  for (;;) {
    int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        fprintf(stderr, "plaza-floor: accept: %s\n", strerror(errno));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
      exit(1);
    c->fd = fd;
    c->id = ID_BASE | g_next_id++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(void) {
  fprintf(stderr, "usage: plaza-floor [--port P] [--host A] [--tick-hz H] "
                  "[--room-size S]\n");
}

int main(int argc, char **argv) {
  unsigned port = 8090;
  const char *host = "127.0.0.1";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage();
      return 0;
    }
    if (!v) {
      usage();
      return 2;
    }
    if (!strcmp(a, "--port"))
      port = (unsigned)atoi(v);
    else if (!strcmp(a, "--host"))
      host = v;
    else if (!strcmp(a, "--tick-hz"))
      g_tick_hz = (unsigned)atoi(v);
    else if (!strcmp(a, "--room-size"))
      g_room_size = (unsigned)atoi(v);
    else {
      usage();
      return 2;
    }
    i++;
  }
  if (g_tick_hz == 0 || g_tick_hz > 1000 || port > 65535) {
    usage();
    return 2;
  }

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(g_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
    fprintf(stderr, "plaza-floor: bad --host %s\n", host);
    return 2;
  }
  if (bind(g_lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
      listen(g_lfd, 4096) < 0) {
    fprintf(stderr, "plaza-floor: listen %s:%u: %s\n", host, port,
            strerror(errno));
    return 1;
  }
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  g_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  long ns = 1000000000L / g_tick_hz;
  struct itimerspec its = {.it_interval = {ns / 1000000000L, ns % 1000000000L},
                           .it_value = {ns / 1000000000L, ns % 1000000000L}};
  timerfd_settime(g_tfd, 0, &its, NULL);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g_lfd};
  epoll_ctl(g_ep, EPOLL_CTL_ADD, g_lfd, &ev);
  ev.data.ptr = &g_tfd;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, g_tfd, &ev);
  g_frame_cap = 65536;
  g_frame = xmalloc(g_frame_cap);
  printf("plaza-floor listening on %s:%u, tick %u Hz, rooms of %u\n", host,
         port, g_tick_hz, g_room_size);
  fflush(stdout);

  struct epoll_event evs[256];
  while (!g_stop) {
    int n = epoll_wait(g_ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      perror("epoll_wait");
      return 1;
    }
    /* The tick first: a closing connection below may free a room. */
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &g_tfd) {
        uint64_t exp;
        if (read(g_tfd, &exp, sizeof(exp)) > 0)
          tick();
        evs[i].data.ptr = NULL;
      }
    }
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == NULL)
        continue;
      if (p == &g_lfd) {
        accept_all();
        continue;
      }
      conn_t *c = p;
      /* c may have been closed by an earlier event of this batch (a
       * broadcast write failing); it is freed only below. */
      if (c->dead)
        continue;
      if (evs[i].events & EPOLLOUT)
        conn_flush(c);
      if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(c);
    }
    while (g_dead) {
      conn_t *d = g_dead;
      g_dead = d->next_dead;
      free(d);
    }
  }
  printf("plaza-floor: stopping\n");
  return 0;
}
