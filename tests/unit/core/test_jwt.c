/*
 * Guards src/core/jwt.c, the HS256 verifier HELLO relies on: tokens made by
 * an independent implementation (python3-jwt, pasted below) verify and
 * yield their sub, name and rooms; every refusal has its reason (alg none,
 * HS512, RS256, crit, a wrong key, a flipped signature bit, exp and nbf at
 * the leeway's edges, missing exp or sub, iss and aud, malformed base64url
 * and JSON, duplicate keys, oversized tokens); base64url is strict; the
 * rooms claim matches exact names and prefixes; with a maximum lifetime,
 * a token whose exp is too far from its iat (or from now without one, or
 * with one ahead) is refused, exp 1e300 included (issue 15).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"

#define KEY "unit-test-secret-0123456789abcdef"
#define NOW 1700000000ull /* exp of the vectors: 2000000000 */

/* Made with python3-jwt 2.6: jwt.encode(claims, KEY, algorithm=...). */
static const char tok_valid[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMH0."
    "nVVi2cf_SWx_pz65Ppx8eBe1yWYg94-QpRmqkCL1p_Y";
/* rooms: ["lobby", "team-*"] */
static const char tok_rooms[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMCwicm9vbXMi"
    "OlsibG9iYnkiLCJ0ZWFtLSoiXX0.rrmOcfkDm6141Zrt9FZg_Ap12ILxVWRVb7Vq2vXYxY0";
/* iss "https://app.example", aud ["other", "plaza"], nbf 1500000000 */
static const char tok_full[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMCwiaXNzIjoi"
    "aHR0cHM6Ly9hcHAuZXhhbXBsZSIsImF1ZCI6WyJvdGhlciIsInBsYXphIl0sIm5iZiI6MTUw"
    "MDAwMDAwMH0.G0yx2omo9iidzvVnY45QEz_lNnhLGvulYARlQWJenRE";
static const char tok_hs512[] =
    "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMH0."
    "m7NRUxGZLxmGtYP7VlYui7zsArZSN7TWbIRtEXlCl-q0ClAAhwh1EpvkIRY4fIdaA7BZLYGu"
    "H8rAik4igyagmQ";
static const char tok_nosub[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                "eyJleHAiOjIwMDAwMDAwMDB9."
                                "Dh3f4lTzLBjz13hCQ9H7-wn_Bp-K6Zv6Gi1nawYcKfk";
static const char tok_noexp[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                "eyJzdWIiOiJhbGljZSJ9."
                                "eqZeEP6Rytao0bmwkOWoNMX8ensKsqXRezRJF6khXPI";
static const char tok_crit[] =
    "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl0sInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMH0."
    "CXfNSy_cSnz3TT2pNLSeti7zFtkYnLNuwvz_T99EqbE";

static pz_jwt_config_t config(void) {
  return (pz_jwt_config_t){
      (const uint8_t *)KEY, strlen(KEY), 30, NULL, NULL, 0};
}

static int verify_at(const pz_jwt_config_t *cfg, const char *tok, uint64_t now,
                     pz_grant_t **g) {
  return pz_jwt_verify(cfg, tok, strlen(tok), now, g);
}

/* Asserts the result by name, so a failure prints both sides. */
static void expect(const pz_jwt_config_t *cfg, const char *tok, uint64_t now,
                   int want) {
  pz_grant_t *g = NULL;
  int r = verify_at(cfg, tok, now, &g);
  assert_string_equal(pz_jwt_result_name(r), pz_jwt_result_name(want));
  if (r == PZ_JWT_OK)
    assert_non_null(g);
  else
    assert_null(g);
  free(g);
}

/* ---- making tokens the tests need a valid signature on ------------------ */

static size_t b64url(const uint8_t *in, size_t n, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n)
      v |= in[i + 2];
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = a[v >> 6 & 63];
    if (i + 2 < n)
      out[o++] = a[v & 63];
  }
  out[o] = 0;
  return o;
}

/* header and payload are raw JSON (or anything); signed with `key`. */
static char *make(const char *header, const char *payload, const char *key) {
  char *t = malloc(2 * (strlen(header) + strlen(payload)) + 128);
  size_t n = b64url((const uint8_t *)header, strlen(header), t);
  t[n++] = '.';
  n += b64url((const uint8_t *)payload, strlen(payload), t + n);
  uint8_t mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, (int)strlen(key), (const uint8_t *)t, n, mac, &len);
  t[n++] = '.';
  b64url(mac, len, t + n);
  return t;
}

static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void expect_made(const pz_jwt_config_t *cfg, const char *header,
                        const char *payload, uint64_t now, int want) {
  char *t = make(header, payload, KEY);
  expect(cfg, t, now, want);
  free(t);
}

/* ---- tests --------------------------------------------------------------- */

static void test_valid_token_grants_sub_and_name(void **state) {
  pz_jwt_config_t cfg = config();
  pz_grant_t *g = NULL;
  assert_int_equal(verify_at(&cfg, tok_valid, NOW, &g), PZ_JWT_OK);
  assert_string_equal(g->sub, "alice");
  assert_int_equal(g->sub_len, 5);
  assert_int_equal(g->name_len, 5);
  assert_string_equal(g->name, "Alice");
  assert_false(g->rooms_limited);
  assert_true(pz_grant_allows_room(g, "anywhere", 8));
  assert_int_equal(g->expires_s, 2000000000ull);
  free(g);
}

static void test_iss_aud_nbf_checked_when_configured(void **state) {
  pz_jwt_config_t cfg = config();
  cfg.issuer = "https://app.example";
  cfg.audience = "plaza";
  expect(&cfg, tok_full, NOW, PZ_JWT_OK);
  cfg.issuer = "https://evil.example";
  expect(&cfg, tok_full, NOW, PZ_JWT_WRONG_ISSUER);
  expect(&cfg, tok_valid, NOW, PZ_JWT_WRONG_ISSUER); /* no iss at all */
  cfg.issuer = NULL;
  cfg.audience = "someone-else";
  expect(&cfg, tok_full, NOW, PZ_JWT_WRONG_AUDIENCE);
  expect(&cfg, tok_valid, NOW, PZ_JWT_WRONG_AUDIENCE); /* no aud at all */
  cfg.audience = NULL; /* a token with an audience we do not claim */
  expect(&cfg, tok_full, NOW, PZ_JWT_WRONG_AUDIENCE);
  cfg.audience = "plaza"; /* aud as a plain string */
  expect_made(&cfg, hs256,
              "{\"sub\":\"a\",\"exp\":2000000000,\"aud\":\"plaza\"}", NOW,
              PZ_JWT_OK);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":2000000000,\"aud\":7}", NOW,
              PZ_JWT_BAD_CLAIMS);
  /* nbf 1500000000 with a 30 s leeway */
  cfg.audience = "plaza";
  expect(&cfg, tok_full, 1500000000ull - 30, PZ_JWT_OK);
  expect(&cfg, tok_full, 1500000000ull - 31, PZ_JWT_NOT_YET);
}

static void test_exp_with_leeway(void **state) {
  pz_jwt_config_t cfg = config();
  expect(&cfg, tok_valid, 2000000000ull + 29, PZ_JWT_OK);
  expect(&cfg, tok_valid, 2000000000ull + 30, PZ_JWT_EXPIRED);
  cfg.leeway_s = 0;
  expect(&cfg, tok_valid, 2000000000ull - 1, PZ_JWT_OK);
  expect(&cfg, tok_valid, 2000000000ull, PZ_JWT_EXPIRED);
}

static void test_other_algorithms_refused(void **state) {
  pz_jwt_config_t cfg = config();
  expect(&cfg, tok_hs512, NOW, PZ_JWT_BAD_ALG);
  expect(&cfg, tok_crit, NOW, PZ_JWT_BAD_ALG);
  const char *payload = "{\"sub\":\"a\",\"exp\":2000000000}";
  expect_made(&cfg, "{\"alg\":\"none\"}", payload, NOW, PZ_JWT_BAD_ALG);
  expect_made(&cfg, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, NOW,
              PZ_JWT_BAD_ALG);
  expect_made(&cfg, "{\"alg\":\"hs256\"}", payload, NOW, PZ_JWT_BAD_ALG);
  expect_made(&cfg, "{\"typ\":\"JWT\"}", payload, NOW, PZ_JWT_BAD_ALG);
  /* alg none with an empty signature, as attackers send it */
  expect(&cfg, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoyMDAwMDAwMDAwfQ.",
         NOW, PZ_JWT_BAD_ALG);
}

static void test_wrong_key_and_flipped_bits_refused(void **state) {
  pz_jwt_config_t cfg = config();
  cfg.secret = (const uint8_t *)"another-secret-0123456789abcdefg";
  cfg.secret_len = strlen((const char *)cfg.secret);
  expect(&cfg, tok_valid, NOW, PZ_JWT_BAD_SIGNATURE);
  cfg = config();
  char t[sizeof(tok_valid)];
  memcpy(t, tok_valid, sizeof(t));
  t[sizeof(t) - 5] = t[sizeof(t) - 5] == 'A' ? 'B' : 'A'; /* signature */
  expect(&cfg, t, NOW, PZ_JWT_BAD_SIGNATURE);
  memcpy(t, tok_valid, sizeof(t));
  t[40] = t[40] == 'A' ? 'B' : 'A'; /* payload */
  expect(&cfg, t, NOW, PZ_JWT_BAD_SIGNATURE);
  /* a truncated signature is not 32 bytes */
  memcpy(t, tok_valid, sizeof(t));
  t[sizeof(t) - 4] = 0;
  expect(&cfg, t, NOW, PZ_JWT_MALFORMED);
}

static void test_required_claims(void **state) {
  pz_jwt_config_t cfg = config();
  expect(&cfg, tok_noexp, NOW, PZ_JWT_BAD_CLAIMS);
  expect(&cfg, tok_nosub, NOW, PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":\"2000000000\"}", NOW,
              PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":\"\",\"exp\":2000000000}", NOW,
              PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":5,\"exp\":2000000000}", NOW,
              PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":2000000000,\"nbf\":true}",
              NOW, PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":2000000000.5}", NOW,
              PZ_JWT_OK);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":-1}", NOW,
              PZ_JWT_BAD_CLAIMS);
}

