/*
 * Sans-I/O HTTP/1.1 request head parser over Debian's http-parser: feed it
 * bytes as they arrive (any chunking, down to one byte) and it reports
 * when the request is complete, keeping only what plaza needs: the method,
 * path, the headers of a WebSocket upgrade, of CORS (Origin, and Host to
 * tell a page of this server's own) and of the admin API,
 * and a body of at most PZ_HTTP_BODY_MAX bytes (the admin API's JSON).
 *
 * A request that asks for an Upgrade and announces a body is not an
 * upgrade (RFC 9110 lets a server ignore Upgrade): its body is read like
 * any other, and the caller decides (a WebSocket upgrade has no body).
 */
#ifndef PZ_HTTP_H
#define PZ_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PZ_HTTP_HEAD_MAX 8192
#define PZ_HTTP_BODY_MAX 65536

enum pz_http_field {
  PZ_HF_NONE,
  PZ_HF_UPGRADE,
  PZ_HF_CONNECTION,
  PZ_HF_WS_KEY,
  PZ_HF_WS_VERSION,
  PZ_HF_WS_PROTOCOL,
  PZ_HF_AUTHORIZATION,
  PZ_HF_IF_NONE_MATCH,
  PZ_HF_ORIGIN,
  PZ_HF_HOST,
  PZ_HF_FORWARDED_FOR, /* its last bytes: the nearest proxies' entries */
  PZ_HF_COUNT
};

typedef struct pz_http_req {
  http_parser parser;
  bool complete;  /* the whole request: head and body */
  bool head_done; /* the head (a body may follow) */
  bool upgrade;   /* the parser saw Upgrade + Connection: upgrade */
  bool has_body;  /* the head announced a body (Content-Length > 0 or
                   * chunked) */
  int method;     /* enum http_method */
  size_t head_bytes;
  char path[256]; /* origin form: an absolute-form target is cut to its path */
  size_t path_len;
  char name[32]; /* header name being read (truncated: longer is unknown) */
  size_t name_len;
  bool name_done;
  int field; /* enum pz_http_field the value goes to */
  char values[PZ_HF_COUNT][160];
  size_t value_len[PZ_HF_COUNT];
  bool forwarded_cut; /* X-Forwarded-For lost its front to the bound */
  char *body;         /* malloc'd, NUL-terminated; NULL without a body */
  size_t body_len;
  bool body_too_big;
} pz_http_req_t;

void pz_http_req_init(pz_http_req_t *req);
/* Frees the body (the request itself is the caller's). */
void pz_http_req_dispose(pz_http_req_t *req);
/* Feeds bytes. Returns the number consumed when the request is complete
 * (req->complete; after an upgrade's head, bytes past it belong to the next
 * protocol; after a body, the rest is not read), PZ_EAGAIN when all were
 * consumed and more are needed, PZ_ETOOBIG past PZ_HTTP_HEAD_MAX (then
 * head_bytes > PZ_HTTP_HEAD_MAX, whether or not the head was complete) or
 * past PZ_HTTP_BODY_MAX, PZ_EPROTO on malformed HTTP or when the body
 * cannot be allocated. */
ssize_t pz_http_req_feed(pz_http_req_t *req, const char *data, size_t len);
/* The value of a collected header ("" when absent), NUL-terminated. */
const char *pz_http_header(const pz_http_req_t *req, enum pz_http_field f);
/* True when a comma-separated header value holds `token`, ignoring case:
 * right for Upgrade and Connection, whose tokens are case-insensitive. */
bool pz_http_has_token(const char *value, const char *token);
/* The same, matching case exactly: WebSocket subprotocol names are
 * case-sensitive tokens (RFC 6455 §4.1), and a client checks that the one
 * selected is byte for byte one it offered. */
bool pz_http_has_token_exact(const char *value, const char *token);

#endif
