/*
 * Unit tests of pz_utf8_valid and pz_str_c: the boundaries of every
 * sequence length, each class of ill-formed input (overlong, surrogate,
 * beyond U+10FFFF, stray or missing continuation bytes), and the ASCII
 * fast path with a bad byte at every offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plaza/codec.h"

/* Literal with its length, embedded NULs included. */
#define U(lit) lit, sizeof(lit) - 1

static void expect(const char *s, size_t len, bool want, int line) {
  if (pz_utf8_valid(s, len) != want)
    fail_msg("line %d: pz_utf8_valid gave %d, want %d", line, !want, want);
}
#define VALID(lit) expect(U(lit), true, __LINE__)
#define INVALID(lit) expect(U(lit), false, __LINE__)

static void test_valid(void **state) {
  (void)state;
  VALID("");
  VALID("plain ascii");
  VALID("nul \0 is a code point");
  VALID("\x7f");
  VALID("\xc2\x80");         /* U+0080 */
  VALID("\xdf\xbf");         /* U+07FF */
  VALID("\xe0\xa0\x80");     /* U+0800 */
  VALID("\xed\x9f\xbf");     /* U+D7FF, last before surrogates */
  VALID("\xee\x80\x80");     /* U+E000, first after */
  VALID("\xef\xbf\xbf");     /* U+FFFF */
  VALID("\xf0\x90\x80\x80"); /* U+10000 */
  VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
  VALID("h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x91\x8b!");
}

static void test_invalid(void **state) {
  (void)state;
  INVALID("\x80");                     /* stray continuation */
  INVALID("a\xbf");                    /* stray continuation after ascii */
  INVALID("\xc0\x80");                 /* overlong NUL */
  INVALID("\xc1\xbf");                 /* overlong U+007F */
  INVALID("\xe0\x80\x80");             /* overlong 3-byte */
  INVALID("\xe0\x9f\xbf");             /* overlong U+07FF */
  INVALID("\xf0\x80\x80\x80");         /* overlong 4-byte */
  INVALID("\xf0\x8f\xbf\xbf");         /* overlong U+FFFF */
  INVALID("\xed\xa0\x80");             /* U+D800 */
  INVALID("\xed\xbf\xbf");             /* U+DFFF */
  INVALID("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 surrogate pair */
  INVALID("\xf4\x90\x80\x80");         /* U+110000 */
  INVALID("\xf5\x80\x80\x80");
  INVALID("\xf8\x88\x80\x80\x80");
  INVALID("\xfe");
  INVALID("\xff");
  INVALID("\xc2");             /* truncated 2-byte */
  INVALID("\xe2\x82");         /* truncated 3-byte */
  INVALID("\xf0\x9f\x91");     /* truncated 4-byte */
  INVALID("ok\xf0\x9f");       /* truncated at the end */
  INVALID("\xe2\x28\xa1");     /* bad 2nd byte */
  INVALID("\xe2\x82\x28");     /* bad 3rd byte */
  INVALID("\xf0\x9f\x91\x28"); /* bad 4th byte */
  INVALID("\xc3\xa9\xc3");     /* valid then truncated */
}

/* The length is honoured: a valid sequence cut by len is invalid, and
 * bytes past len are not read. */
static void test_length_is_honoured(void **state) {
  (void)state;
  assert_false(pz_utf8_valid("\xe2\x82\xac", 2));
  assert_true(pz_utf8_valid("ab\xff", 2));
  assert_true(pz_utf8_valid(NULL, 0));
}

/* One bad byte at every offset of a long ASCII run, so the eight-byte
 * skip and the byte tail both meet it. */
static void test_ascii_fast_path_every_offset(void **state) {
  (void)state;
  char buf[40];
  for (size_t len = 1; len <= sizeof buf; len++) {
    for (size_t at = 0; at < len; at++) {
      memset(buf, 'a', len);
      buf[at] = (char)0x80;
      if (pz_utf8_valid(buf, len))
        fail_msg("stray 0x80 at %zu of %zu accepted", at, len);
      if (at + 2 <= len) {
        buf[at] = (char)0xc3;
        buf[at + 1] = (char)0xa9;
        if (!pz_utf8_valid(buf, len))
          fail_msg("U+00E9 at %zu of %zu refused", at, len);
      }
    }
    memset(buf, 'a', len);
    assert_true(pz_utf8_valid(buf, len));
  }
}

static void test_str_c(void **state) {
  (void)state;
  const char *s = "room-1";
  pz_str_t v = pz_str_c(s);
  assert_ptr_equal(v.ptr, s);
  assert_int_equal(v.len, 6);
  v = pz_str_c("");
  assert_non_null(v.ptr);
  assert_int_equal(v.len, 0);
  v = pz_str_c(NULL);
  assert_null(v.ptr);
  assert_int_equal(v.len, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_length_is_honoured),
      cmocka_unit_test(test_ascii_fast_path_every_offset),
      cmocka_unit_test(test_str_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
