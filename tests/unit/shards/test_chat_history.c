/*
 * Guards shards/chat_history.c, the last 50 chats a room keeps for ROOM and
 * resume: entries come back oldest first, the 51st overwrites the oldest
 * and the order holds across many wraps, and the ring owns copies of name
 * and text (the caller's buffers may change or go away after add). ASan
 * checks that dispose frees every entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat_history.h"

static void add(pz_chat_history_t *h, uint64_t seq) {
  char name[16], text[32];
  snprintf(name, sizeof(name), "u%llu", (unsigned long long)(seq % 7));
  snprintf(text, sizeof(text), "message %llu", (unsigned long long)seq);
  pz_chat_entry_t e = {seq,
                       1000 + seq,
                       {name, (uint32_t)strlen(name)},
                       {text, (uint32_t)strlen(text)},
                       1700000000000 + seq};
  pz_chat_history_add(h, &e);
}

/* Checks the ring holds seqs first..last, oldest first, with their fields. */
static void expect_range(const pz_chat_history_t *h, uint64_t first,
                         uint64_t last) {
  assert_int_equal(h->count, last - first + 1);
  for (uint32_t i = 0; i < h->count; i++) {
    const pz_chat_entry_t *e = pz_chat_history_at(h, i);
    uint64_t seq = first + i;
    char name[16], text[32];
    snprintf(name, sizeof(name), "u%llu", (unsigned long long)(seq % 7));
    snprintf(text, sizeof(text), "message %llu", (unsigned long long)seq);
    assert_int_equal(e->seq, seq);
    assert_int_equal(e->id, 1000 + seq);
    assert_int_equal(e->ts_ms, 1700000000000 + seq);
    assert_int_equal(e->name.len, strlen(name));
    assert_string_equal(e->name.ptr, name); /* NUL-terminated copy */
    assert_int_equal(e->text.len, strlen(text));
    assert_string_equal(e->text.ptr, text);
  }
}

static void test_empty(void **state) {
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  assert_int_equal(h.count, 0);
  pz_chat_history_dispose(&h);
  assert_int_equal(h.count, 0);
}

static void test_oldest_first_below_capacity(void **state) {
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  add(&h, 1);
  expect_range(&h, 1, 1);
  for (uint64_t s = 2; s <= 49; s++)
    add(&h, s);
  expect_range(&h, 1, 49);
  add(&h, 50);
  assert_int_equal(PZ_CHAT_HISTORY, 50);
  expect_range(&h, 1, 50);
  pz_chat_history_dispose(&h);
}

static void test_overwrites_oldest(void **state) {
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  for (uint64_t s = 1; s <= 51; s++)
    add(&h, s);
  expect_range(&h, 2, 51);
  add(&h, 52);
  expect_range(&h, 3, 52);
  /* Many wraps, checked at every step. */
  for (uint64_t s = 53; s <= 50 * 7 + 13; s++) {
    add(&h, s);
    expect_range(&h, s - 49, s);
  }
  pz_chat_history_dispose(&h);
}

static void test_strings_copied(void **state) {
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  char *name = strdup("alice");
  char *text = strdup("hello there");
  pz_chat_entry_t e = {1, 7, {name, 5}, {text, 11}, 42};
  pz_chat_history_add(&h, &e);
  /* The caller reuses and then frees its buffers. */
  memcpy(name, "XXXXX", 5);
  memcpy(text, "YYYYYYYYYYY", 11);
  free(name);
  free(text);
  const pz_chat_entry_t *c = pz_chat_history_at(&h, 0);
  assert_int_equal(c->name.len, 5);
  assert_memory_equal(c->name.ptr, "alice", 5);
  assert_int_equal(c->text.len, 11);
  assert_memory_equal(c->text.ptr, "hello there", 11);
  assert_int_equal(c->seq, 1);
  assert_int_equal(c->id, 7);
  assert_int_equal(c->ts_ms, 42);
  pz_chat_history_dispose(&h);
}

static void test_lengths_not_nul(void **state) {
  /* Strings are (ptr, len): embedded NULs and unterminated input are
   * copied by length, multi-byte UTF-8 kept whole. */
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  const char text[] = {'a', 0, 'b', 'c'};
  const char name[] = "b\xc3\xa9tyZZZ";
  pz_chat_entry_t e = {9, 1, {name, 5}, {text, 4}, 0};
  pz_chat_history_add(&h, &e);
  pz_chat_entry_t empty = {10, 2, {"", 0}, {"", 0}, 0};
  pz_chat_history_add(&h, &empty);
  const pz_chat_entry_t *c = pz_chat_history_at(&h, 0);
  assert_int_equal(c->text.len, 4);
  assert_memory_equal(c->text.ptr, text, 4);
  assert_int_equal(c->name.len, 5);
  assert_memory_equal(c->name.ptr, "b\xc3\xa9ty", 5);
  assert_int_equal(c->name.ptr[5], 0);
  c = pz_chat_history_at(&h, 1);
  assert_int_equal(c->text.len, 0);
  assert_non_null(c->text.ptr);
  assert_string_equal(c->text.ptr, "");
  pz_chat_history_dispose(&h);
}

static void test_reuse_after_dispose(void **state) {
  pz_chat_history_t h;
  pz_chat_history_init(&h);
  for (uint64_t s = 1; s <= 73; s++)
    add(&h, s);
  pz_chat_history_dispose(&h);
  assert_int_equal(h.count, 0);
  pz_chat_history_init(&h);
  for (uint64_t s = 100; s <= 104; s++)
    add(&h, s);
  expect_range(&h, 100, 104);
  pz_chat_history_dispose(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_oldest_first_below_capacity),
      cmocka_unit_test(test_overwrites_oldest),
      cmocka_unit_test(test_strings_copied),
      cmocka_unit_test(test_lengths_not_nul),
      cmocka_unit_test(test_reuse_after_dispose),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
