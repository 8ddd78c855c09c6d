/* WebSocket opening handshake, client side, sans-I/O (see handshake.h). */
#include "handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "plaza/client.h"

#define RESP_INITIAL_CAP 512

int pz_ws_key_generate(char key[PZ_WS_KEY_LEN + 1]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    return PZ_CLIENT_EIO;
  EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
  return 0;
}

int pz_ws_accept_compute(const char *key, size_t key_len,
                         char out[PZ_WS_ACCEPT_LEN + 1]) {
  char cat[64 + sizeof(PZ_WS_GUID)];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;

  if (key_len > 64)
    return PZ_CLIENT_EINVAL;
  memcpy(cat, key, key_len);
  memcpy(cat + key_len, PZ_WS_GUID, sizeof(PZ_WS_GUID) - 1);
  if (EVP_Digest(cat, key_len + sizeof(PZ_WS_GUID) - 1, md, &md_len, EVP_sha1(),
                 NULL) != 1 ||
      md_len != 20)
    return PZ_CLIENT_EIO;
  EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
  return 0;
}

static bool header_value_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > PZ_WS_PROTOCOL_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f)
      return false;
  }
  return true;
}

int pz_ws_request_build(char *buf, size_t cap, const pz_url_t *url,
                        const char *key, const char *subprotocol) {
  char port[8] = "";
  int n;

  if (subprotocol != NULL && !header_value_ok(subprotocol))
    return PZ_CLIENT_EINVAL;
  if (url->port_given)
    snprintf(port, sizeof(port), ":%u", (unsigned)url->port);
  n = snprintf(buf, cap,
               "GET %s%.*s HTTP/1.1\r\n"
               "Host: %s%s\r\n"
               "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "%s%s%s"
               "User-Agent: plaza-client\r\n"
               "\r\n",
               url->target[0] == '?' ? "/" : "", (int)url->target_len,
               url->target, url->host, port, key,
               subprotocol ? "Sec-WebSocket-Protocol: " : "",
               subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
  return n < 0 ? PZ_CLIENT_EINVAL : n;
}

void pz_http_resp_init(pz_http_resp_t *p, const char *key,
                       const char *offered) {
  memset(p, 0, sizeof(*p));
  p->offered = offered;
  if (pz_ws_accept_compute(key, strlen(key), p->accept) != 0)
    p->accept[0] = '\0'; /* nothing will match: the upgrade fails */
}

void pz_http_resp_dispose(pz_http_resp_t *p) {
  free(p->buf);
  p->buf = NULL;
  p->len = p->cap = 0;
}

/* ---- checking the complete header block ---------------------------------- */

typedef struct span {
  const char *p;
  size_t n;
} span_t;

static bool is_ows(char ch) {
  return ch == ' ' || ch == '\t';
}

static span_t trim(const char *p, size_t n) {
  while (n > 0 && is_ows(p[0])) {
    p++;
    n--;
  }
  while (n > 0 && is_ows(p[n - 1]))
    n--;
  return (span_t){p, n};
}

static bool span_eq_ci(span_t s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* True when the comma-separated list holds `token` (case-insensitive). */
static bool list_has_ci(span_t v, const char *token) {
  const char *p = v.p, *end = v.p + v.n;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    if (span_eq_ci(trim(p, (size_t)(stop - p)), token))
      return true;
    p = stop + 1;
  }
  return false;
}

/* True when value is exactly one of the comma-separated offered names
 * (subprotocol names compare case-sensitively). */
static bool offer_has(const char *offered, span_t value) {
  const char *p = offered, *end;
  if (offered == NULL || value.n == 0)
    return false;
  end = offered + strlen(offered);
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    span_t name = trim(p, (size_t)(stop - p));
    if (name.n == value.n && memcmp(name.p, value.p, value.n) == 0)
      return true;
    p = stop + 1;
  }
  return false;
}

static int fail(pz_http_resp_t *p, const char *why) {
  p->why = why;
  return PZ_CLIENT_EHANDSHAKE;
}

static int parse_status_line(pz_http_resp_t *p, span_t line) {
  const char *s = line.p;
  /* "HTTP/1.x SP 3DIGIT [SP reason]" */
  if (line.n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' ||
      s[8] != ' ')
    return fail(p, "malformed status line");
  for (int i = 9; i < 12; i++)
    if (s[i] < '0' || s[i] > '9')
      return fail(p, "malformed status line");
  if (line.n > 12 && s[12] != ' ')
    return fail(p, "malformed status line");
  p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (p->status != 101)
    return fail(p, "HTTP status is not 101");
  if (s[7] != '1')
    return fail(p, "101 answered with HTTP/1.0");
  return 0;
}

