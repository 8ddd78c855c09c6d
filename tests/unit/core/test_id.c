/*
 * Guards src/id.c and id.h, session ids and resume tokens: an id packs
 * node, home worker and counter and unpacks to the same parts; every id
 * stays below 2^53 (exact in JavaScript) even at the largest node, worker
 * and counter; a token is "<id>.<32 lowercase hex>", made fresh each time,
 * parsed back to its id, and anything else (length, case, dot, digits) is
 * refused; pz_token_equal compares length and bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "id.h"
#include "plaza/protocol.h"

#define NODE_MAX ((1u << PZ_NODE_BITS) - 1)
#define WORKER_MAX ((1u << PZ_WORKER_BITS) - 1)

static void test_id_round_trip(void **state) {
  static const uint32_t nodes[] = {0, 1, 2, 1234, NODE_MAX - 1, NODE_MAX};
  static const uint32_t workers[] = {0, 1, 7, 31, WORKER_MAX};
  static const uint32_t counters[] = {0, 1, 0xffff, 0x80000000u, UINT32_MAX};
  for (size_t n = 0; n < sizeof(nodes) / sizeof(nodes[0]); n++)
    for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++)
      for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
        uint64_t id = pz_id_make(nodes[n], workers[w], counters[c]);
        assert_int_equal(pz_id_node(id), nodes[n]);
        assert_int_equal(pz_id_worker(id), workers[w]);
        assert_int_equal((uint32_t)id, counters[c]);
        assert_true(id <= PZ_ID_MAX);
      }
}

static void test_id_below_2_53(void **state) {
  assert_int_equal(PZ_NODE_BITS + PZ_WORKER_BITS + PZ_COUNTER_BITS, 53);
  uint64_t max = pz_id_make(NODE_MAX, WORKER_MAX, UINT32_MAX);
  assert_int_equal(max, PZ_ID_MAX);
  assert_true(max < (1ull << 53));
  /* Exact as a double, as JavaScript holds it. */
  assert_true((uint64_t)(double)max == max);
  /* Distinct parts give distinct ids. */
  assert_int_not_equal(pz_id_make(1, 0, 0), pz_id_make(0, WORKER_MAX, 0));
  assert_int_not_equal(pz_id_make(0, 1, 0), pz_id_make(0, 0, UINT32_MAX));
}

static bool is_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static void test_token_make_parse(void **state) {
  static const uint64_t ids[] = {0, 1, 42, 4294967296ull, PZ_ID_MAX};
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char tok[PZ_SESSION_TOKEN_MAX + 1];
    memset(tok, 'Z', sizeof(tok));
    int n = pz_token_make(ids[i], tok, sizeof(tok));
    char prefix[32];
    int pl =
        snprintf(prefix, sizeof(prefix), "%llu.", (unsigned long long)ids[i]);
    assert_int_equal(n, pl + PZ_TOKEN_SECRET_HEX);
    assert_int_equal(strlen(tok), (size_t)n);
    assert_true(n <= PZ_SESSION_TOKEN_MAX);
    assert_memory_equal(tok, prefix, (size_t)pl);
    assert_true(is_lower_hex(tok + pl, PZ_TOKEN_SECRET_HEX));
    uint64_t got = 12345;
    assert_true(pz_token_parse(tok, (size_t)n, &got));
    assert_int_equal(got, ids[i]);
  }
}

/* A session keeps its token as id and binary secret: reading a token and
 * formatting what was read gives the same bytes back. */
static void test_token_read_format(void **state) {
  static const uint64_t ids[] = {0, 7, 4294967296ull, PZ_ID_MAX};
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char tok[PZ_SESSION_TOKEN_MAX + 1], again[PZ_SESSION_TOKEN_MAX + 1];
    int n = pz_token_make(ids[i], tok, sizeof(tok));
    uint8_t secret[PZ_TOKEN_SECRET_BYTES];
    uint64_t id = 1;
    assert_true(pz_token_read(tok, (size_t)n, &id, secret));
    assert_int_equal(id, ids[i]);
    assert_int_equal(pz_token_format(id, secret, again, sizeof(again)), n);
    assert_string_equal(again, tok);
  }
  uint8_t secret[PZ_TOKEN_SECRET_BYTES] = {0x00, 0x01, 0xab, 0xff};
  char tok[PZ_SESSION_TOKEN_MAX + 1];
  assert_int_equal(pz_token_format(42, secret, tok, sizeof(tok)), 35);
  assert_string_equal(tok, "42.0001abff000000000000000000000000");
  uint64_t id;
  uint8_t got[PZ_TOKEN_SECRET_BYTES];
  assert_true(pz_token_read(tok, 35, &id, got));
  assert_memory_equal(got, secret, sizeof(got));
  tok[5] = 'A'; /* uppercase hex is not ours */
  assert_false(pz_token_read(tok, 35, &id, got));
}

