/*
 * A worker's Redis link (see rlink.h).
 *
 * hiredis frees a context itself after a failed connect and after its
 * disconnect callback; we forget our pointer at those points and never
 * touch the context again. redisAsyncFree runs every pending callback with
 * a NULL reply, so the link is marked down before it frees anything: a
 * callback that sends a command then gets PZ_ECLOSED.
 */
#include "rlink.h"

#include <hiredis/adapters/libuv.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "alloc.h"
#include "error.h"
#include "log.h"

enum { L_DOWN, L_CONNECTING, L_UP, L_CLOSING };
enum { CH_NONE, CH_SUBSCRIBING, CH_SUBSCRIBED, CH_UNSUBSCRIBING };

typedef struct chan {
  char name[PZ_RLINK_CHANNEL_MAX];
  uint8_t len;
  bool want;
  int state;
  UT_hash_handle hh;
} chan_t;

/* A command's callback, wrapped so the link can count what is pending. */
typedef struct pending {
  pz_rlink_t *l;
  redisCallbackFn *cb;
  void *privdata;
} pending_t;

struct pz_rlink {
  uv_loop_t *loop;
  pz_redis_url_t url;
  const pz_rlink_events_t *ev;
  void *data;
  int state;
  redisAsyncContext *cmd, *sub;
  bool cmd_ready, sub_ready;
  bool was_up; /* came up at least once: later ups are reconnects */
  uint64_t attempt_ms;
  uint64_t last_cmd_ms, last_sub_ms; /* last probe answer, last probe echo */
  uint32_t failures;                 /* consecutive, for the backoff */
  size_t pending;
  uv_timer_t probe_timer, retry_timer;
  int open_handles;
  char probe_ch[PZ_RLINK_CHANNEL_MAX];
  uint8_t probe_ch_len;
  uint8_t *probe;
  size_t probe_len;
  chan_t *chans;
  pz_rlink_stats_t *stats;
};

static void teardown(pz_rlink_t *l, const char *why);
static void connect_now(pz_rlink_t *l);
static void sub_send(pz_rlink_t *l, chan_t *c);

void *pz_rlink_context_data(const redisAsyncContext *ac) {
  const pz_rlink_t *l = ac ? ac->data : NULL;
  return l ? l->data : NULL;
}

bool pz_rlink_up(const pz_rlink_t *l) {
  return l && l->state == L_UP;
}

static uint64_t now_ms(pz_rlink_t *l) {
  uv_update_time(l->loop);
  return uv_now(l->loop);
}

/* ---- commands ----------------------------------------------------------- */

static void on_pending_reply(redisAsyncContext *ac, void *reply, void *pd) {
  pending_t *p = pd;
  p->l->pending--;
  if (p->cb)
    p->cb(ac, reply, p->privdata);
  free(p);
}

static pending_t *pending_new(pz_rlink_t *l, redisCallbackFn *cb, void *pd) {
  pending_t *p = pz_xmalloc(sizeof(*p));
  *p = (pending_t){l, cb, pd};
  return p;
}

static int can_send(pz_rlink_t *l) {
  if (l->state != L_UP || !l->cmd)
    return PZ_ECLOSED;
  if (l->pending >= PZ_RLINK_MAX_PENDING)
    return PZ_EFULL;
  return 0;
}

int pz_rlink_command(pz_rlink_t *l, redisCallbackFn *cb, void *privdata,
                     const char *fmt, ...) {
  int r = can_send(l);
  if (r)
    return r;
  pending_t *p = pending_new(l, cb, privdata);
  va_list ap;
  va_start(ap, fmt);
  r = redisvAsyncCommand(l->cmd, on_pending_reply, p, fmt, ap);
  va_end(ap);
  if (r != REDIS_OK) {
    free(p);
    return PZ_EIO;
  }
  l->pending++;
  return 0;
}

