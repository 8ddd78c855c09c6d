/*
 * The PROXY protocol header (haproxy's proxy-protocol.txt), version 1
 * (one text line) and version 2 (binary), sans-I/O: feed the first bytes
 * of a connection as they arrive, in any chunks down to one byte, and the
 * parser says when the header is complete and whom it names.
 *
 * A proxy that speaks it sends the header once, before anything else, so
 * the server learns the client's address and port behind the proxy. v2
 * may carry TLVs (ALPN, TLS details, cloud endpoint ids); they are
 * skipped, not kept: nothing here needs them, and skipping keeps the
 * parser's memory fixed whatever their length.
 *
 * LOCAL (v2) and UNKNOWN (v1) headers, and v2 headers of other address
 * families (AF_UNIX, AF_UNSPEC), carry no client: the proxy speaks for
 * itself (its health checks), and the connection keeps its own peer.
 */
#ifndef PZ_PROXY_H
#define PZ_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define PZ_PROXY_V1_MAX 107 /* the longest v1 line, CRLF included */

typedef struct pz_proxy_parser {
  int version;    /* 0 until the signature tells, then 1 or 2 */
  uint32_t seen;  /* bytes of the header consumed so far */
  uint32_t total; /* v2: 16 + its length, once known */
  uint8_t head[PZ_PROXY_V1_MAX + 1]; /* v1 line, or v2 head + addresses */
} pz_proxy_parser_t;

typedef struct pz_proxy_result {
  bool has_client; /* false: LOCAL, UNKNOWN or a non-IP family */
  pz_ip_t client;
  uint16_t client_port;
  pz_ip_t server; /* the address the client connected to */
  uint16_t server_port;
} pz_proxy_result_t;

void pz_proxy_init(pz_proxy_parser_t *p);
/* Feeds bytes. Returns how many of them the header took once it is
 * complete (*out filled; what follows is the connection's own data),
 * PZ_EAGAIN when all were taken and more are needed, or PZ_EPROTO when
 * the bytes are not a valid PROXY header (no signature, a bad line, a bad
 * length or family). Once it returned a result, it must be reset with
 * pz_proxy_init before another use. */
ssize_t pz_proxy_feed(pz_proxy_parser_t *p, const uint8_t *data, size_t len,
                      pz_proxy_result_t *out);

#endif
