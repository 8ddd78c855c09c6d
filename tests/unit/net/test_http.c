/*
 * Guards src/http.c, the sans-I/O request head parser in front of every
 * connection: a real WebSocket upgrade with a frame right behind it, fed
 * whole and in chunks of every size down to one byte, gives the same
 * method, path and headers every time and reports the head's length so
 * the frame is left for the WebSocket layer; repeated headers are joined,
 * names match case-insensitively, malformed input is PZ_EPROTO and a head
 * past 8 KiB is PZ_ETOOBIG however it arrives; an absolute-form target is
 * cut to its path; pz_http_has_token reads comma-separated lists, ignoring
 * case, and pz_http_has_token_exact does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "http.h"

static const char upgrade_head[] =
    "GET /ws?room=lobby HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: test/1.0\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, plaza.v1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "\r\n";

/* A masked binary frame a client may send in the same segment. */
static const char frame[] = {(char)0x82, (char)0x85, 0x37, (char)0xfa,
                             0x21,       0x3d,       0x7f, (char)0x9f,
                             0x4d,       0x51,       0x58};

/* The result of one parse: what was seen and where the head ended. */
typedef struct result {
  ssize_t last;    /* return of the completing feed, or the error */
  size_t consumed; /* bytes before the completing feed + its return */
  bool complete;
} result_t;

/* Feeds data in chunks given by sizes (cycled), stopping at completion or
 * error. Each chunk is an exact-size heap copy so ASan sees over-reads. */
static result_t feed_chunks(pz_http_req_t *req, const char *data, size_t len,
                            const size_t *sizes, size_t n_sizes) {
  result_t res = {PZ_EAGAIN, 0, false};
  size_t off = 0;
  for (size_t k = 0; off < len; k++) {
    size_t n = sizes[k % n_sizes];
    if (n > len - off)
      n = len - off;
    char *chunk = malloc(n);
    assert_non_null(chunk);
    memcpy(chunk, data + off, n);
    ssize_t r = pz_http_req_feed(req, chunk, n);
    free(chunk);
    if (r >= 0) {
      assert_true(req->complete);
      assert_in_range((size_t)r, 0, n);
      res.last = r;
      res.consumed = off + (size_t)r;
      res.complete = true;
      return res;
    }
    res.last = r;
    if (r != PZ_EAGAIN)
      return res;
    assert_false(req->complete);
    off += n;
  }
  return res;
}

static result_t feed_all(pz_http_req_t *req, const char *data, size_t len,
                         size_t chunk) {
  return feed_chunks(req, data, len, &chunk, 1);
}

static void expect_upgrade(const pz_http_req_t *req, const result_t *res,
                           size_t head_len) {
  assert_true(res->complete);
  assert_int_equal(res->consumed, head_len);
  assert_int_equal(req->head_bytes, head_len);
  assert_int_equal(req->method, HTTP_GET);
  assert_true(req->upgrade);
  assert_string_equal(req->path, "/ws?room=lobby");
  assert_int_equal(req->path_len, strlen("/ws?room=lobby"));
  assert_string_equal(pz_http_header(req, PZ_HF_UPGRADE), "websocket");
  assert_string_equal(pz_http_header(req, PZ_HF_CONNECTION),
                      "keep-alive, Upgrade");
  assert_string_equal(pz_http_header(req, PZ_HF_WS_KEY),
                      "dGhlIHNhbXBsZSBub25jZQ==");
  assert_string_equal(pz_http_header(req, PZ_HF_WS_VERSION), "13");
  assert_string_equal(pz_http_header(req, PZ_HF_WS_PROTOCOL), "chat, plaza.v1");
  assert_string_equal(pz_http_header(req, PZ_HF_AUTHORIZATION), "");
}

/* head + frame, one buffer. */
static char *with_frame(size_t *len) {
  size_t hl = strlen(upgrade_head);
  char *buf = malloc(hl + sizeof(frame));
  assert_non_null(buf);
  memcpy(buf, upgrade_head, hl);
  memcpy(buf + hl, frame, sizeof(frame));
  *len = hl + sizeof(frame);
  return buf;
}