int pz_rlink_command_argv(pz_rlink_t *l, redisCallbackFn *cb, void *privdata,
                          int argc, const char **argv, const size_t *lens) {
  int r = can_send(l);
  if (r)
    return r;
  pending_t *p = pending_new(l, cb, privdata);
  if (redisAsyncCommandArgv(l->cmd, on_pending_reply, p, argc, argv, lens) !=
      REDIS_OK) {
    free(p);
    return PZ_EIO;
  }
  l->pending++;
  return 0;
}

int pz_rlink_publish(pz_rlink_t *l, const char *ch, size_t chlen,
                     const void *payload, size_t len, redisCallbackFn *cb,
                     void *privdata) {
  int r = pz_rlink_command(l, cb, privdata, "PUBLISH %b %b", ch, chlen, payload,
                           len);
  if (r == 0)
    atomic_fetch_add_explicit(&l->stats->publishes, 1, memory_order_relaxed);
  return r;
}

/* ---- subscriptions ------------------------------------------------------ */

static chan_t *chan_find(pz_rlink_t *l, const char *ch, size_t len) {
  chan_t *c;
  HASH_FIND(hh, l->chans, ch, len, c);
  return c;
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *pd);

/* Moves a channel one step towards what is wanted. */
static void sub_send(pz_rlink_t *l, chan_t *c) {
  if (!l->sub || l->state == L_DOWN || l->state == L_CLOSING)
    return;
  if (c->want && c->state == CH_NONE) {
    c->state = CH_SUBSCRIBING;
    redisAsyncCommand(l->sub, on_sub_reply, l, "SUBSCRIBE %b", c->name,
                      (size_t)c->len);
  } else if (!c->want && c->state == CH_SUBSCRIBED) {
    c->state = CH_UNSUBSCRIBING;
    redisAsyncCommand(l->sub, on_sub_reply, l, "UNSUBSCRIBE %b", c->name,
                      (size_t)c->len);
  }
}

void pz_rlink_subscribe(pz_rlink_t *l, const char *ch, size_t len) {
  if (len >= PZ_RLINK_CHANNEL_MAX)
    return;
  chan_t *c = chan_find(l, ch, len);
  if (!c) {
    c = pz_xcalloc(1, sizeof(*c));
    memcpy(c->name, ch, len);
    c->len = (uint8_t)len;
    HASH_ADD(hh, l->chans, name[0], c->len, c);
  }
  c->want = true;
  sub_send(l, c);
}

void pz_rlink_unsubscribe(pz_rlink_t *l, const char *ch, size_t len) {
  chan_t *c = chan_find(l, ch, len);
  if (!c)
    return;
  c->want = false;
  if (c->state == CH_NONE) {
    HASH_DEL(l->chans, c);
    free(c);
    return;
  }
  sub_send(l, c);
}

static void check_up(pz_rlink_t *l);

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *pd) {
  pz_rlink_t *l = pd;
  redisReply *r = reply;
  if (!r || ac != l->sub || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
      r->element[0]->type != REDIS_REPLY_STRING ||
      r->element[1]->type != REDIS_REPLY_STRING)
    return;
  const char *kind = r->element[0]->str;
  const char *ch = r->element[1]->str;
  size_t chlen = r->element[1]->len;
  if (strcasecmp(kind, "message") == 0) {
    redisReply *m = r->element[2];
    if (m->type != REDIS_REPLY_STRING)
      return;
    if (chlen == l->probe_ch_len && memcmp(ch, l->probe_ch, chlen) == 0 &&
        m->len == l->probe_len && memcmp(m->str, l->probe, m->len) == 0) {
      l->last_sub_ms = now_ms(l);
      return;
    }
    atomic_fetch_add_explicit(&l->stats->received, 1, memory_order_relaxed);
    l->ev->message(l, l->data, ch, chlen, (const uint8_t *)m->str, m->len);
    return;
  }
  chan_t *c = chan_find(l, ch, chlen);
  if (strcasecmp(kind, "subscribe") == 0) {
    if (!c)
      return;
    c->state = CH_SUBSCRIBED;
    if (!c->want) {
      sub_send(l, c);
      return;
    }
    if (chlen == l->probe_ch_len && memcmp(ch, l->probe_ch, chlen) == 0) {
      l->sub_ready = true;
      l->last_sub_ms = now_ms(l);
      check_up(l);
    }
    if (l->ev->subscribed)
      l->ev->subscribed(l, l->data, ch, chlen);
  } else if (strcasecmp(kind, "unsubscribe") == 0) {
    if (!c)
      return;
    c->state = CH_NONE;
    if (c->want) {
      sub_send(l, c);
    } else {
      HASH_DEL(l->chans, c);
      free(c);
    }
  }
}