static void test_name_claim_optional(void **state) {
  pz_jwt_config_t cfg = config();
  const char *cases[] = {
      "{\"sub\":\"a\",\"exp\":2000000000}",
      "{\"sub\":\"a\",\"exp\":2000000000,\"name\":\"\"}",
      "{\"sub\":\"a\",\"exp\":2000000000,\"name\":42}",
      "{\"sub\":\"a\",\"exp\":2000000000,\"name\":"
      "\"0123456789012345678901234567890123\"}",
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *t = make(hs256, cases[i], KEY);
    pz_grant_t *g = NULL;
    assert_int_equal(verify_at(&cfg, t, NOW, &g), PZ_JWT_OK);
    assert_int_equal(g->name_len, 0);
    free(g);
    free(t);
  }
}

static void test_malformed_refused(void **state) {
  pz_jwt_config_t cfg = config();
  expect(&cfg, "", NOW, PZ_JWT_MISSING);
  expect(&cfg, "abc", NOW, PZ_JWT_MALFORMED);
  expect(&cfg, "a.b", NOW, PZ_JWT_MALFORMED);
  expect(&cfg, "a.b.c.d", NOW, PZ_JWT_MALFORMED);
  /* base64 (not url) characters, padding, a dangling character */
  char t[sizeof(tok_valid) + 8];
  memcpy(t, tok_valid, sizeof(tok_valid));
  t[3] = '+';
  expect(&cfg, t, NOW, PZ_JWT_MALFORMED);
  snprintf(t, sizeof(t), "%.36s=%s", tok_valid, tok_valid + 36);
  expect(&cfg, t, NOW, PZ_JWT_MALFORMED);
  /* bad JSON in the header, and in a correctly signed payload */
  expect_made(&cfg, "{\"alg\":\"HS256\"", "{}", NOW, PZ_JWT_MALFORMED);
  expect_made(&cfg, "[\"HS256\"]", "{}", NOW, PZ_JWT_MALFORMED);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":2000000000", NOW,
              PZ_JWT_MALFORMED);
  expect_made(&cfg, hs256, "[1,2]", NOW, PZ_JWT_MALFORMED);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":2000000000}",
              NOW, PZ_JWT_MALFORMED);
  expect_made(&cfg, hs256, "{\"sub\":\"a\\u0000b\",\"exp\":2000000000}", NOW,
              PZ_JWT_MALFORMED);
}