static void test_upgrade_whole(void **state) {
  size_t hl = strlen(upgrade_head);
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, upgrade_head, hl, hl);
  expect_upgrade(&req, &res, hl);
  assert_int_equal(res.last, hl);
  /* Once complete, nothing more is taken. */
  assert_int_equal(pz_http_req_feed(&req, frame, sizeof(frame)), 0);
}

static void test_upgrade_with_frame_behind_whole(void **state) {
  size_t len, hl = strlen(upgrade_head);
  char *buf = with_frame(&len);
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, buf, len, len);
  expect_upgrade(&req, &res, hl);
  assert_int_equal(res.last, hl); /* the frame is left where it is */
  free(buf);
}

static void test_upgrade_every_chunk_size(void **state) {
  size_t len, hl = strlen(upgrade_head);
  char *buf = with_frame(&len);
  for (size_t cs = len; cs >= 1; cs--) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_all(&req, buf, len, cs);
    if (!res.complete || res.consumed != hl)
      fail_msg("chunk size %zu: complete %d, consumed %zu, want %zu", cs,
               res.complete, res.consumed, hl);
    expect_upgrade(&req, &res, hl);
  }
  free(buf);
}

static void test_upgrade_scripted_chunks(void **state) {
  /* Irregular chunkings, each starting at every offset of the pattern. */
  static const size_t pattern[] = {1, 2, 3, 5, 8, 13, 21, 34, 1, 1, 7, 64};
  size_t np = sizeof(pattern) / sizeof(pattern[0]);
  size_t len, hl = strlen(upgrade_head);
  char *buf = with_frame(&len);
  for (size_t start = 0; start < np; start++) {
    size_t sizes[sizeof(pattern) / sizeof(pattern[0])];
    for (size_t i = 0; i < np; i++)
      sizes[i] = pattern[(start + i) % np];
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_chunks(&req, buf, len, sizes, np);
    expect_upgrade(&req, &res, hl);
  }
  free(buf);
}

static void test_empty_feed(void **state) {
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_int_equal(pz_http_req_feed(&req, "", 0), PZ_EAGAIN);
  assert_false(req.complete);
}

static void test_plain_get(void **state) {
  static const char head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, head, strlen(head), strlen(head));
  assert_true(res.complete);
  assert_int_equal(res.consumed, strlen(head));
  assert_false(req.upgrade);
  assert_int_equal(req.method, HTTP_GET);
  assert_string_equal(req.path, "/healthz");
  assert_string_equal(pz_http_header(&req, PZ_HF_UPGRADE), "");
  assert_string_equal(pz_http_header(&req, PZ_HF_WS_KEY), "");

  static const char post[] = "POST /admin/kick HTTP/1.1\r\n"
                             "authorization: Bearer s3cret\r\n"
                             "Content-Length: 0\r\n\r\n";
  pz_http_req_init(&req);
  res = feed_all(&req, post, strlen(post), 3);
  assert_true(res.complete);
  assert_int_equal(req.method, HTTP_POST);
  assert_string_equal(req.path, "/admin/kick");
  assert_string_equal(pz_http_header(&req, PZ_HF_AUTHORIZATION),
                      "Bearer s3cret");
}

static void test_absolute_form_served_by_path(void **state) {
  /* RFC 9112 §3.2.2: a request target in absolute form is the same
   * resource as its path (and query); fed in small chunks so the URL
   * arrives in pieces. */
  static const struct {
    const char *target, *path;
  } cases[] = {
      {"http://localhost:8080/ws", "/ws"},
      {"http://127.0.0.1/healthz", "/healthz"},
      {"https://example.com/ws?room=lobby", "/ws?room=lobby"},
      {"http://user@host:1/a/b#frag", "/a/b"},
      {"http://host", "/"},
      {"http://host?x=1", "/"},
      {"/ws", "/ws"},
      {"*", "*"},
  };
  char head[256];
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
             cases[k].target);
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_all(&req, head, strlen(head), 3);
    if (!res.complete)
      fail_msg("%s: not parsed (%zd)", cases[k].target, res.last);
    if (strcmp(req.path, cases[k].path) != 0 ||
        req.path_len != strlen(cases[k].path))
      fail_msg("%s: path \"%s\" (%zu), want \"%s\"", cases[k].target, req.path,
               req.path_len, cases[k].path);
  }
}