/* ---- connecting --------------------------------------------------------- */

static void check_up(pz_rlink_t *l) {
  if (l->state != L_CONNECTING || !l->cmd_ready || !l->sub_ready)
    return;
  l->state = L_UP;
  l->failures = 0;
  l->last_cmd_ms = l->last_sub_ms = now_ms(l);
  if (l->was_up)
    atomic_fetch_add_explicit(&l->stats->reconnects, 1, memory_order_relaxed);
  l->was_up = true;
  atomic_store_explicit(&l->stats->up, 1, memory_order_relaxed);
  /* The probe channel is already subscribed; the others now. */
  chan_t *c, *tmp;
  HASH_ITER(hh, l->chans, c, tmp) sub_send(l, c);
  l->ev->up(l, l->data);
}

static void on_ready(redisAsyncContext *ac, void *reply, void *pd) {
  pz_rlink_t *l = pd;
  redisReply *r = reply;
  if (!r || ac != l->cmd)
    return;
  if (r->type == REDIS_REPLY_ERROR) {
    teardown(l, "the PING after AUTH/SELECT failed (wrong password or db?)");
    return;
  }
  l->cmd_ready = true;
  l->last_cmd_ms = now_ms(l);
  check_up(l);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *pd) {
  pz_rlink_t *l = pd;
  redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_ERROR && (ac == l->cmd || ac == l->sub))
    pz_warn("redis: AUTH refused: %.*s", (int)r->len, r->str);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  pz_rlink_t *l = ac->data;
  if (status == REDIS_OK)
    return;
  /* hiredis frees the context after this callback. */
  if (ac == l->cmd)
    l->cmd = NULL;
  else if (ac == l->sub)
    l->sub = NULL;
  else
    return;
  teardown(l, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  pz_rlink_t *l = ac->data;
  if (ac == l->cmd)
    l->cmd = NULL;
  else if (ac == l->sub)
    l->sub = NULL;
  else
    return; /* one we already let go of */
  if (l->state == L_CLOSING) {
    if (!l->cmd && !l->sub) {
      uv_timer_stop(&l->probe_timer);
    }
    return;
  }
  teardown(l, status == REDIS_OK ? "connection closed"
                                 : (ac->errstr[0] ? ac->errstr : "i/o error"));
}

