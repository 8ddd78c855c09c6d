/*
 * What a simulated client does and what it measures (see sim.h for the
 * measurement design): connect, hello and join through its protocol, walk
 * and chat on the worker's schedule, read STATE and CHAT, and, in the churn
 * scenario, drop and come back. Runs on the client's worker thread.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "worker.h"

#define RING_MASK (PZ_SENT_RING - 1)
#define BACKLOG_MAX 65536 /* unsent bytes past which a move is skipped */
#define CHURN_LIFE_MIN_S 3.0
#define CHURN_LIFE_MAX_S 8.0
#define CHURN_QUIESCE_NS 300000000ull /* stop moving before a drop */
#define CHURN_AWAY_MIN_S 0.2
#define CHURN_AWAY_MAX_S 1.0
#define CHAT_PREFIX "pzb:"

_Static_assert((PZ_SENT_RING & RING_MASK) == 0, "ring: a power of two");

uint64_t pz_sim_now(void) {
  return uv_hrtime();
}

static const pz_bench_proto_t *proto(const pz_bench_client_t *c) {
  return c->w->o->proto;
}

/* With a VIEW: the distance within which a receiver surely sees a move
 * (sim.h), squared; 0 without one. */
static double sure2(const pz_bench_opts_t *o) {
  if (o->view_radius <= 0)
    return 0;
  double margin = 0.2 * o->view_radius > 4 ? 0.2 * o->view_radius : 4;
  double d = o->view_radius - margin;
  return d > 0 ? d * d : 0;
}

/* Moves of m with seq in [lo, hi] that receiver slot k was expected to
 * see: all of them without a VIEW, else those whose mask names k (moves
 * older than the ring are not known any more: none). */
static uint64_t expected_of(const pz_bench_client_t *m, uint32_t k, uint64_t lo,
                            uint64_t hi) {
  if (hi < lo)
    return 0;
  if (m->expect == NULL)
    return hi - lo + 1;
  if (m->seq >= PZ_SENT_RING && lo < m->seq - PZ_SENT_RING + 1)
    lo = m->seq - PZ_SENT_RING + 1;
  uint64_t n = 0;
  for (uint64_t s = lo; s <= hi; s++)
    n += m->expect[s & RING_MASK] >> k & 1;
  return n;
}

size_t pz_sim_name(const pz_bench_client_t *c, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "b%" PRIu32, c->gidx);
  return n < 0 ? 0 : (size_t)n;
}

/* ---- encoding scratch ---------------------------------------------------- */

msgpack_packer *pz_sim_enc_begin(pz_bench_client_t *c) {
  c->w->sb.size = 0;
  return &c->w->pk;
}

int pz_sim_enc_send(pz_bench_client_t *c, int opcode) {
  pz_bench_worker_t *w = c->w;
  return pz_wsc_send(&c->ws, opcode, w->sb.data, w->sb.size);
}

int pz_sim_send_raw(pz_bench_client_t *c, int opcode, const void *p, size_t n) {
  return pz_wsc_send(&c->ws, opcode, p, n);
}

/* ---- presence ------------------------------------------------------------ */

/* Leaves the local view of the room: off the schedule, and a sampled
 * receiver takes back the moves it was expected to see and has not. */
static void leave_present(pz_bench_client_t *c) {
  pz_bench_worker_t *w = c->w;
  pz_bench_room_t *room = c->room;

  if (!c->present)
    return;
  c->present = false;
  w->present--;
  pz_worker_sched_remove(w, c);
  if (!c->sampled)
    return;
  room->n_sampled_present--;
  for (uint32_t i = 0; i < room->cap; i++) {
    pz_bench_client_t *m = room->members[i];
    if (m == NULL || m == c)
      continue;
    uint64_t lo = c->seen[i] + 1 > m->win_lo ? c->seen[i] + 1 : m->win_lo;
    w->expected -= expected_of(m, c->slot, lo, m->win_hi);
  }
}

void pz_sim_welcome(pz_bench_client_t *c, uint64_t id, const char *session,
                    size_t session_len, bool resumed) {
  pz_bench_worker_t *w = c->w;

  if (c->id != 0 && c->id != id)
    pz_idmap_del(&w->ids, c->id, c);
  c->id = id;
  pz_idmap_put(&w->ids, id, c);
  if (session != NULL && w->o->churn) { /* only churn resumes */
    char *s = realloc(c->session, session_len + 1);
    if (s != NULL) {
      memcpy(s, session, session_len);
      s[session_len] = '\0';
      c->session = s;
    }
  }
  if (c->cycles > 1) {
    if (resumed)
      w->cum.resumes++;
    else
      w->cum.rejoins++;
  }
}

