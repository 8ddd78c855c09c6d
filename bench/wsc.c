/*
 * The bench's light WebSocket connection (see wsc.h): libuv glue around the
 * library's upgrade handshake and the in-place frame parser of wsf.c.
 *
 *   CONNECTING --connect--> HANDSHAKE --101--> OPEN --close--> CLOSING
 *        \_________________________\_____________\______________\--> CLOSED
 *
 * Invariants: on_close runs once, from the handle's close callback; output
 * goes straight to the socket with uv_try_write and only what the socket
 * refuses is kept (one uv_write in flight at a time, like the library).
 */
#include "wsc.h"
#include "bind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rng.h"

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

enum { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_CLOSED };
enum { MODE_FULL, MODE_PREFIX, MODE_COUNT };

#define TIMER_MS 250

struct pz_wsc_hs {
  uv_connect_t req;
  pz_http_resp_t resp;
  char key[PZ_WS_KEY_LEN + 1];
  size_t request_len;
  char request[];
};

struct pz_wsc_write {
  uv_write_t req;
  pz_wsc_t *c;
  uint8_t *p;
  uint32_t len;
};

static void finish(pz_wsc_t *c, int err);

/* ---- deadlines ----------------------------------------------------------- */

static void disarm(pz_wsc_t *c) {
  if (!c->armed)
    return;
  if (c->tprev)
    c->tprev->tnext = c->tnext;
  else
    c->ctx->armed = c->tnext;
  if (c->tnext)
    c->tnext->tprev = c->tprev;
  c->tnext = c->tprev = NULL;
  c->armed = false;
}

static void arm(pz_wsc_t *c, uint32_t ms) {
  pz_wsc_ctx_t *ctx = c->ctx;
  c->deadline = uv_now(ctx->loop) + ms;
  if (c->armed)
    return;
  c->armed = true;
  c->tprev = NULL;
  c->tnext = ctx->armed;
  if (ctx->armed)
    ctx->armed->tprev = c;
  ctx->armed = c;
}

static void on_timer(uv_timer_t *t) {
  pz_wsc_ctx_t *ctx = container_of(t, pz_wsc_ctx_t, timer);
  uint64_t now = uv_now(ctx->loop);
  pz_wsc_t *c = ctx->armed, *next;

  for (; c != NULL; c = next) {
    next = c->tnext;
    if (now < c->deadline)
      continue;
    disarm(c);
    if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
      finish(c, PZ_CLIENT_ETIMEDOUT);
    else if (c->state == ST_CLOSING)
      finish(c, c->close_rcvd ? 0 : PZ_CLIENT_ETIMEDOUT);
  }
}

/* ---- context ------------------------------------------------------------- */

int pz_wsc_ctx_init(pz_wsc_ctx_t *ctx, uv_loop_t *loop, const char *url,
                    const char *subprotocol, const pz_wsc_cbs_t *cbs,
                    uint64_t seed) {
  int r;

  memset(ctx, 0, offsetof(pz_wsc_ctx_t, rbuf));
  ctx->loop = loop;
  ctx->cbs = cbs;
  ctx->subprotocol = subprotocol;
  ctx->rng = pz_rng_seed(seed);
  if ((ctx->url_str = strdup(url)) == NULL)
    return PZ_CLIENT_ENOMEM;
  if ((r = pz_url_parse(ctx->url_str, &ctx->url)) == 0 &&
      (ctx->url.tls || ctx->url.family != AF_INET))
    r = PZ_CLIENT_EURL; /* plain TCP to an IPv4 address only */
  if (r != 0) {
    free(ctx->url_str);
    return r;
  }
  ctx->dst.sin_family = AF_INET;
  ctx->dst.sin_port = htons(ctx->url.port);
  ctx->dst.sin_addr = ctx->url.addr;
  uv_timer_init(loop, &ctx->timer);
  uv_timer_start(&ctx->timer, on_timer, TIMER_MS, TIMER_MS);
  uv_unref((uv_handle_t *)&ctx->timer);
  return 0;
}

void pz_wsc_ctx_dispose(pz_wsc_ctx_t *ctx) {
  uv_close((uv_handle_t *)&ctx->timer, NULL);
  free(ctx->url_str);
  free(ctx->frame);
  ctx->url_str = NULL;
  ctx->frame = NULL;
}