static void test_oversized_refused_before_parsing(void **state) {
  pz_jwt_config_t cfg = config();
  size_t n = PZ_TOKEN_MAX + 1;
  char *big = malloc(n + 1);
  memset(big, 'A', n);
  big[n] = 0;
  expect(&cfg, big, NOW, PZ_JWT_TOO_BIG);
  free(big);
  /* just under the limit: parsed (and refused for its content) */
  char payload[PZ_TOKEN_MAX];
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"exp\":2000000000,\"pad\":\"%*s\"}", 3100, "x");
  char *t = make(hs256, payload, KEY);
  assert_true(strlen(t) > PZ_TOKEN_MAX);
  expect(&cfg, t, NOW, PZ_JWT_TOO_BIG);
  free(t);
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"exp\":2000000000,\"pad\":\"%*s\"}", 2900, "x");
  t = make(hs256, payload, KEY);
  assert_true(strlen(t) <= PZ_TOKEN_MAX);
  expect(&cfg, t, NOW, PZ_JWT_OK);
  free(t);
}

static void test_rooms_claim(void **state) {
  pz_jwt_config_t cfg = config();
  pz_grant_t *g = NULL;
  assert_int_equal(verify_at(&cfg, tok_rooms, NOW, &g), PZ_JWT_OK);
  assert_true(g->rooms_limited);
  assert_int_equal(g->n_rooms, 2);
  assert_true(pz_grant_allows_room(g, "lobby", 5));
  assert_false(pz_grant_allows_room(g, "lobby2", 6));
  assert_false(pz_grant_allows_room(g, "lobb", 4));
  assert_true(pz_grant_allows_room(g, "team-", 5));
  assert_true(pz_grant_allows_room(g, "team-red", 8));
  assert_false(pz_grant_allows_room(g, "team", 4));
  assert_false(pz_grant_allows_room(g, "staff", 5));
  free(g);
  /* an empty list allows nothing, "*" everything */
  char *t = make(hs256, "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":[]}", KEY);
  assert_int_equal(verify_at(&cfg, t, NOW, &g), PZ_JWT_OK);
  assert_false(pz_grant_allows_room(g, "lobby", 5));
  free(g);
  free(t);
  t = make(hs256, "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":[\"*\"]}", KEY);
  assert_int_equal(verify_at(&cfg, t, NOW, &g), PZ_JWT_OK);
  assert_true(pz_grant_allows_room(g, "lobby", 5));
  free(g);
  free(t);
  /* not a list, not strings, not room names */
  expect_made(&cfg, hs256,
              "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":\"lobby\"}", NOW,
              PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256, "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":[1]}",
              NOW, PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256,
              "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":[\"a b\"]}", NOW,
              PZ_JWT_BAD_CLAIMS);
  expect_made(&cfg, hs256,
              "{\"sub\":\"a\",\"exp\":2000000000,\"rooms\":[\"a*b\"]}", NOW,
              PZ_JWT_BAD_CLAIMS);
}

static void test_base64url_strict(void **state) {
  uint8_t out[8];
  assert_int_equal(pz_base64url_decode("", 0, out, sizeof(out)), 0);
  assert_int_equal(pz_base64url_decode("TWFu", 4, out, sizeof(out)), 3);
  assert_memory_equal(out, "Man", 3);
  assert_int_equal(pz_base64url_decode("TWE", 3, out, sizeof(out)), 2);
  assert_memory_equal(out, "Ma", 2);
  assert_int_equal(pz_base64url_decode("TQ", 2, out, sizeof(out)), 1);
  assert_memory_equal(out, "M", 1);
  assert_int_equal(pz_base64url_decode("_-8", 3, out, sizeof(out)), 2);
  assert_int_equal(out[0], 0xff);
  assert_int_equal(out[1], 0xef);
  /* non-canonical trailing bits, a lone char, padding, '+' and '/' */
  assert_int_equal(pz_base64url_decode("TR", 2, out, sizeof(out)), -1);
  assert_int_equal(pz_base64url_decode("TWF", 3, out, sizeof(out)), -1);
  assert_int_equal(pz_base64url_decode("TWFuT", 5, out, sizeof(out)), -1);
  assert_int_equal(pz_base64url_decode("TQ==", 4, out, sizeof(out)), -1);
  assert_int_equal(pz_base64url_decode("+/8", 3, out, sizeof(out)), -1);
  /* too small an output */
  assert_int_equal(pz_base64url_decode("TWFu", 4, out, 2), -1);
}

static void test_max_lifetime(void **state) {
  pz_jwt_config_t cfg = config();
  static const char never[] = "{\"sub\":\"a\",\"exp\":1e300}";
  expect_made(&cfg, hs256, never, NOW, PZ_JWT_OK); /* no bound: any exp */
  pz_grant_t *g = NULL;
  char *t = make(hs256, never, KEY);
  assert_int_equal(verify_at(&cfg, t, NOW, &g), PZ_JWT_OK);
  assert_true(g->expires_s == UINT64_MAX); /* no undefined conversion */
  free(g);
  free(t);
  cfg.max_lifetime_s = 3600;
  expect_made(&cfg, hs256, never, NOW, PZ_JWT_TOO_LONG);
  char payload[160];
  /* Without iat, from now: up to an hour plus the 30 s leeway. */
  snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%llu}",
           NOW + 3630);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_OK);
  snprintf(payload, sizeof(payload), "{\"sub\":\"a\",\"exp\":%llu}",
           NOW + 3631);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_TOO_LONG);
  /* With iat, from iat: issued an hour ago for two hours is too long even
   * with an hour left; issued ten minutes ago for an hour is fine. */
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"iat\":%llu,\"exp\":%llu}", NOW - 3600, NOW + 3600);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_TOO_LONG);
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"iat\":%llu,\"exp\":%llu}", NOW - 600, NOW + 3000);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_OK);
  /* An iat ahead of now does not shorten what is left. */
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"iat\":%llu,\"exp\":%llu}", NOW + 86400,
           NOW + 86400 + 60);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_TOO_LONG);
  /* A bad iat is a bad claim once it counts. */
  snprintf(payload, sizeof(payload),
           "{\"sub\":\"a\",\"iat\":\"yesterday\",\"exp\":%llu}", NOW + 60);
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_BAD_CLAIMS);
  cfg.max_lifetime_s = 0;
  expect_made(&cfg, hs256, payload, NOW, PZ_JWT_OK);
  assert_string_equal(pz_jwt_result_name(PZ_JWT_TOO_LONG), "lifetime_too_long");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_token_grants_sub_and_name),
      cmocka_unit_test(test_iss_aud_nbf_checked_when_configured),
      cmocka_unit_test(test_exp_with_leeway),
      cmocka_unit_test(test_other_algorithms_refused),
      cmocka_unit_test(test_wrong_key_and_flipped_bits_refused),
      cmocka_unit_test(test_required_claims),
      cmocka_unit_test(test_name_claim_optional),
      cmocka_unit_test(test_malformed_refused),
      cmocka_unit_test(test_oversized_refused_before_parsing),
      cmocka_unit_test(test_rooms_claim),
      cmocka_unit_test(test_base64url_strict),
      cmocka_unit_test(test_max_lifetime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