static redisAsyncContext *open_ctx(pz_rlink_t *l) {
  redisAsyncContext *ac = redisAsyncConnect(l->url.host, l->url.port);
  if (!ac)
    return NULL;
  if (ac->err) {
    pz_debug("redis: connect: %s", ac->errstr);
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = l;
  if (redisLibuvAttach(ac, l->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    return NULL;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  if (l->url.has_password && l->url.user[0])
    redisAsyncCommand(ac, on_auth, l, "AUTH %s %s", l->url.user,
                      l->url.password);
  else if (l->url.has_password)
    redisAsyncCommand(ac, on_auth, l, "AUTH %s", l->url.password);
  return ac;
}

static void connect_now(pz_rlink_t *l) {
  l->state = L_CONNECTING;
  l->cmd_ready = l->sub_ready = false;
  l->attempt_ms = now_ms(l);
  l->cmd = open_ctx(l);
  l->sub = l->cmd ? open_ctx(l) : NULL;
  if (!l->cmd || !l->sub) {
    teardown(l, "cannot create a connection");
    return;
  }
  if (l->url.db)
    redisAsyncCommand(l->cmd, NULL, NULL, "SELECT %d", l->url.db);
  redisAsyncCommand(l->cmd, on_ready, l, "PING");
  chan_t *probe = chan_find(l, l->probe_ch, l->probe_ch_len);
  probe->state = CH_NONE;
  sub_send(l, probe);
}

static void on_retry(uv_timer_t *t) {
  pz_rlink_t *l = t->data;
  if (l->state == L_DOWN)
    connect_now(l);
}

/* Capped exponential backoff with full jitter: a random wait in
 * [d/2, d], d doubling from the minimum up to the cap. */
static uint64_t backoff_ms(pz_rlink_t *l) {
  uint64_t d = PZ_RLINK_BACKOFF_MIN_MS;
  for (uint32_t i = 0; i < l->failures && d < PZ_RLINK_BACKOFF_MAX_MS; i++)
    d *= 2;
  if (d > PZ_RLINK_BACKOFF_MAX_MS)
    d = PZ_RLINK_BACKOFF_MAX_MS;
  uint32_t rnd = 0;
  if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
    rnd = (uint32_t)uv_hrtime();
  return d / 2 + rnd % (d / 2 + 1);
}

/* Lets go of both contexts and, unless closing, retries later. */
static void teardown(pz_rlink_t *l, const char *why) {
  bool was_up = l->state == L_UP;
  if (l->state == L_CLOSING)
    return;
  l->state = L_DOWN;
  atomic_store_explicit(&l->stats->up, 0, memory_order_relaxed);
  redisAsyncContext *cmd = l->cmd, *sub = l->sub;
  l->cmd = l->sub = NULL;
  chan_t *c, *tmp;
  HASH_ITER(hh, l->chans, c, tmp) {
    if (!c->want) {
      HASH_DEL(l->chans, c);
      free(c);
    } else {
      c->state = CH_NONE;
    }
  }
  if (cmd)
    redisAsyncFree(cmd);
  if (sub)
    redisAsyncFree(sub);
  l->failures++;
  uint64_t wait = backoff_ms(l);
  if (was_up || l->failures == 1)
    pz_warn("redis %s:%d: link down (%s); retrying in %llu ms", l->url.host,
            l->url.port, why, (unsigned long long)wait);
  else
    pz_debug("redis: still down (%s); retrying in %llu ms", why,
             (unsigned long long)wait);
  if (was_up)
    l->ev->down(l, l->data);
  if (l->state == L_DOWN)
    uv_timer_start(&l->retry_timer, on_retry, wait, 0);
}

/* ---- probing ------------------------------------------------------------ */

static void on_probe_reply(redisAsyncContext *ac, void *reply, void *pd) {
  pz_rlink_t *l = pd;
  if (reply && ac == l->cmd)
    l->last_cmd_ms = now_ms(l);
}

static void on_probe(uv_timer_t *t) {
  pz_rlink_t *l = t->data;
  uint64_t now = now_ms(l);
  if (l->state == L_CONNECTING && now - l->attempt_ms > PZ_RLINK_CONNECT_MS) {
    teardown(l, "connect timed out");
  } else if (l->state == L_UP) {
    uint64_t oldest =
        l->last_cmd_ms < l->last_sub_ms ? l->last_cmd_ms : l->last_sub_ms;
    if (now - oldest > PZ_RLINK_DOWN_MS) {
      teardown(l, l->last_cmd_ms < l->last_sub_ms
                      ? "no answer to the probe"
                      : "the probe did not come back on the subscription");
      return;
    }
    pz_rlink_command(l, on_probe_reply, l, "PUBLISH %b %b", l->probe_ch,
                     (size_t)l->probe_ch_len, l->probe, l->probe_len);
  }
}

/* ---- life --------------------------------------------------------------- */

pz_rlink_t *pz_rlink_create(uv_loop_t *loop, const pz_redis_url_t *url,
                            const char *probe_channel, const uint8_t *probe,
                            size_t probe_len, const pz_rlink_events_t *ev,
                            void *data, pz_rlink_stats_t *stats) {
  pz_rlink_t *l = pz_xcalloc(1, sizeof(*l));
  l->loop = loop;
  l->url = *url;
  l->ev = ev;
  l->data = data;
  l->stats = stats;
  l->probe_ch_len = (uint8_t)strlen(probe_channel);
  memcpy(l->probe_ch, probe_channel, l->probe_ch_len);
  l->probe = pz_xmalloc(probe_len);
  memcpy(l->probe, probe, probe_len);
  l->probe_len = probe_len;
  uv_timer_init(loop, &l->probe_timer);
  uv_timer_init(loop, &l->retry_timer);
  l->probe_timer.data = l->retry_timer.data = l;
  l->open_handles = 2;
  l->state = L_DOWN;
  /* The probe channel is always wanted: it is also the link's own inbox. */
  chan_t *c = pz_xcalloc(1, sizeof(*c));
  memcpy(c->name, l->probe_ch, l->probe_ch_len);
  c->len = l->probe_ch_len;
  c->want = true;
  HASH_ADD(hh, l->chans, name[0], c->len, c);
  uv_timer_start(&l->probe_timer, on_probe, PZ_RLINK_PROBE_MS,
                 PZ_RLINK_PROBE_MS);
  connect_now(l);
  return l;
}

static void free_link(pz_rlink_t *l) {
  chan_t *c, *tmp;
  HASH_ITER(hh, l->chans, c, tmp) {
    HASH_DEL(l->chans, c);
    free(c);
  }
  free(l->probe);
  free(l);
}

static void on_timer_closed(uv_handle_t *h) {
  pz_rlink_t *l = h->data;
  if (--l->open_handles == 0) {
    if (l->ev->closed)
      l->ev->closed(l, l->data);
    free_link(l);
  }
}

static void on_close_deadline(uv_timer_t *t) {
  pz_rlink_t *l = t->data;
  redisAsyncContext *cmd = l->cmd, *sub = l->sub;
  l->cmd = l->sub = NULL;
  if (cmd)
    redisAsyncFree(cmd);
  if (sub)
    redisAsyncFree(sub);
  uv_close((uv_handle_t *)&l->probe_timer, on_timer_closed);
  uv_close((uv_handle_t *)&l->retry_timer, on_timer_closed);
}

static void on_close_poll(uv_timer_t *t) {
  pz_rlink_t *l = t->data;
  if ((!l->cmd && !l->sub) || now_ms(l) - l->attempt_ms > PZ_RLINK_CONNECT_MS)
    on_close_deadline(&l->retry_timer);
}

void pz_rlink_close(pz_rlink_t *l) {
  if (l->state == L_CLOSING)
    return;
  bool up = l->state == L_UP;
  l->state = L_CLOSING;
  atomic_store_explicit(&l->stats->up, 0, memory_order_relaxed);
  uv_timer_stop(&l->retry_timer);
  uv_timer_stop(&l->probe_timer);
  l->attempt_ms = now_ms(l); /* the flush deadline starts now */
  if (up) {
    /* Graceful: hiredis writes what is queued, waits for the replies,
     * then disconnects (on_disconnect forgets each context). */
    if (l->cmd)
      redisAsyncDisconnect(l->cmd);
    if (l->sub) {
      redisAsyncContext *sub = l->sub;
      l->sub = NULL;
      redisAsyncFree(sub);
    }
    uv_timer_start(&l->retry_timer, on_close_poll, 20, 20);
  } else {
    on_close_deadline(&l->retry_timer);
  }
}
