/*
 * The per-loop context of the client library: the buffers every client of
 * a loop shares (reads, output cork, encoder scratch), the mask RNG, and one
 * timer that enforces every client's connect and close deadlines.
 *
 * Design note: one repeating timer sweeping a list, rather than a uv_timer_t
 * per client, keeps 150 bytes out of every client; deadlines are coarse
 * (PZ_CLIENT_TIMER_MS) and only clients connecting or closing are listed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "client_int.h"

int pz_cbuf_append(pz_cbuf_t *b, const void *data, size_t len) {
  if (b->cap - b->len < len) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (cap - b->len < len)
      cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
      return PZ_CLIENT_ENOMEM;
    b->p = p;
    b->cap = cap;
  }
  if (len > 0)
    memcpy(b->p + b->len, data, len);
  b->len += len;
  return 0;
}

void pz_cbuf_dispose(pz_cbuf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int pz_client_ctx_create(uv_loop_t *loop, pz_client_ctx_t **out) {
  pz_client_ctx_t *ctx;

  if (loop == NULL || out == NULL)
    return PZ_CLIENT_EINVAL;
  if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
    return PZ_CLIENT_ENOMEM;
  ctx->loop = loop;
  if (uv_timer_init(loop, &ctx->timer) != 0) {
    free(ctx);
    return PZ_CLIENT_ENOMEM;
  }
  ctx->timer.data = ctx;
  /* Masks only need to be unpredictable enough for proxies (RFC 6455
   * 10.3); a seeded xorshift is plenty and costs nothing per frame. */
  if (RAND_bytes((unsigned char *)&ctx->rng, sizeof(ctx->rng)) != 1)
    ctx->rng = (uint64_t)(uintptr_t)ctx ^ uv_hrtime();
  if (ctx->rng == 0)
    ctx->rng = 0x9e3779b97f4a7c15ull;
  *out = ctx;
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  pz_client_ctx_t *ctx = h->data;
  pz_cbuf_dispose(&ctx->cork);
  pz_cbuf_dispose(&ctx->scratch);
  pz_ctls_confs_free(&ctx->tls_confs);
  free(ctx->tlsbuf);
  free(ctx);
}

int pz_client_ctx_close(pz_client_ctx_t *ctx) {
  if (ctx->n_clients > 0 || ctx->n_sessions > 0)
    return PZ_CLIENT_EBUSY;
  if (ctx->closing)
    return 0;
  ctx->closing = true;
  uv_close((uv_handle_t *)&ctx->timer, on_timer_closed);
  return 0;
}

size_t pz_client_ctx_count(const pz_client_ctx_t *ctx) {
  return ctx->n_clients;
}

uv_loop_t *pz_client_ctx_loop(const pz_client_ctx_t *ctx) {
  return ctx->loop;
}

void pz_client__genmask(pz_client_ctx_t *ctx, uint8_t *buf, size_t len) {
  while (len > 0) {
    uint64_t x = ctx->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ctx->rng = x;
    size_t n = len < sizeof(x) ? len : sizeof(x);
    memcpy(buf, &x, n);
    buf += n;
    len -= n;
  }
}

static void on_timer(uv_timer_t *t) {
  pz_client_ctx_t *ctx = t->data;
  uint64_t now = uv_now(ctx->loop);
  pz_client_t *c, *next;

  for (c = ctx->armed; c != NULL; c = next) {
    next = c->tnext; /* the timeout only ever unlinks c */
    if (c->deadline <= now)
      pz_client__timeout(c);
  }
  if (ctx->armed == NULL)
    uv_timer_stop(&ctx->timer);
}

void pz_client__arm(pz_client_t *c, uint32_t ms) {
  pz_client_ctx_t *ctx = c->ctx;

  c->deadline = uv_now(ctx->loop) + ms;
  if (c->armed)
    return;
  c->armed = true;
  c->tprev = NULL;
  c->tnext = ctx->armed;
  if (ctx->armed != NULL)
    ctx->armed->tprev = c;
  if (!uv_is_active((uv_handle_t *)&ctx->timer))
    uv_timer_start(&ctx->timer, on_timer, PZ_CLIENT_TIMER_MS,
                   PZ_CLIENT_TIMER_MS);
  ctx->armed = c;
}

void pz_client__disarm(pz_client_t *c) {
  if (!c->armed)
    return;
  if (c->tprev != NULL)
    c->tprev->tnext = c->tnext;
  else
    c->ctx->armed = c->tnext;
  if (c->tnext != NULL)
    c->tnext->tprev = c->tprev;
  c->tnext = c->tprev = NULL;
  c->armed = false;
}