/* ---- output -------------------------------------------------------------- */

static int grow(uint8_t **p, uint32_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  if (need > UINT32_MAX / 2)
    return PZ_CLIENT_ENOMEM;
  size_t n = *cap ? *cap : 256;
  while (n < need)
    n *= 2;
  uint8_t *q = realloc(*p, n);
  if (q == NULL)
    return PZ_CLIENT_ENOMEM;
  *p = q;
  *cap = (uint32_t)n;
  return 0;
}

static void on_write(uv_write_t *req, int status);

static int start_write(pz_wsc_t *c) {
  struct pz_wsc_write *w = malloc(sizeof(*w));
  int r;

  if (w == NULL)
    return UV_ENOMEM;
  w->c = c;
  w->p = c->pend;
  w->len = c->pend_len;
  c->pend = NULL;
  c->pend_len = c->pend_cap = 0;
  uv_buf_t b = uv_buf_init((char *)w->p, w->len);
  if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) != 0) {
    free(w->p);
    free(w);
    return r;
  }
  c->wr = w;
  c->wr_len = w->len;
  return 0;
}

static void on_write(uv_write_t *req, int status) {
  struct pz_wsc_write *w = container_of(req, struct pz_wsc_write, req);
  pz_wsc_t *c = w->c;

  c->wr = NULL;
  c->wr_len = 0;
  if (status == 0)
    c->ctx->bytes_out += w->len;
  free(w->p);
  free(w);
  if (c->state == ST_CLOSED)
    return;
  if (status < 0) {
    finish(c, c->close_rcvd ? 0 : PZ_CLIENT_EIO);
    return;
  }
  if (c->pend_len > 0 && start_write(c) != 0)
    finish(c, PZ_CLIENT_EIO);
}

/* Writes what the socket takes now and keeps the rest. 0 or an error. */
static int out_write(pz_wsc_t *c, const uint8_t *data, size_t len) {
  if (c->wr == NULL && c->pend_len == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n > 0) {
      c->ctx->bytes_out += (uint64_t)n;
      data += n;
      len -= (size_t)n;
      if (len == 0)
        return 0;
    } else if (n != UV_EAGAIN) {
      return PZ_CLIENT_EIO;
    }
  }
  if (grow(&c->pend, &c->pend_cap, (size_t)c->pend_len + len) != 0)
    return PZ_CLIENT_ENOMEM;
  memcpy(c->pend + c->pend_len, data, len);
  c->pend_len += (uint32_t)len;
  if (c->wr == NULL && start_write(c) != 0)
    return PZ_CLIENT_EIO;
  return 0;
}

static int send_frame(pz_wsc_t *c, int opcode, const void *payload,
                      size_t len) {
  pz_wsc_ctx_t *ctx = c->ctx;
  size_t need = PZ_WSF_HDR_MAX + len;
  uint8_t mask[4];
  uint64_t m;

  if (need > ctx->frame_cap) {
    uint8_t *p = realloc(ctx->frame, need);
    if (p == NULL)
      return PZ_CLIENT_ENOMEM;
    ctx->frame = p;
    ctx->frame_cap = need;
  }
  m = pz_rng_next(&ctx->rng);
  memcpy(mask, &m, 4);
  size_t n = pz_wsf_build(ctx->frame, opcode, payload, len, mask);
  int r = out_write(c, ctx->frame, n);
  if (ctx->frame_cap > (1u << 20)) { /* one huge message: let it go */
    free(ctx->frame);
    ctx->frame = NULL;
    ctx->frame_cap = 0;
  }
  return r;
}

int pz_wsc_send(pz_wsc_t *c, int opcode, const void *payload, size_t len) {
  if (c->state != ST_OPEN)
    return PZ_CLIENT_ESTATE;
  int r = send_frame(c, opcode, payload, len);
  if (r != 0)
    finish(c, r);
  return r;
}

bool pz_wsc_is_open(const pz_wsc_t *c) {
  return c->state == ST_OPEN;
}