static int check_headers(pz_http_resp_t *p) {
  const char *cur = p->buf, *end = p->buf + p->len;
  bool upgrade = false, connection = false, accept = false;
  int err;

  for (int lineno = 0; cur < end; lineno++) {
    const char *lf = memchr(cur, '\n', (size_t)(end - cur));
    size_t n = (size_t)((lf ? lf : end) - cur);
    span_t line = {cur, n > 0 && cur[n - 1] == '\r' ? n - 1 : n};
    cur += n + 1;
    if (lineno == 0) {
      if ((err = parse_status_line(p, line)) != 0)
        return err;
      continue;
    }
    if (line.n == 0)
      break; /* the empty line ending the block */
    if (is_ows(line.p[0]))
      return fail(p, "folded header line");
    const char *colon = memchr(line.p, ':', line.n);
    if (colon == NULL || colon == line.p)
      return fail(p, "malformed header line");
    span_t name = {line.p, (size_t)(colon - line.p)};
    for (size_t i = 0; i < name.n; i++)
      if ((unsigned char)name.p[i] <= 0x20 || name.p[i] == 0x7f)
        return fail(p, "malformed header name");
    span_t value = trim(colon + 1, line.n - name.n - 1);

    if (span_eq_ci(name, "Upgrade")) {
      if (!span_eq_ci(value, "websocket"))
        return fail(p, "Upgrade is not websocket");
      upgrade = true;
    } else if (span_eq_ci(name, "Connection")) {
      if (list_has_ci(value, "upgrade"))
        connection = true;
    } else if (span_eq_ci(name, "Sec-WebSocket-Accept")) {
      if (accept)
        return fail(p, "Sec-WebSocket-Accept repeated");
      if (value.n != PZ_WS_ACCEPT_LEN || p->accept[0] == '\0' ||
          memcmp(value.p, p->accept, PZ_WS_ACCEPT_LEN) != 0)
        return fail(p, "Sec-WebSocket-Accept does not match the key");
      accept = true;
    } else if (span_eq_ci(name, "Sec-WebSocket-Protocol")) {
      if (p->protocol_selected || !offer_has(p->offered, value))
        return fail(p, "Sec-WebSocket-Protocol was not offered");
      p->protocol_selected = true;
    } else if (span_eq_ci(name, "Sec-WebSocket-Extensions")) {
      if (value.n > 0)
        return fail(p, "Sec-WebSocket-Extensions was not offered");
    }
  }
  if (!upgrade)
    return fail(p, "Upgrade: websocket missing");
  if (!connection)
    return fail(p, "Connection: Upgrade missing");
  if (!accept)
    return fail(p, "Sec-WebSocket-Accept missing");
  return 0;
}

/* ---- feeding ------------------------------------------------------------- */

static int grow(pz_http_resp_t *p) {
  uint32_t cap = p->cap ? p->cap * 2 : RESP_INITIAL_CAP;
  char *buf;
  if (p->cap >= PZ_HTTP_RESP_MAX)
    return fail(p, "response header block too large");
  if (cap > PZ_HTTP_RESP_MAX)
    cap = PZ_HTTP_RESP_MAX;
  if ((buf = realloc(p->buf, cap)) == NULL)
    return PZ_CLIENT_ENOMEM;
  p->buf = buf;
  p->cap = cap;
  return 0;
}

ssize_t pz_http_resp_feed(pz_http_resp_t *p, const char *data, size_t len) {
  int err;
  if (p->done || p->why != NULL)
    return PZ_CLIENT_EINVAL;
  for (size_t i = 0; i < len; i++) {
    char ch = data[i];
    if (p->len == p->cap && (err = grow(p)) != 0)
      return err;
    p->buf[p->len++] = ch;
    /* The block ends with an empty line: LF LF or LF CR LF (a bare LF is
     * taken as a line end, as most clients do). */
    if (ch == '\n') {
      if (p->eoh != 0) {
        p->done = true;
        if ((err = check_headers(p)) != 0)
          return err;
        return (ssize_t)(i + 1);
      }
      p->eoh = 1;
    } else if (ch == '\r' && p->eoh == 1) {
      p->eoh = 2;
    } else {
      p->eoh = 0;
    }
  }
  return PZ_CLIENT_EAGAIN;
}
