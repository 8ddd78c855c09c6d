/*
 * Unit tests of a session's member state (clients/c/member_state.c): the
 * initial state checked as a patch, patches applied the server's way (a
 * refused one changing nothing), and the difference that brings what a
 * ROOM shows to what the session wants, deletes included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "member_state.h"
#include "plaza/client.h"

/* {"a": 1} and friends, written out as MessagePack. */
#define RAW(s) ((pz_raw_t){s, sizeof(s) - 1})
static const char A1[] = "\x81\xa1"
                         "a\x01";
static const char A1B2[] = "\x82\xa1"
                           "a\x01\xa1"
                           "b\x02";
static const char A3[] = "\x81\xa1"
                         "a\x03";
static const char BNIL[] = "\x81\xa1"
                           "b\xc0";
static const char A1C4[] = "\x82\xa1"
                           "a\x01\xa1"
                           "c\x04";

static void assert_raw(pz_raw_t got, const char *want, size_t len) {
  assert_int_equal(got.len, len);
  assert_memory_equal(got.ptr, want, len);
}

static void test_initial_state_is_checked_and_kept(void **state) {
  pz_mstate_t ms;
  (void)state;
  assert_int_equal(pz_mstate_init(&ms, (pz_raw_t){NULL, 0}, 0), 0);
  assert_true(pz_mstate_empty(&ms));
  assert_raw(pz_mstate_get(&ms), "\x80", 1);
  assert_int_equal(ms.max, 1024);
  pz_mstate_dispose(&ms);

  assert_int_equal(pz_mstate_init(&ms, RAW(A1B2), 0), 0);
  assert_false(pz_mstate_empty(&ms));
  assert_raw(pz_mstate_get(&ms), A1B2, sizeof(A1B2) - 1);
  pz_mstate_dispose(&ms);

  /* Not a map; a key that is no string. */
  assert_int_equal(pz_mstate_init(&ms, RAW("\x91\x01"), 0), PZ_CLIENT_EINVAL);
  pz_mstate_dispose(&ms);
  assert_int_equal(pz_mstate_init(&ms, RAW("\x81\x01\x02"), 0),
                   PZ_CLIENT_EINVAL);
  pz_mstate_dispose(&ms);
}

static void test_patches_apply_and_refusals_change_nothing(void **state) {
  pz_mstate_t ms;
  char big[40];
  (void)state;
  assert_int_equal(pz_mstate_init(&ms, RAW(A1B2), 16), 0);
  assert_int_equal(pz_mstate_apply(&ms, RAW(BNIL)), 0); /* nil deletes */
  assert_raw(pz_mstate_get(&ms), A1, sizeof(A1) - 1);
  assert_int_equal(pz_mstate_apply(&ms, RAW(A3)), 0); /* replaces */
  assert_raw(pz_mstate_get(&ms), A3, sizeof(A3) - 1);
  /* {"s": 30 bytes of text}: past the 16 bytes allowed. */
  big[0] = (char)0x81, big[1] = (char)0xa1, big[2] = 's';
  big[3] = (char)(0xa0 | 30);
  memset(big + 4, 'x', 30);
  assert_int_equal(pz_mstate_apply(&ms, (pz_raw_t){big, 34}), PZ_CLIENT_EINVAL);
  assert_raw(pz_mstate_get(&ms), A3, sizeof(A3) - 1);
  pz_mstate_dispose(&ms);
}

static void test_diff_brings_the_server_to_the_state(void **state) {
  pz_mstate_t ms, server;
  msgpack_sbuffer sb;
  (void)state;
  msgpack_sbuffer_init(&sb);
  assert_int_equal(pz_mstate_init(&ms, RAW(A1B2), 0), 0);
  /* The same: nothing to send. */
  assert_int_equal(pz_mstate_diff(&ms, RAW(A1B2), &sb), 0);
  assert_int_equal(sb.size, 0);
  /* The same keys in another order: the same state. */
  assert_int_equal(pz_mstate_diff(&ms,
                                  RAW("\x82\xa1"
                                      "b\x02\xa1"
                                      "a\x01"),
                                  &sb),
                   0);
  /* The server holds a:1 and c:4: b goes, c is deleted. */
  assert_int_equal(pz_mstate_diff(&ms, RAW(A1C4), &sb), 2);
  assert_raw((pz_raw_t){sb.data, (uint32_t)sb.size},
             "\x82\xa1"
             "b\x02\xa1"
             "c\xc0",
             7);
  /* Applied to what the server holds, it gives the state. */
  assert_int_equal(pz_mstate_init(&server, RAW(A1C4), 0), 0);
  assert_int_equal(
      pz_mstate_apply(&server, (pz_raw_t){sb.data, (uint32_t)sb.size}), 0);
  msgpack_sbuffer_clear(&sb);
  assert_int_equal(pz_mstate_diff(&ms, pz_mstate_get(&server), &sb), 0);
  /* A server without the state (a v1 ROOM): everything goes. */
  assert_int_equal(pz_mstate_diff(&ms, (pz_raw_t){NULL, 0}, &sb), 2);
  pz_mstate_dispose(&server);
  pz_mstate_dispose(&ms);
  msgpack_sbuffer_destroy(&sb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initial_state_is_checked_and_kept),
      cmocka_unit_test(test_patches_apply_and_refusals_change_nothing),
      cmocka_unit_test(test_diff_brings_the_server_to_the_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