void pz_sim_room(pz_bench_client_t *c, const pz_pos_t *own_pos) {
  pz_bench_worker_t *w = c->w;
  const pz_bench_opts_t *o = w->o;
  pz_bench_room_t *room = c->room;
  uint64_t now = uv_hrtime();

  if (c->phase != PZ_PH_SETUP)
    return; /* a second ROOM (resume replays): already in */
  c->phase = PZ_PH_PRESENT;
  c->present = true;
  c->t_present_ns = now;
  w->present++;
  w->cum.conn_made++;
  pz_hist_record(w->h_setup, (now - c->t_connect_ns) / 1000);

  if (c->sampled) {
    if (c->seen == NULL &&
        (c->seen = calloc(room->cap, sizeof(*c->seen))) == NULL) {
      fprintf(stderr, "plaza-bench: out of memory\n");
      abort();
    }
    /* Only moves sent from now on are expected here. */
    for (uint32_t i = 0; i < room->cap; i++)
      c->seen[i] = room->members[i] ? room->members[i]->seq : 0;
    room->n_sampled_present++;
  }
  c->ws.count_ok = !c->sampled;
  if (!c->sampled && o->lazy_ms > 0)
    pz_wsc_set_lazy(&c->ws, true); /* nobody times its messages */

  uint64_t seed = o->seed ^ ((uint64_t)c->gidx << 20) ^ c->cycles;
  if (o->area > 0) { /* spread over the square: the first MOVE spawns there */
    uint64_t r = pz_rng_seed(seed ^ 0x5eed);
    double h = o->area / 2;
    pz_walk_init(&c->walk, seed, pz_rng_range(&r, -h, h),
                 pz_rng_range(&r, -h, h));
    pz_walk_set_area(&c->walk, h);
  } else {
    pz_walk_init(&c->walk, seed, own_pos ? own_pos->x : 0,
                 own_pos ? own_pos->y : 0);
  }
  if (pz_bench_view(o) && c->expect == NULL &&
      (c->expect = calloc(PZ_SENT_RING, sizeof(*c->expect))) == NULL) {
    fprintf(stderr, "plaza-bench: out of memory\n");
    abort();
  }
  if (o->move_hz > 0 && c->sent == NULL &&
      (c->sent = calloc(PZ_SENT_RING, sizeof(*c->sent))) == NULL) {
    fprintf(stderr, "plaza-bench: out of memory\n");
    abort();
  }
  pz_worker_sched_add(w, c);
  if (o->churn) {
    double life = pz_rng_range(&w->rng, CHURN_LIFE_MIN_S, CHURN_LIFE_MAX_S);
    pz_worker_heap_push(w, c, now + (uint64_t)(life * 1e9));
  }
}

/* ---- reading ------------------------------------------------------------- */

void pz_sim_state(pz_bench_client_t *c, uint32_t n) {
  c->w->cum.state_msgs++;
  c->w->cum.state_entries += n;
}

void pz_sim_state_bytes(pz_bench_client_t *c, uint32_t n, size_t len) {
  (void)n;
  c->w->cum.state_msgs_sampled++;
  c->w->cum.state_bytes_sampled += len;
}

void pz_sim_away(pz_bench_client_t *c, uint32_t n) {
  c->w->cum.aways += n;
}

void pz_sim_state_entry(pz_bench_client_t *c, uint64_t id, uint64_t seq,
                        uint64_t now_ns) {
  pz_bench_worker_t *w = c->w;
  pz_bench_client_t *m;

  w->cum.state_entries_sampled++;
  if (!c->present || id == c->id || (m = pz_idmap_get(&w->ids, id)) == NULL ||
      m->room != c->room)
    return;
  uint64_t *seen = &c->seen[m->slot];
  if (seq <= *seen)
    return;
  /* Every move of m with seq in (seen, seq] is acknowledged. */
  uint64_t lo = *seen + 1 > m->win_lo ? *seen + 1 : m->win_lo;
  uint64_t hi = seq < m->win_hi ? seq : m->win_hi;
  w->delivered += expected_of(m, c->slot, lo, hi);
  *seen = seq;
  /* The latency of the move this entry shows. */
  if (m->sent != NULL && seq <= m->seq && m->seq - seq < PZ_SENT_RING) {
    uint32_t us = pz_worker_us(w, now_ns) - m->sent[seq & RING_MASK];
    pz_hist_record(w->h_sec, us);
    if (seq >= m->win_lo && seq <= m->win_hi) {
      pz_hist_record(w->h_move, us);
      pz_hist_record(m->node == c->node ? w->h_move_same : w->h_move_cross, us);
    }
  } else {
    w->cum.lat_lost++;
  }
}

