/*
 * Request head parsing with http-parser (see http.h). The parser calls back
 * with pieces of the URL, names and values, possibly split across feeds, so
 * each is appended to a bounded buffer; overlong values are truncated, which
 * for the headers we keep (keys, protocol lists) makes them fail checks later
 * rather than overflow.
 */
#include "http.h"

#include <limits.h>
#include <stdlib.h>
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
    [PZ_HF_ORIGIN] = "origin",
    [PZ_HF_HOST] = "host",
    [PZ_HF_FORWARDED_FOR] = "x-forwarded-for",
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

/* Appends keeping the last bytes: X-Forwarded-For is read from its right
 * end (each proxy appends), so a long list loses its front, never the
 * entries of the proxies nearest to us. */
static void append_tail(char *buf, size_t cap, size_t *len, const char *at,
                        size_t n, bool *cut) {
  size_t room = cap - 1;
  if (n >= room) {
    if (n > room || *len)
      *cut = true;
    memcpy(buf, at + n - room, room);
    *len = room;
  } else {
    size_t drop = *len + n > room ? *len + n - room : 0;
    if (drop) {
      memmove(buf, buf + drop, *len - drop);
      *len -= drop;
      *cut = true;
    }
    memcpy(buf + *len, at, n);
    *len += n;
  }
  buf[*len] = 0;
}

static void append_value(pz_http_req_t *req, const char *at, size_t n) {
  int f = req->field;
  if (f == PZ_HF_FORWARDED_FOR)
    append_tail(req->values[f], sizeof(req->values[0]), &req->value_len[f], at,
                n, &req->forwarded_cut);
  else
    append(req->values[f], sizeof(req->values[0]), &req->value_len[f], at, n);
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
      append_value(req, ", ", 2);
  }
  if (req->field)
    append_value(req, at, n);
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

static bool body_follows(const http_parser *p) {
  return (p->flags & F_CHUNKED) ||
         (p->content_length > 0 && p->content_length != ULLONG_MAX);
}

static int on_headers_complete(http_parser *p) {
  pz_http_req_t *req = p->data;
  req->head_done = true;
  req->method = p->method;
  req->has_body = body_follows(p);
  origin_form(req);
  /* An upgrade without a body stops the parser after the head by itself;
   * anything else would run on into a body or the next request, so stop
   * it here: the feed decides whether a body follows. */
  if (!p->upgrade || req->has_body)
    http_parser_pause(p, 1);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  pz_http_req_t *req = p->data;
  if (n > PZ_HTTP_BODY_MAX - req->body_len) {
    req->body_too_big = true;
    return -1;
  }
  char *body = realloc(req->body, req->body_len + n + 1);
  if (!body)
    return -1;
  memcpy(body + req->body_len, at, n);
  req->body = body;
  req->body_len += n;
  body[req->body_len] = 0;
  return 0;
}

static int on_message_complete(http_parser *p) {
  pz_http_req_t *req = p->data;
  if (p->upgrade && !req->has_body)
    return 0; /* the feed completes an upgrade at its head */
  req->complete = true;
  http_parser_pause(p, 1); /* nothing after the body is read */
  return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void pz_http_req_init(pz_http_req_t *req) {
  memset(req, 0, sizeof(*req));
  http_parser_init(&req->parser, HTTP_REQUEST);
  req->parser.data = req;
  req->name_done = true;
}

void pz_http_req_dispose(pz_http_req_t *req) {
  free(req->body);
  req->body = NULL;
}

/* The body, after a head that announced one. */
static ssize_t feed_body(pz_http_req_t *req, const char *data, size_t len) {
  size_t n = http_parser_execute(&req->parser, &settings, data, len);
  if (req->body_too_big)
    return PZ_ETOOBIG;
  if (req->complete) {
    http_parser_pause(&req->parser, 0);
    return (ssize_t)n;
  }
  if (HTTP_PARSER_ERRNO(&req->parser) != HPE_OK)
    return PZ_EPROTO;
  return PZ_EAGAIN;
}

ssize_t pz_http_req_feed(pz_http_req_t *req, const char *data, size_t len) {
  if (req->complete)
    return 0;
  if (req->head_done)
    return feed_body(req, data, len);
  size_t n = http_parser_execute(&req->parser, &settings, data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&req->parser);
  bool paused = req->head_done && err == HPE_PAUSED;
  if (paused) {
    /* Paused in on_headers_complete, http-parser 2.9 stops on the head's
     * final LF without counting it (and reads it again when resumed). */
    http_parser_pause(&req->parser, 0);
    err = HPE_OK;
  }
  req->head_bytes += n + paused;
  if (req->head_bytes > PZ_HTTP_HEAD_MAX)
    return PZ_ETOOBIG;
  if (!req->head_done)
    return err != HPE_OK ? PZ_EPROTO : PZ_EAGAIN;
  /* With an upgrade (and no body) the parser stops right after the head,
   * so n is where WebSocket frames begin; without one nothing after the
   * request is read. */
  req->upgrade = req->parser.upgrade;
  if (!req->has_body) {
    req->complete = true;
    return (ssize_t)(n + paused);
  }
  if (req->parser.content_length != ULLONG_MAX &&
      req->parser.content_length > PZ_HTTP_BODY_MAX)
    return PZ_ETOOBIG; /* refused before it is sent */
  ssize_t r = feed_body(req, data + n, len - n);
  return r < 0 ? r : (ssize_t)n + r;
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
