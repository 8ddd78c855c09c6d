/*
 * A connection's PROXY phase (--proxy-protocol): a connection from one of
 * --trusted-proxies begins with a PROXY protocol header (proxy.h) naming
 * the client behind the proxy; from then on the connection is that
 * client's, for logs, rate limits and the admin API. A trusted address
 * that sends anything else is refused: a proxy that should send the
 * header and does not is misconfigured, and serving it would make every
 * client look like the proxy. Other addresses never get to send one.
 *
 * The header comes before TLS, so with --tls-cert the TLS stream begins
 * once the header is read, with whatever the proxy sent behind it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conn_int.h"
#include "error.h"
#include "log.h"
#include "stream_tls.h"
#include "tls_ctx.h"

bool pz_conn_proxy_expected(const pz_conn_t *c) {
  const pz_config_t *cfg = c->host->cfg;
  return cfg->proxy_protocol &&
         pz_cidr_list_match(&cfg->trusted_proxies, &c->ip);
}

/* TLS from here on, starting with the bytes read past the header. */
static int start_tls(pz_conn_t *c, const uint8_t *rest, size_t rest_len) {
  pz_conn_host_t *h = c->host;
  c->tls = pz_conn_tls_new(h);
  if (!c->tls || pz_tls_stream_push_input(c->tls, rest, rest_len) != 0)
    return PZ_ENOMEM;
  c->stream = pz_tls_stream_wrap(c->tls, &c->tcp);
  c->stream->data = c;
  c->stream->on_read = pz_conn_on_read;
  c->stream->on_writable = pz_conn_on_writable;
  return pz_stream_read_start(c->stream);
}

void pz_conn_proxy_input(pz_conn_t *c, uint8_t *data, size_t len) {
  pz_proxy_result_t r;
  ssize_t n = pz_proxy_feed(c->proxy, data, len, &r);
  if (n == PZ_EAGAIN)
    return;
  if (n < 0) {
    PZ_ADD(c->host->metrics->refused_proxy, 1);
    pz_info("connection from %s refused: a trusted proxy must begin with a "
            "PROXY protocol header (--proxy-protocol)",
            pz_conn_peer(c));
    pz_conn_hard_close(c);
    return;
  }
  free(c->proxy);
  c->proxy = NULL;
  if (r.has_client) {
    char from[PZ_PEER_MAX];
    snprintf(from, sizeof(from), "%s", pz_conn_peer(c));
    pz_conn_set_client(c, &r.client, r.client_port);
    pz_debug("connection from %s through proxy %s", pz_conn_peer(c), from);
  }
  c->state = PZ_CONN_HTTP;
  uint8_t *rest = data + n; /* unmasked in place by the receiver */
  size_t rest_len = len - (size_t)n;
  if (c->host->tls) {
    if (start_tls(c, rest, rest_len) != 0)
      pz_conn_hard_close(c);
    return;
  }
  if (rest_len)
    pz_conn_http_input(c, rest, rest_len);
}