/* ---- closing ------------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
  pz_wsc_t *c = container_of((uv_tcp_t *)h, pz_wsc_t, tcp);
  pz_wsc_ctx_t *ctx = c->ctx;
  int code;

  if (c->we_closed)
    code = c->code_sent;
  else if (c->close_rcvd)
    code = c->code_rcvd;
  else
    code = PZ_CLIENT_CLOSE_ABNORMAL;
  if (c->hs != NULL) {
    pz_http_resp_dispose(&c->hs->resp);
    free(c->hs);
    c->hs = NULL;
  }
  free(c->pend);
  free(c->buf);
  free(c->ctl);
  c->pend = c->buf = c->ctl = NULL;
  c->pend_len = c->pend_cap = c->buf_len = c->buf_cap = 0;
  c->state = ST_IDLE;
  ctx->live--;
  ctx->cbs->on_close(c, code, c->err);
}

static void finish(pz_wsc_t *c, int err) {
  if (c->state == ST_CLOSED || c->state == ST_IDLE)
    return;
  c->state = ST_CLOSED;
  c->err = err;
  disarm(c);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void pz_wsc_abort(pz_wsc_t *c) {
  finish(c, PZ_CLIENT_ECANCELED);
}

static void send_close(pz_wsc_t *c, uint16_t code) {
  uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  c->close_sent = true;
  c->code_sent = code;
  if (send_frame(c, PZ_WSF_CLOSE, p, code ? 2 : 0) != 0)
    finish(c, c->close_rcvd ? 0 : PZ_CLIENT_EIO);
}

void pz_wsc_close(pz_wsc_t *c, uint16_t code) {
  switch (c->state) {
  case ST_CONNECTING:
  case ST_HANDSHAKE:
    finish(c, PZ_CLIENT_ECANCELED);
    return;
  case ST_OPEN:
    pz_wsc_set_lazy(c, false); /* the server's answer must be read */
    c->we_closed = true;
    c->state = ST_CLOSING;
    send_close(c, code);
    if (c->state == ST_CLOSING)
      arm(c, PZ_WSC_CLOSE_MS);
    return;
  default:
    return;
  }
}

/* ---- input: frames ------------------------------------------------------- */

static int fail_proto(pz_wsc_t *c, uint16_t code) {
  if (c->state == ST_OPEN) {
    c->we_closed = true;
    send_close(c, code);
  }
  finish(c, PZ_CLIENT_EPROTO);
  return 1;
}

static int on_control(pz_wsc_t *c, int opcode, const uint8_t *p, size_t n) {
  switch (opcode) {
  case PZ_WSF_PING:
    if (c->state == ST_OPEN && send_frame(c, PZ_WSF_PONG, p, n) != 0) {
      finish(c, PZ_CLIENT_EIO);
      return 1;
    }
    return 0;
  case PZ_WSF_CLOSE:
    c->close_rcvd = true;
    c->code_rcvd =
        n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : PZ_CLIENT_CLOSE_NO_STATUS;
    if (!c->close_sent)
      send_close(c, n >= 2 ? c->code_rcvd : 0);
    /* The server closes TCP after our answer; nothing more to read. */
    finish(c, 0);
    return 1;
  default:
    return 0; /* pong */
  }
}

static int deliver(pz_wsc_t *c, const uint8_t *p, size_t n) {
  c->ctx->cbs->on_message(c, c->msg_opcode, p, n);
  return c->state == ST_CLOSED ? 1 : 0;
}

static int wsf_on_frame(void *u, int opcode, bool fin, uint64_t len) {
  pz_wsc_t *c = u;

  c->frame_opcode = (uint8_t)opcode;
  c->frame_fin = fin;
  c->frame_len = len;
  if (opcode >= PZ_WSF_CLOSE) {
    c->ctl_len = 0;
    return 0;
  }
  if (opcode == PZ_WSF_CONT) {
    if (!c->in_msg)
      return fail_proto(c, 1002);
  } else {
    if (c->in_msg)
      return fail_proto(c, 1002);
    c->in_msg = true;
    c->msg_opcode = (uint8_t)opcode;
    c->buf_len = 0;
    c->pfx_len = 0;
    c->mode = c->count_ok ? MODE_PREFIX : MODE_FULL;
  }
  if (c->mode == MODE_FULL && (uint64_t)c->buf_len + len > PZ_WSC_MAX_MSG)
    return fail_proto(c, 1009);
  return 0;
}