static void test_token_secrets_differ(void **state) {
  char a[80], b[80];
  int na = pz_token_make(7, a, sizeof(a));
  int nb = pz_token_make(7, b, sizeof(b));
  assert_int_equal(na, nb);
  assert_string_not_equal(a, b);
  assert_false(pz_token_equal(a, (size_t)na, b, (size_t)nb));
}

static void test_token_parse_rejects(void **state) {
  static const char hex[] = "0123456789abcdef0123456789abcdef"; /* 32 */
  char buf[128];
  struct {
    const char *prefix, *secret;
  } bad[] = {
      {"42.", "0123456789abcdef0123456789abcde"},   /* 31 hex */
      {"42.", "0123456789abcdef0123456789abcdef0"}, /* 33 hex */
      {"42.", ""},
      {"42.", "0123456789ABCDEF0123456789abcdef"}, /* uppercase */
      {"42.", "0123456789abcdef0123456789abcdeF"},
      {"42.", "0123456789abcdef0123456789abcdeg"}, /* not hex */
      {"42.", "0123456789abcdef 123456789abcdef"},
      {"42.", "0123456789abcdef.0123456789abcde"},
      {"42", hex},   /* no dot: 2 + 32 digits */
      {"42,", hex},  /* another separator */
      {".", hex},    /* no id */
      {"4a2.", hex}, /* non-digits in the id */
      {"-42.", hex},
      {"+42.", hex},
      {" 42.", hex},
      {"42 .", hex},
      {"0x2a.", hex},
      {"123456789012345678.", hex}, /* 18 digits: more than any id */
  };
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    int n = snprintf(buf, sizeof(buf), "%s%s", bad[k].prefix, bad[k].secret);
    uint64_t id = 777;
    if (pz_token_parse(buf, (size_t)n, &id))
      fail_msg("bad[%zu] \"%s\" accepted", k, buf);
    assert_int_equal(id, 777); /* untouched */
  }
  /* The good form next to them, and length honoured. */
  int n = snprintf(buf, sizeof(buf), "42.%s", hex);
  uint64_t id = 0;
  assert_true(pz_token_parse(buf, (size_t)n, &id));
  assert_int_equal(id, 42);
  assert_false(pz_token_parse(buf, (size_t)n - 1, &id));
  assert_false(pz_token_parse(buf, 0, &id));
  assert_false(pz_token_parse(buf, 3, &id));
  /* Leading zeros are digits like any other. */
  n = snprintf(buf, sizeof(buf), "0042.%s", hex);
  assert_true(pz_token_parse(buf, (size_t)n, &id));
  assert_int_equal(id, 42);
}

static void test_token_equal(void **state) {
  assert_true(pz_token_equal("1.abc", 5, "1.abc", 5));
  assert_false(pz_token_equal("1.abc", 5, "1.abd", 5));
  assert_false(pz_token_equal("1.abc", 5, "1.ab", 4));
  assert_false(pz_token_equal("1.ab", 4, "1.abc", 5));
  assert_false(pz_token_equal("1.abc", 5, "1.ABC", 5)); /* exact bytes */
  assert_false(pz_token_equal("x1.abc", 6, "y1.abc", 6));
  assert_true(pz_token_equal("", 0, "", 0));
  /* Only len bytes are compared. */
  assert_true(pz_token_equal("1.abcX", 5, "1.abcY", 5));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_id_round_trip),
      cmocka_unit_test(test_id_below_2_53),
      cmocka_unit_test(test_token_make_parse),
      cmocka_unit_test(test_token_read_format),
      cmocka_unit_test(test_token_secrets_differ),
      cmocka_unit_test(test_token_parse_rejects),
      cmocka_unit_test(test_token_equal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