void pz_sim_chat(pz_bench_client_t *c, uint64_t from, uint64_t seq,
                 const char *text, size_t len, uint64_t now_ns) {
  pz_bench_worker_t *w = c->w;
  char buf[32];
  uint64_t sent;

  w->cum.chats_recv++;
  if (seq > c->last_chat_seq)
    c->last_chat_seq = seq;
  /* Time chats of others sent while this client was in the room (a
   * resumed session's replays were not). */
  if (!c->sampled || !c->present || from == c->id ||
      len <= strlen(CHAT_PREFIX) || len >= sizeof(buf) ||
      memcmp(text, CHAT_PREFIX, strlen(CHAT_PREFIX)) != 0)
    return;
  memcpy(buf, text, len);
  buf[len] = '\0';
  if (sscanf(buf + strlen(CHAT_PREFIX), "%" SCNx64, &sent) != 1 ||
      sent < c->t_present_ns || sent > now_ns)
    return;
  if (sent >= w->wall0 && w->win_started && (!w->win_ended || sent < w->wall1))
    pz_hist_record(w->h_chat, (now_ns - sent) / 1000);
}

void pz_sim_chat_seen(pz_bench_client_t *c, uint64_t seq) {
  c->w->cum.chats_recv++;
  if (seq > c->last_chat_seq)
    c->last_chat_seq = seq;
}

void pz_sim_error(pz_bench_client_t *c, int kind) {
  if (kind < 0 || kind >= PZ_ERRK_N)
    kind = PZ_ERRK_OTHER;
  c->w->cum.errors[kind]++;
}

void pz_sim_bad(pz_bench_client_t *c) {
  c->w->cum.decode_errors++;
}

/* ---- acting -------------------------------------------------------------- */

void pz_sim_connect(pz_bench_client_t *c, uint64_t now) {
  pz_bench_worker_t *w = c->w;
  const pz_bench_opts_t *o = w->o;
  const struct sockaddr_in *bind =
      w->binds ? &w->binds[(c->gidx + c->cycles) % o->local_ips] : NULL;

  c->cycles++;
  c->t_connect_ns = now;
  c->phase = PZ_PH_SETUP;
  c->pstate = 0;
  w->cum.conn_attempted++;
  int r = pz_wsc_connect(&c->ws, &w->wsc[c->node], bind);
  if (r != 0) {
    w->cum.conn_failed++;
    if (r == UV_EMFILE || r == UV_ENFILE)
      w->cum.conn_nofd++;
    c->phase = PZ_PH_DEAD;
  }
}

/* Churn: drop now, half the time as a vanishing client that resumes
 * (plaza), half as one that leaves, closes and joins afresh. */
static void churn_drop(pz_bench_client_t *c) {
  pz_bench_worker_t *w = c->w;
  const pz_bench_proto_t *p = proto(c);

  w->cum.drops++;
  leave_present(c);
  c->phase = PZ_PH_DROPPING;
  bool vanish = c->cycles % 2 == 1;
  c->resume_next = vanish && c->session != NULL;
  if (vanish) {
    pz_wsc_abort(&c->ws);
    return;
  }
  p->send_leave(c);
  if (p->goodbye)
    p->goodbye(c);
  pz_idmap_del(&w->ids, c->id, c);
  c->id = 0;
  pz_wsc_close(&c->ws, 1000);
}

void pz_sim_timed(pz_bench_client_t *c, uint64_t now) {
  pz_bench_worker_t *w = c->w;

  switch (c->phase) {
  case PZ_PH_WAIT:
    pz_sim_connect(c, now);
    break;
  case PZ_PH_PRESENT: /* churn: its life is nearly over */
    c->phase = PZ_PH_QUIESCE;
    pz_worker_sched_remove(w, c);
    pz_worker_heap_push(w, c, now + CHURN_QUIESCE_NS);
    break;
  case PZ_PH_QUIESCE:
    churn_drop(c);
    break;
  default:
    break;
  }
}

/* Marks in c's ring which sampled members of its room are within the
 * sure distance of move seq; returns how many. */
static uint64_t expect_mask(pz_bench_client_t *c, uint64_t seq, double d2) {
  pz_bench_room_t *room = c->room;
  uint32_t k_max = c->w->o->sample < room->cap ? c->w->o->sample : room->cap;
  uint64_t mask = 0, n = 0;
  for (uint32_t k = 0; k < k_max; k++) {
    pz_bench_client_t *r = room->members[k];
    if (r == NULL || r == c || !r->present || !r->sampled)
      continue;
    double dx = r->px - c->px, dz = r->pz - c->pz;
    if (dx * dx + dz * dz <= d2) {
      mask |= 1ull << k;
      n++;
    }
  }
  c->expect[seq & RING_MASK] = mask;
  return n;
}