static void test_plain_get_leaves_what_follows(void **state) {
  /* The contract: the return is where the head ends; bytes after it belong
   * to what comes next (here a pipelined request) and must not be parsed
   * into this one. */
  static const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /metrics HTTP/1.1\r\nUpgrade: websocket\r\n"
                            "\r\n";
  size_t hl = strlen("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, two, strlen(two), strlen(two));
  assert_true(res.complete);
  assert_string_equal(req.path, "/healthz");
  assert_string_equal(pz_http_header(&req, PZ_HF_UPGRADE), "");
  assert_int_equal(res.consumed, hl);
}

static void test_post_body_collected(void **state) {
  /* The body is part of the request: complete only once it has arrived
   * (tests/unit/net/test_http_body.c has the rest). */
  static const char req_text[] = "POST /admin/broadcast HTTP/1.1\r\n"
                                 "Content-Length: 5\r\n\r\nhello";
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, req_text, strlen(req_text), strlen(req_text));
  assert_true(res.complete);
  assert_int_equal(req.method, HTTP_POST);
  assert_int_equal(res.consumed, strlen(req_text));
  assert_string_equal(req.body, "hello");
  pz_http_req_dispose(&req);
}

static void test_repeated_headers_joined(void **state) {
  static const char head[] = "GET /ws HTTP/1.1\r\n"
                             "Connection: keep-alive\r\n"
                             "Sec-WebSocket-Protocol: chat\r\n"
                             "X-Other: 1\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Protocol: plaza.v1\r\n"
                             "Sec-WebSocket-Protocol: v3\r\n"
                             "\r\n";
  for (size_t cs = 1; cs <= strlen(head); cs++) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_all(&req, head, strlen(head), cs);
    assert_true(res.complete);
    assert_string_equal(pz_http_header(&req, PZ_HF_CONNECTION),
                        "keep-alive, Upgrade");
    assert_string_equal(pz_http_header(&req, PZ_HF_WS_PROTOCOL),
                        "chat, plaza.v1, v3");
  }
}

static void test_header_names_case_insensitive(void **state) {
  static const char head[] = "GET /ws HTTP/1.1\r\n"
                             "UPGRADE: websocket\r\n"
                             "connection: upgrade\r\n"
                             "sEC-wEBsOCKET-kEY: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "SEC-WEBSOCKET-VERSION: 13\r\n"
                             "Authorization: Bearer x\r\n"
                             /* Near misses are other headers. */
                             "Sec-WebSocket-Key2: nope\r\n"
                             "Upgrade-Insecure-Requests: 1\r\n"
                             "\r\n";
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, head, strlen(head), 1);
  assert_true(res.complete);
  assert_true(req.upgrade);
  assert_string_equal(pz_http_header(&req, PZ_HF_UPGRADE), "websocket");
  assert_string_equal(pz_http_header(&req, PZ_HF_CONNECTION), "upgrade");
  assert_string_equal(pz_http_header(&req, PZ_HF_WS_KEY),
                      "dGhlIHNhbXBsZSBub25jZQ==");
  assert_string_equal(pz_http_header(&req, PZ_HF_WS_VERSION), "13");
  assert_string_equal(pz_http_header(&req, PZ_HF_AUTHORIZATION), "Bearer x");
}

