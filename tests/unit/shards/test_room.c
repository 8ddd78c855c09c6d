/*
 * Guards pz_room_name_valid (shards/room.c), the JOIN room-name rule of the
 * protocol: 1-64 bytes of [A-Za-z0-9._:-]. Checks the length edges, every
 * allowed punctuation, and refusals of space, '/', other ASCII, control
 * bytes, NUL and UTF-8; also that only `len` bytes are read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "room.h"

/* Checks a name from an exact-size heap copy so ASan sees any over-read. */
static bool valid(const char *s, size_t len) {
  char *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  memcpy(copy, s, len);
  bool ok = pz_room_name_valid(copy, len);
  free(copy);
  return ok;
}

static bool valid_c(const char *s) {
  return valid(s, strlen(s));
}

static void test_length_edges(void **state) {
  char buf[PZ_ROOM_NAME_MAX + 2];
  memset(buf, 'a', sizeof(buf));
  assert_int_equal(PZ_ROOM_NAME_MAX, 64);
  assert_false(valid(buf, 0));
  assert_true(valid(buf, 1));
  assert_true(valid(buf, 63));
  assert_true(valid(buf, 64));
  assert_false(valid(buf, 65));
  assert_false(valid(buf, 66));
}

static void test_allowed_characters(void **state) {
  assert_true(valid_c("lobby"));
  assert_true(valid_c("LOBBY"));
  assert_true(valid_c("0123456789"));
  assert_true(valid_c("abcdefghijklmnopqrstuvwxyz"));
  assert_true(valid_c("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  /* Each allowed punctuation, alone, leading, trailing and inside. */
  const char punct[] = "._:-";
  for (size_t i = 0; i < 4; i++) {
    char one[2] = {punct[i], 0};
    char lead[4] = {punct[i], 'a', 'b', 0};
    char trail[4] = {'a', 'b', punct[i], 0};
    char mid[4] = {'a', punct[i], 'b', 0};
    if (!valid_c(one) || !valid_c(lead) || !valid_c(trail) || !valid_c(mid))
      fail_msg("'%c' refused", punct[i]);
  }
  assert_true(valid_c("world-1:zone_a.b"));
  assert_true(valid_c("..."));
}

static void test_refused_characters(void **state) {
  assert_false(valid_c("a b"));
  assert_false(valid_c(" "));
  assert_false(valid_c("lobby "));
  assert_false(valid_c("a/b"));
  assert_false(valid_c("/"));
  assert_false(valid_c("a\\b"));
  assert_false(valid_c("caf\xc3\xa9"));              /* UTF-8 é */
  assert_false(valid_c("\xe6\x97\xa5\xe6\x9c\xac")); /* UTF-8 CJK */
  assert_false(valid_c("\xff"));
  assert_false(valid_c("a\tb"));
  assert_false(valid_c("a\nb"));
  assert_false(valid("a\0b", 3)); /* embedded NUL */
  /* Every other printable ASCII byte. */
  for (int c = 0x20; c < 0x7f; c++) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                   c == '-';
    char name[4] = {'x', (char)c, 'y', 0};
    if (valid(name, 3) != allowed)
      fail_msg("byte 0x%02x: got %d, want %d", c, !allowed, allowed);
  }
  /* Every non-ASCII and control byte. */
  for (int c = 0; c < 256; c++) {
    if (c >= 0x20 && c < 0x7f)
      continue;
    char name[1] = {(char)c};
    if (valid(name, 1))
      fail_msg("byte 0x%02x accepted", c);
  }
}

static void test_reads_only_len(void **state) {
  /* A valid prefix of an invalid buffer is valid, and vice versa. */
  assert_true(valid("lobby/x", 5));
  assert_false(valid("lob/by", 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_length_edges),
      cmocka_unit_test(test_allowed_characters),
      cmocka_unit_test(test_refused_characters),
      cmocka_unit_test(test_reads_only_len),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