static int append(pz_wsc_t *c, const uint8_t *p, size_t n) {
  if (grow(&c->buf, &c->buf_cap, (size_t)c->buf_len + n) != 0) {
    finish(c, PZ_CLIENT_ENOMEM);
    return 1;
  }
  memcpy(c->buf + c->buf_len, p, n);
  c->buf_len += (uint32_t)n;
  return 0;
}

static int wsf_on_data(void *u, const uint8_t *p, size_t n, bool last) {
  pz_wsc_t *c = u;
  bool msg_end = last && c->frame_fin;
  int r;

  if (c->frame_opcode >= PZ_WSF_CLOSE) {
    if (last && c->ctl_len == 0)
      return on_control(c, c->frame_opcode, p, n);
    if (c->ctl == NULL && (c->ctl = malloc(125)) == NULL) {
      finish(c, PZ_CLIENT_ENOMEM);
      return 1;
    }
    if (n > 0) /* wsf bounds control frames to 125 bytes */
      memcpy(c->ctl + c->ctl_len, p, n);
    c->ctl_len += (uint8_t)n;
    if (!last)
      return 0;
    r = on_control(c, c->frame_opcode, c->ctl, c->ctl_len);
    free(c->ctl);
    c->ctl = NULL;
    return r;
  }

  if (msg_end)
    c->in_msg = false;
  if (c->mode == MODE_PREFIX) {
    size_t take = PZ_WSC_PFX - c->pfx_len;
    if (take > n)
      take = n;
    if (take > 0)
      memcpy(c->pfx + c->pfx_len, p, take);
    c->pfx_len += (uint8_t)take;
    p += take;
    n -= take;
    if (c->pfx_len < PZ_WSC_PFX && !msg_end)
      return 0;
    if (!c->ctx->cbs->want_full(c, c->msg_opcode, c->pfx, c->pfx_len)) {
      c->mode = MODE_COUNT;
      return c->state == ST_CLOSED ? 1 : 0;
    }
    if (c->state == ST_CLOSED)
      return 1;
    c->mode = MODE_FULL;
    if (msg_end && n == 0) /* the message was the prefix */
      return deliver(c, c->pfx, c->pfx_len);
    if (append(c, c->pfx, c->pfx_len) != 0)
      return 1;
  }
  if (c->mode == MODE_COUNT)
    return 0;
  /* MODE_FULL. In place when the whole message is in this chunk. */
  if (c->buf_len == 0 && msg_end && n == c->frame_len)
    return deliver(c, p, n);
  if (n > 0 && append(c, p, n) != 0)
    return 1;
  if (!msg_end)
    return 0;
  r = deliver(c, c->buf, c->buf_len);
  c->buf_len = 0;
  if (c->buf_cap > 65536 && c->state != ST_CLOSED) {
    free(c->buf);
    c->buf = NULL;
    c->buf_cap = 0;
  }
  return r;
}

static const pz_wsf_cbs_t wsf_cbs = {wsf_on_frame, wsf_on_data};

/* ---- input: socket ------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pz_wsc_t *c = container_of((uv_tcp_t *)h, pz_wsc_t, tcp);
  (void)suggested;
  *buf = uv_buf_init((char *)c->ctx->rbuf, sizeof(c->ctx->rbuf));
}

static void feed(pz_wsc_t *c, const uint8_t *p, size_t n) {
  int r = pz_wsf_feed(&c->fp, p, n, &wsf_cbs, c);
  if (r < 0)
    fail_proto(c, 1002);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pz_wsc_t *c = container_of((uv_tcp_t *)s, pz_wsc_t, tcp);
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t n;

  if (c->state == ST_CLOSED || nread == 0)
    return;
  if (nread < 0) {
    if (c->state == ST_HANDSHAKE)
      finish(c, PZ_CLIENT_EHANDSHAKE);
    else if (c->close_rcvd || c->state == ST_CLOSING)
      finish(c, 0);
    else
      finish(c, nread == UV_EOF ? PZ_CLIENT_ECLOSED : PZ_CLIENT_EIO);
    return;
  }
  n = (size_t)nread;
  c->ctx->bytes_in += n;
  if (c->state == ST_HANDSHAKE) {
    ssize_t r = pz_http_resp_feed(&c->hs->resp, (const char *)p, n);
    if (r == PZ_CLIENT_EAGAIN)
      return;
    if (r < 0) {
      finish(c,
             r == PZ_CLIENT_ENOMEM ? PZ_CLIENT_ENOMEM : PZ_CLIENT_EHANDSHAKE);
      return;
    }
    pz_http_resp_dispose(&c->hs->resp);
    free(c->hs);
    c->hs = NULL;
    disarm(c);
    c->state = ST_OPEN;
    c->ctx->cbs->on_open(c);
    if (c->state != ST_OPEN)
      return;
    p += r;
    n -= (size_t)r;
  }
  if (n > 0 && (c->state == ST_OPEN || c->state == ST_CLOSING))
    feed(c, p, n);
}

/* ---- lazy reading -------------------------------------------------------- */

