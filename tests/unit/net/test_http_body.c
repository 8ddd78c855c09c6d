/*
 * Guards the body side of src/net/http.c (the admin API's JSON): a POST is
 * complete only with its whole body, fed whole and in chunks of every size
 * down to one byte, with Content-Length or chunked; a body past 64 KiB is
 * PZ_ETOOBIG after the head (head_done, so 413, not 431), announced or
 * growing (head_bytes within the limit: what tells 413 from 431); a GET
 * without a body completes at its head as before; the Origin header is
 * collected; an upgrade that announces a body is read whole, body and
 * all, like any request (issue 15: it was completed at its head and its
 * body, read meanwhile, leaked).
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

static const char post_head[] = "POST /admin/kick HTTP/1.1\r\n"
                                "Host: x\r\n"
                                "Authorization: Bearer abc\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 12\r\n"
                                "\r\n";
static const char post_body[] = "{\"id\": 1234}";

/* Feeds data in chunks of `chunk` bytes (exact-size heap copies) until the
 * request completes or fails; returns the last result. */
static ssize_t feed(pz_http_req_t *req, const char *data, size_t len,
                    size_t chunk) {
  ssize_t r = PZ_EAGAIN;
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = chunk < len - off ? chunk : len - off;
    char *copy = malloc(n);
    memcpy(copy, data + off, n);
    r = pz_http_req_feed(req, copy, n);
    free(copy);
    if (r != PZ_EAGAIN)
      return r;
    assert_false(req->complete);
  }
  return r;
}

static void test_post_complete_only_with_its_body(void **state) {
  char whole[512];
  snprintf(whole, sizeof(whole), "%s%s", post_head, post_body);
  for (size_t chunk = 1; chunk <= strlen(whole); chunk++) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    ssize_t r = feed(&req, whole, strlen(whole), chunk);
    if (r < 0)
      fail_msg("chunk %zu: %zd", chunk, r);
    assert_true(req.complete);
    assert_int_equal(req.method, HTTP_POST);
    assert_string_equal(req.path, "/admin/kick");
    assert_string_equal(pz_http_header(&req, PZ_HF_AUTHORIZATION),
                        "Bearer abc");
    assert_int_equal(req.body_len, strlen(post_body));
    assert_string_equal(req.body, post_body);
    pz_http_req_dispose(&req);
  }
}

static void test_head_alone_waits_for_body(void **state) {
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_int_equal(pz_http_req_feed(&req, post_head, strlen(post_head)),
                   PZ_EAGAIN);
  assert_true(req.head_done);
  assert_false(req.complete);
  assert_int_equal(pz_http_req_feed(&req, post_body, 5), PZ_EAGAIN);
  assert_true(pz_http_req_feed(&req, post_body + 5, strlen(post_body) - 5) >=
              0);
  assert_true(req.complete);
  assert_string_equal(req.body, post_body);
  pz_http_req_dispose(&req);
}

static void test_chunked_body(void **state) {
  static const char chunked[] = "POST /admin/broadcast HTTP/1.1\r\n"
                                "Transfer-Encoding: chunked\r\n"
                                "\r\n"
                                "5\r\n{\"tex\r\n"
                                "a\r\nt\":\"hi\"}  \r\n"
                                "0\r\n\r\n";
  for (size_t chunk = 1; chunk <= strlen(chunked); chunk++) {
    pz_http_req_t req;
    pz_http_req_init(&req);
    ssize_t r = feed(&req, chunked, strlen(chunked), chunk);
    if (r < 0)
      fail_msg("chunk %zu: %zd", chunk, r);
    assert_true(req.complete);
    assert_string_equal(req.body, "{\"text\":\"hi\"}  ");
    pz_http_req_dispose(&req);
  }
}

static void test_announced_big_body_refused_at_head(void **state) {
  char head[256];
  snprintf(head, sizeof(head),
           "POST /admin/broadcast HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
           PZ_HTTP_BODY_MAX + 1);
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_int_equal(pz_http_req_feed(&req, head, strlen(head)), PZ_ETOOBIG);
  assert_true(req.head_done);
  assert_true(req.head_bytes <= PZ_HTTP_HEAD_MAX); /* 413, not 431 */
  assert_false(req.complete);
  assert_null(req.body);
  pz_http_req_dispose(&req);
}

static void test_growing_chunked_body_refused(void **state) {
  static const char head[] = "POST /admin/broadcast HTTP/1.1\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n";
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_int_equal(pz_http_req_feed(&req, head, strlen(head)), PZ_EAGAIN);
  char chunk[4096 + 16];
  int n = snprintf(chunk, sizeof(chunk), "1000\r\n");
  memset(chunk + n, 'x', 4096);
  memcpy(chunk + n + 4096, "\r\n", 2);
  size_t len = (size_t)n + 4096 + 2;
  ssize_t r = PZ_EAGAIN;
  int sent = 0;
  while (r == PZ_EAGAIN && sent < 40) {
    r = pz_http_req_feed(&req, chunk, len);
    sent++;
  }
  assert_int_equal(r, PZ_ETOOBIG);
  assert_int_equal(sent, PZ_HTTP_BODY_MAX / 4096 + 1);
  assert_true(req.head_done);
  assert_true(req.body_len <= PZ_HTTP_BODY_MAX);
  pz_http_req_dispose(&req);
}

static void test_get_completes_at_head_with_origin(void **state) {
  static const char get[] = "GET /rooms HTTP/1.1\r\n"
                            "Origin: https://app.example\r\n"
                            "\r\n";
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_int_equal(pz_http_req_feed(&req, get, strlen(get)),
                   (ssize_t)strlen(get));
  assert_true(req.complete);
  assert_null(req.body);
  assert_string_equal(pz_http_header(&req, PZ_HF_ORIGIN),
                      "https://app.example");
  pz_http_req_dispose(&req);
}

static void test_upgrade_with_body_is_read_whole(void **state) {
  static const char ws_head[] =
      "GET /ws HTTP/1.1\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n";
  static const char *const bodies[] = {
      "Content-Length: 5\r\n\r\nhello",
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  };
  for (size_t b = 0; b < 2; b++) {
    char whole[512];
    /* A frame's first bytes follow: not part of the request. */
    int len =
        snprintf(whole, sizeof(whole), "%s%s\x82\x85", ws_head, bodies[b]);
    size_t request = (size_t)len - 2;
    for (size_t chunk = 1; chunk <= (size_t)len; chunk++) {
      pz_http_req_t req;
      pz_http_req_init(&req);
      size_t off = 0;
      ssize_t r = PZ_EAGAIN;
      while (r == PZ_EAGAIN && off < (size_t)len) {
        size_t n = chunk < (size_t)len - off ? chunk : (size_t)len - off;
        r = pz_http_req_feed(&req, whole + off, n);
        if (r == PZ_EAGAIN)
          off += n;
      }
      if (r < 0)
        fail_msg("body %zu, chunk %zu: %zd", b, chunk, r);
      assert_int_equal(off + (size_t)r, request);
      assert_true(req.complete);
      assert_true(req.upgrade);
      assert_true(req.has_body);
      assert_string_equal(req.body, "hello");
      pz_http_req_dispose(&req);
      assert_null(req.body);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_post_complete_only_with_its_body),
      cmocka_unit_test(test_head_alone_waits_for_body),
      cmocka_unit_test(test_chunked_body),
      cmocka_unit_test(test_announced_big_body_refused_at_head),
      cmocka_unit_test(test_growing_chunked_body_refused),
      cmocka_unit_test(test_get_completes_at_head_with_origin),
      cmocka_unit_test(test_upgrade_with_body_is_read_whole),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