void pz_sim_activity(pz_bench_client_t *c, uint64_t now, uint64_t due) {
  pz_bench_worker_t *w = c->w;
  const pz_bench_opts_t *o = w->o;
  uint64_t lag_us = now > due ? (now - due) / 1000 : 0;

  w->cum.lag_sum_us += lag_us;
  w->cum.lag_n++;
  if (lag_us > w->cum.lag_max_us)
    w->cum.lag_max_us = lag_us;
  if (w->win_open)
    pz_hist_record(w->h_lag, lag_us);

  if (o->move_hz > 0) {
    w->cum.moves_due++;
    if (pz_wsc_buffered(&c->ws) > BACKLOG_MAX) {
      w->cum.moves_skipped++; /* the server is not reading */
    } else {
      pz_pos_t pos = pz_walk_step(&c->walk, w->period_s);
      if (o->area > 0 || pz_bench_view(o)) /* views are on (x, z) */
        pos = (pz_pos_t){pos.x, 0, pos.y, pos.yaw};
      uint64_t seq = c->seq + 1, t = uv_hrtime();
      c->sent[seq & RING_MASK] = pz_worker_us(w, t);
      c->seq = seq; /* before sending: a reply may come back at once */
      if (proto(c)->send_move(c, seq, &pos) == 0) {
        w->cum.moves_sent++;
        c->px = pos.x;
        c->pz = pos.z;
        uint64_t n =
            c->room->n_sampled_present - (c->sampled && c->present ? 1 : 0);
        if (c->expect) /* who is near enough to be sure to see it */
          n = expect_mask(c, seq, sure2(o));
        if (w->win_open) {
          c->win_hi = seq;
          w->expected += n;
        }
      } else {
        c->seq = seq - 1; /* not sent: not a move */
        w->cum.moves_skipped++;
      }
    }
  }
  if (w->chat_p > 0 && pz_rng_unit(&w->rng) < w->chat_p) {
    char text[32];
    int n = snprintf(text, sizeof(text), CHAT_PREFIX "%" PRIx64, uv_hrtime());
    if (proto(c)->send_chat(c, text, (size_t)n) == 0)
      w->cum.chats_sent++;
  }
}

void pz_sim_stop(pz_bench_client_t *c) {
  pz_bench_worker_t *w = c->w;
  leave_present(c);
  pz_worker_heap_remove(w, c);
  if (!c->connected && c->phase == PZ_PH_SETUP) {
    pz_wsc_abort(&c->ws); /* still connecting */
    return;
  }
  if (pz_wsc_is_open(&c->ws)) {
    if (proto(c)->goodbye)
      proto(c)->goodbye(c);
    pz_wsc_close(&c->ws, 1000);
  }
}

/* ---- transport callbacks --------------------------------------------------
 */

static void on_open(pz_wsc_t *ws) {
  pz_bench_client_t *c = (pz_bench_client_t *)ws;
  c->connected = true;
  proto(c)->on_open(c);
}

static bool want_full(pz_wsc_t *ws, int opcode, const uint8_t *pfx, size_t n) {
  pz_bench_client_t *c = (pz_bench_client_t *)ws;
  return proto(c)->want_full(c, opcode, pfx, n);
}

static void on_message(pz_wsc_t *ws, int opcode, const uint8_t *p, size_t n) {
  pz_bench_client_t *c = (pz_bench_client_t *)ws;
  proto(c)->on_message(c, opcode, p, n);
}

static void on_close(pz_wsc_t *ws, int code, int err) {
  pz_bench_client_t *c = (pz_bench_client_t *)ws;
  pz_bench_worker_t *w = c->w;
  bool dropping = c->phase == PZ_PH_DROPPING;

  c->connected = false;
  leave_present(c);
  if (c->phase == PZ_PH_QUIESCE) /* closed by the server while quiet */
    pz_worker_heap_remove(w, c);
  /* Our own aborts (churn drops, clients still connecting at the end)
   * are not closes. */
  if (!((dropping || w->stopping) && err == PZ_CLIENT_ECANCELED))
    w->cum.closes[pz_closek_of_code(code)]++;
  if (c->phase == PZ_PH_SETUP && !w->stopping)
    w->cum.conn_failed++;
  if (dropping && !w->stopping) {
    double away = pz_rng_range(&w->rng, CHURN_AWAY_MIN_S, CHURN_AWAY_MAX_S);
    c->phase = PZ_PH_WAIT;
    pz_worker_heap_push(w, c, uv_hrtime() + (uint64_t)(away * 1e9));
    return;
  }
  c->phase = PZ_PH_DEAD;
  pz_idmap_del(&w->ids, c->id, c);
}

const pz_wsc_cbs_t pz_sim_wsc_cbs = {on_open, want_full, on_message, on_close};