void pz_wsc_set_lazy(pz_wsc_t *c, bool lazy) {
  if (c->lazy == lazy || (lazy && c->state != ST_OPEN))
    return;
  c->lazy = lazy;
  if (lazy)
    uv_read_stop((uv_stream_t *)&c->tcp);
  else if (c->state == ST_OPEN || c->state == ST_CLOSING)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void pz_wsc_poll(pz_wsc_t *c) {
  uv_os_fd_t fd;
  uv_buf_t b = uv_buf_init((char *)c->ctx->rbuf, sizeof(c->ctx->rbuf));

  if (!c->lazy || (c->state != ST_OPEN && c->state != ST_CLOSING) ||
      uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
    return;
  for (int i = 0; i < 16; i++) { /* bounded: a fast server cannot pin us */
    ssize_t n = read(fd, b.base, b.len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    on_read((uv_stream_t *)&c->tcp,
            n > 0    ? n
            : n == 0 ? UV_EOF
                     : uv_translate_sys_error(errno),
            &b);
    if (n <= 0 || (size_t)n < b.len || !c->lazy ||
        (c->state != ST_OPEN && c->state != ST_CLOSING))
      return;
  }
}

/* ---- connecting ---------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status) {
  pz_wsc_t *c = req->handle->data;
  int r;

  if (status == UV_ECANCELED || c->state == ST_CLOSED)
    return;
  if (status < 0) {
    finish(c, PZ_CLIENT_ECONNECT);
    return;
  }
  c->state = ST_HANDSHAKE;
  if ((r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) != 0 ||
      (r = out_write(c, (const uint8_t *)c->hs->request, c->hs->request_len)) !=
          0)
    finish(c, PZ_CLIENT_EIO);
}

int pz_wsc_connect(pz_wsc_t *c, pz_wsc_ctx_t *ctx,
                   const struct sockaddr_in *bind) {
  struct pz_wsc_hs *hs;
  char key[PZ_WS_KEY_LEN + 1];
  int n, r;

  memset(c, 0, sizeof(*c));
  if (pz_ws_key_generate(key) != 0)
    return UV_EIO;
  n = pz_ws_request_build(NULL, 0, &ctx->url, key, ctx->subprotocol);
  if (n < 0)
    return UV_EINVAL;
  if ((hs = calloc(1, sizeof(*hs) + (size_t)n + 1)) == NULL)
    return UV_ENOMEM;
  memcpy(hs->key, key, sizeof(key));
  hs->request_len = (size_t)n;
  pz_ws_request_build(hs->request, (size_t)n + 1, &ctx->url, key,
                      ctx->subprotocol);
  if ((r = uv_tcp_init_ex(ctx->loop, &c->tcp, AF_INET)) != 0) {
    free(hs);
    return r;
  }
  pz_http_resp_init(&hs->resp, hs->key, ctx->subprotocol);
  c->tcp.data = c;
  c->ctx = ctx;
  c->hs = hs;
  c->state = ST_CONNECTING;
  pz_wsf_init(&c->fp);
  ctx->live++;
  arm(c, PZ_WSC_CONNECT_MS);

  /* The handle exists: from here failures end in on_close. */
  (void)uv_tcp_nodelay(&c->tcp, 1);
  if (bind != NULL) {
    pz_tcp_bind_no_port(&c->tcp);
    if (uv_tcp_bind(&c->tcp, (const struct sockaddr *)bind, 0) != 0) {
      finish(c, PZ_CLIENT_ECONNECT);
      return 0;
    }
  }
  if (uv_tcp_connect(&hs->req, &c->tcp, (const struct sockaddr *)&ctx->dst,
                     on_connect) != 0)
    finish(c, PZ_CLIENT_ECONNECT);
  return 0;
}
