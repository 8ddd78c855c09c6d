/*
 * Request head parsing with http-parser (see http.h). The parser calls back
 * with pieces of the URL, names and values, possibly split across feeds, so
 * each is appended to a bounded buffer; overlong values are truncated, which
 * for the headers we keep (keys, protocol lists) makes them fail checks later
 * rather than overflow.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

#include "error.h"

static const char *const field_names[PZ_HF_COUNT] = {
    [PZ_HF_UPGRADE] = "upgrade",
    [PZ_HF_CONNECTION] = "connection",
    [PZ_HF_WS_KEY] = "sec-websocket-key",
    [PZ_HF_WS_VERSION] = "sec-websocket-version",
    [PZ_HF_WS_PROTOCOL] = "sec-websocket-protocol",
    [PZ_HF_AUTHORIZATION] = "authorization",
    [PZ_HF_IF_NONE_MATCH] = "if-none-match",
};

static void append(char *buf, size_t cap, size_t *len, const char *at,
                   size_t n) {
  size_t room = cap - 1 - *len;
  if (n > room)
    n = room;
  memcpy(buf + *len, at, n);
  *len += n;
  buf[*len] = 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  pz_http_req_t *req = p->data;
  append(req->path, sizeof(req->path), &req->path_len, at, n);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  pz_http_req_t *req = p->data;
  if (req->name_done) { /* a new header begins */
    req->name_len = 0;
    req->name_done = false;
  }
  append(req->name, sizeof(req->name), &req->name_len, at, n);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  pz_http_req_t *req = p->data;
  if (!req->name_done) {
    req->name_done = true;
    req->field = PZ_HF_NONE;
    for (int f = 1; f < PZ_HF_COUNT; f++)
      if (strcasecmp(req->name, field_names[f]) == 0)
        req->field = f;
    /* A repeated header joins the earlier value as a list (RFC 9110). */
    if (req->field && req->value_len[req->field])
      append(req->values[req->field], sizeof(req->values[0]),
             &req->value_len[req->field], ", ", 2);
  }
  if (req->field)
    append(req->values[req->field], sizeof(req->values[0]),
           &req->value_len[req->field], at, n);
  return 0;
}

/* RFC 9112 §3.2.2: a server must accept a request target in absolute form
 * (`GET http://host/ws HTTP/1.1`), which proxies send, and serve it by its
 * path. The path is rewritten in place to its origin form (path?query);
 * a URL without a path is "/". Its host is ignored, as Host is. */
static void origin_form(pz_http_req_t *req) {
  if (req->path[0] == '/' || req->path_len == 0)
    return;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(req->path, req->path_len, 0, &u) != 0 ||
      !(u.field_set & (1 << UF_SCHEMA)))
    return; /* not a URL ("*" of OPTIONS, garbage): left for a 404 */
  /* The path of a URL begins with '/'; the query stays behind it, as in
   * an origin-form target. Without a path (`http://host`) it is "/". */
  size_t n = 0;
  if (u.field_set & (1 << UF_PATH)) {
    size_t from = u.field_data[UF_PATH].off;
    size_t to = from + u.field_data[UF_PATH].len;
    if (u.field_set & (1 << UF_QUERY))
      to = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
    n = to - from;
    memmove(req->path, req->path + from, n);
  } else {
    req->path[n++] = '/';
  }
  req->path[n] = 0;
  req->path_len = n;
}

static int on_headers_complete(http_parser *p) {
  pz_http_req_t *req = p->data;
  req->complete = true;
  req->method = p->method;
  origin_form(req);
  /* An upgrade stops the parser after the head by itself; anything else
   * would run on into a body or the next request, so stop it here. */
  if (!p->upgrade)
    http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

void pz_http_req_init(pz_http_req_t *req) {
  memset(req, 0, sizeof(*req));
  http_parser_init(&req->parser, HTTP_REQUEST);
  req->parser.data = req;
  req->name_done = true;
}

ssize_t pz_http_req_feed(pz_http_req_t *req, const char *data, size_t len) {
  if (req->complete)
    return 0;
  size_t n = http_parser_execute(&req->parser, &settings, data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&req->parser);
  if (req->complete && err == HPE_PAUSED) {
    /* Paused in on_headers_complete, http-parser 2.9 stops on the head's
     * final LF without counting it. */
    n++;
    http_parser_pause(&req->parser, 0);
    err = HPE_OK;
  }
  req->head_bytes += n;
  if (req->head_bytes > PZ_HTTP_HEAD_MAX)
    return PZ_ETOOBIG;
  if (req->complete) {
    /* With an upgrade the parser stops right after the head, so n is where
     * WebSocket frames begin; without one nothing after the head is read. */
    req->upgrade = req->parser.upgrade;
    return (ssize_t)n;
  }
  if (err != HPE_OK)
    return PZ_EPROTO;
  return PZ_EAGAIN;
}

const char *pz_http_header(const pz_http_req_t *req, enum pz_http_field f) {
  return req->values[f];
}

static bool has_token(const char *value, const char *token, bool ignore_case) {
  size_t tl = strlen(token);
  const char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',')
      p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if ((size_t)(end - start) == tl &&
        (ignore_case ? strncasecmp(start, token, tl)
                     : strncmp(start, token, tl)) == 0)
      return true;
  }
  return false;
}

bool pz_http_has_token(const char *value, const char *token) {
  return has_token(value, token, true);
}

bool pz_http_has_token_exact(const char *value, const char *token) {
  return has_token(value, token, false);
}