static void test_long_values_truncated_safely(void **state) {
  char head[2048];
  char big[600];
  memset(big, 'p', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  char name[100];
  memset(name, 'h', sizeof(name) - 1);
  name[sizeof(name) - 1] = 0;
  int n = snprintf(head, sizeof(head),
                   "GET /%s HTTP/1.1\r\nSec-WebSocket-Protocol: %s\r\n"
                   "%s: v\r\nUpgrade: websocket\r\n\r\n",
                   big, big, name);
  assert_true(n > 0 && (size_t)n < sizeof(head));
  pz_http_req_t req;
  pz_http_req_init(&req);
  result_t res = feed_all(&req, head, (size_t)n, 7);
  assert_true(res.complete);
  assert_int_equal(res.consumed, (size_t)n);
  assert_int_equal(strlen(req.path), sizeof(req.path) - 1);
  assert_int_equal(strlen(pz_http_header(&req, PZ_HF_WS_PROTOCOL)),
                   sizeof(req.values[0]) - 1);
  assert_string_equal(pz_http_header(&req, PZ_HF_UPGRADE), "websocket");
}

static void test_malformed(void **state) {
  static const char *const bad[] = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
      "GET / XTTP/1.1\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS ClientHello */
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
  };
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    for (size_t cs = 1; cs <= strlen(bad[k]); cs++) {
      pz_http_req_t req;
      pz_http_req_init(&req);
      result_t res = feed_all(&req, bad[k], strlen(bad[k]), cs);
      if (res.complete || res.last != PZ_EPROTO)
        fail_msg("bad[%zu] chunk %zu: complete %d, last %zd (want EPROTO)", k,
                 cs, res.complete, res.last);
      /* It stays an error. */
      assert_int_equal(pz_http_req_feed(&req, "\r\n\r\n", 4), PZ_EPROTO);
    }
  }
}

/* A request head of exactly `len` bytes, padded with a filler header, in
 * a static buffer (nothing to free when an assertion leaves the test). */
static char *head_of(size_t len) {
  static char h[64 * 1024 + 1];
  static const char start[] = "GET /ws HTTP/1.1\r\nX-Filler: ";
  static const char end[] = "\r\nUpgrade: websocket\r\n\r\n";
  size_t fixed = strlen(start) + strlen(end);
  assert_true(len > fixed && len < sizeof(h));
  memcpy(h, start, strlen(start));
  memset(h + strlen(start), 'f', len - fixed);
  memcpy(h + len - strlen(end), end, strlen(end) + 1);
  assert_int_equal(strlen(h), len);
  return h;
}

static void test_head_at_limit_accepted(void **state) {
  char *h = head_of(PZ_HTTP_HEAD_MAX);
  static const size_t sizes[] = {PZ_HTTP_HEAD_MAX, 1000, 1, 4096};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_all(&req, h, PZ_HTTP_HEAD_MAX, sizes[k]);
    if (!res.complete || res.consumed != PZ_HTTP_HEAD_MAX)
      fail_msg("chunk %zu: complete %d, last %zd", sizes[k], res.complete,
               res.last);
  }
}

static void test_head_too_big_incomplete(void **state) {
  /* Headers that never end: refused once past 8 KiB, at any chunking. */
  size_t len = PZ_HTTP_HEAD_MAX + 1000;
  char *h = head_of(len);
  memset(h + len - 30, 'f', 30); /* no blank line: it never completes */
  static const size_t sizes[] = {1, 100, 1000, 4096, PZ_HTTP_HEAD_MAX + 1};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    result_t res = feed_all(&req, h, len, sizes[k]);
    if (res.complete || res.last != PZ_ETOOBIG)
      fail_msg("chunk %zu: complete %d, last %zd (want ETOOBIG)", sizes[k],
               res.complete, res.last);
    assert_true(req.head_bytes > PZ_HTTP_HEAD_MAX);
  }
}

