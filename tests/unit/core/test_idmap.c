/*
 * Guards src/core/idmap.c, the table of sessions and directory entries by
 * id: every object put is found until deleted, deletions keep the others
 * findable (the shift-back of linear probing, across the wrap-around and
 * through growing and shrinking), and iteration visits each object once.
 * Checked against a plain array as the reference, with random ids and
 * with sequential ones (what session ids are).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idmap.h"

typedef struct obj {
  char pad[3]; /* the id is not first: key_off is honoured */
  uint64_t id;
} obj_t;

#define N 5000

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void check_all(const pz_idmap_t *m, obj_t *objs, const int *in) {
  uint32_t n = 0;
  for (int i = 0; i < N; i++) {
    obj_t *got = pz_idmap_find(m, objs[i].id);
    if (in[i]) {
      assert_ptr_equal(got, &objs[i]);
      n++;
    } else {
      assert_null(got);
    }
  }
  assert_int_equal(m->count, n);
  /* Iteration sees each object held exactly once. */
  uint32_t pos = 0, seen = 0;
  obj_t *o;
  while ((o = pz_idmap_next(m, &pos))) {
    ptrdiff_t i = o - objs;
    assert_true(i >= 0 && i < N && in[i]);
    seen++;
  }
  assert_int_equal(seen, n);
}

static void run(bool sequential, uint64_t seed) {
  static obj_t objs[N];
  static int in[N];
  uint64_t s = seed;
  for (int i = 0; i < N; i++) {
    objs[i].id = sequential ? ((uint64_t)3 << 32) + (uint64_t)i + 1 : rnd(&s);
    in[i] = 0;
  }
  pz_idmap_t m;
  pz_idmap_init(&m, offsetof(obj_t, id));
  assert_null(pz_idmap_find(&m, 1));
  assert_null(pz_idmap_del(&m, 1));
  for (int round = 0; round < 6; round++) {
    for (int k = 0; k < N; k++) {
      int i = (int)(rnd(&s) % N);
      if (in[i]) {
        assert_ptr_equal(pz_idmap_del(&m, objs[i].id), &objs[i]);
        assert_null(pz_idmap_del(&m, objs[i].id));
        in[i] = 0;
      } else if (round < 3 || rnd(&s) % 4 == 0) {
        /* fills at first; later rounds mostly delete: the table shrinks */
        pz_idmap_put(&m, &objs[i]);
        in[i] = 1;
      }
    }
    check_all(&m, objs, in);
    assert_true((uint64_t)m.count * 4 <= (uint64_t)m.cap * 3);
  }
  for (int i = 0; i < N; i++)
    if (in[i])
      assert_ptr_equal(pz_idmap_del(&m, objs[i].id), &objs[i]);
  assert_int_equal(m.count, 0);
  assert_true(m.cap <= 16); /* given back as it emptied */
  pz_idmap_dispose(&m);
}

static void test_random_ids(void **state) {
  run(false, 0x9e3779b97f4a7c15ull);
  run(false, 12345);
}

static void test_sequential_ids(void **state) {
  run(true, 777);
}

/* Ids that all land in one run of slots, which wraps around the end of
 * the table: deleting from anywhere in it keeps the rest findable. With
 * the map's hash (id * 0x9E3779B97F4A7C15, bits 32 and up) and 16 slots,
 * multiples of 2^36 land in slot 0, and HOME15 + multiples of 2^36 in
 * slot 15 (HOME15 = 15 << 32 times the constant's inverse mod 2^64). */
#define HOME15 0xfa3fc09300000000ull
static void test_one_run(void **state) {
  pz_idmap_t m;
  pz_idmap_init(&m, offsetof(obj_t, id));
  obj_t objs[10];
  for (int i = 0; i < 10; i++) {
    uint64_t j = (uint64_t)(i / 2 + 1) << 36;
    objs[i].id = i % 2 ? j : HOME15 + j;
    pz_idmap_put(&m, &objs[i]);
  }
  assert_int_equal(m.cap, 16);
  assert_non_null(m.slots[15]); /* the run wraps */
  assert_non_null(m.slots[0]);
  int order[] = {4, 0, 9, 5, 1, 8, 2, 7, 3, 6};
  for (int k = 0; k < 10; k++) {
    assert_ptr_equal(pz_idmap_del(&m, objs[order[k]].id), &objs[order[k]]);
    for (int j = k + 1; j < 10; j++)
      assert_ptr_equal(pz_idmap_find(&m, objs[order[j]].id), &objs[order[j]]);
  }
  assert_int_equal(m.count, 0);
  pz_idmap_dispose(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_ids),
      cmocka_unit_test(test_sequential_ids),
      cmocka_unit_test(test_one_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