static void test_head_too_big_complete(void **state) {
  /* A whole head over the limit is refused too, however it is cut: in one
   * read (the worker reads up to 64 KiB at once), or with the limit
   * crossed by the read that also ends it. */
  static const size_t lens[] = {PZ_HTTP_HEAD_MAX + 1, PZ_HTTP_HEAD_MAX + 300,
                                16 * 1024, 60 * 1024};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    char *h = head_of(lens[i]);
    static const size_t sizes[] = {64 * 1024, PZ_HTTP_HEAD_MAX, 1000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
      pz_http_req_t req;
      pz_http_req_init(&req);
      result_t res = feed_all(&req, h, lens[i], sizes[k]);
      if (res.last != PZ_ETOOBIG)
        fail_msg("head %zu bytes, chunk %zu: complete %d, last %zd (want "
                 "ETOOBIG)",
                 lens[i], sizes[k], res.complete, res.last);
      /* What the connection answers 431 by, complete head or not. */
      assert_true(req.head_bytes > PZ_HTTP_HEAD_MAX);
    }
  }
}

static void test_has_token(void **state) {
  static const struct {
    const char *value, *token;
    bool want;
  } cases[] = {
      {"Upgrade", "upgrade", true},
      {"upgrade", "Upgrade", true},
      {"keep-alive, Upgrade", "upgrade", true},
      {"keep-alive,Upgrade", "upgrade", true},
      {"Upgrade, keep-alive", "upgrade", true},
      {"  upgrade  ", "upgrade", true},
      {"\tupgrade\t,x", "upgrade", true},
      {",,, upgrade ,,", "upgrade", true},
      {"chat, plaza.v1", "plaza.v1", true},
      {"chat, PLAZA.V1", "plaza.v1", true},
      {"", "upgrade", false},
      {",", "upgrade", false},
      {"upgrades", "upgrade", false},
      {"xupgrade", "upgrade", false},
      {"up grade", "upgrade", false},
      {"upgrade-1", "upgrade", false},
      {"keep-alive", "upgrade", false},
      {"plaza.v1x, plaza.v", "plaza.v1", false},
      {"plaza.v2", "plaza.v1", false},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
    if (pz_http_has_token(cases[k].value, cases[k].token) != cases[k].want)
      fail_msg("has_token(\"%s\", \"%s\") != %d", cases[k].value,
               cases[k].token, cases[k].want);
}

static void test_has_token_exact(void **state) {
  /* Subprotocol names are case-sensitive: PLAZA.V1 is not plaza.v1. */
  static const struct {
    const char *value, *token;
    bool want;
  } cases[] = {
      {"plaza.v1", "plaza.v1", true},
      {"chat, plaza.v1", "plaza.v1", true},
      {" plaza.v1 ,chat", "plaza.v1", true},
      {"PLAZA.V1", "plaza.v1", false},
      {"chat, Plaza.v1", "plaza.v1", false},
      {"plaza.v1x", "plaza.v1", false},
      {"", "plaza.v1", false},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
    if (pz_http_has_token_exact(cases[k].value, cases[k].token) !=
        cases[k].want)
      fail_msg("has_token_exact(\"%s\", \"%s\") != %d", cases[k].value,
               cases[k].token, cases[k].want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_upgrade_whole),
      cmocka_unit_test(test_upgrade_with_frame_behind_whole),
      cmocka_unit_test(test_upgrade_every_chunk_size),
      cmocka_unit_test(test_upgrade_scripted_chunks),
      cmocka_unit_test(test_empty_feed),
      cmocka_unit_test(test_plain_get),
      cmocka_unit_test(test_absolute_form_served_by_path),
      cmocka_unit_test(test_plain_get_leaves_what_follows),
      cmocka_unit_test(test_post_body_collected),
      cmocka_unit_test(test_repeated_headers_joined),
      cmocka_unit_test(test_header_names_case_insensitive),
      cmocka_unit_test(test_long_values_truncated_safely),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_head_at_limit_accepted),
      cmocka_unit_test(test_head_too_big_incomplete),
      cmocka_unit_test(test_head_too_big_complete),
      cmocka_unit_test(test_has_token),
      cmocka_unit_test(test_has_token_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
