/*
 * Unit tests of the bench's id -> client map (bench/idmap.c): lookups
 * after growth, deletion by backward shift keeping every other key
 * reachable, deletion only by the current owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../../bench/idmap.c"

static void *val(uint64_t id) {
  return (void *)(uintptr_t)(id * 8 + 8);
}

static void test_put_get_grow(void **state) {
  (void)state;
  pz_idmap_t m;
  pz_idmap_init(&m);
  assert_null(pz_idmap_get(&m, 5));
  for (uint64_t id = 1; id <= 50000; id++)
    assert_int_equal(pz_idmap_put(&m, (id << 38) + id, val(id)), 0);
  assert_int_equal(m.n, 50000);
  assert_true(m.cap >= 100000);
  for (uint64_t id = 1; id <= 50000; id++)
    assert_ptr_equal(pz_idmap_get(&m, (id << 38) + id), val(id));
  assert_null(pz_idmap_get(&m, 1));
  assert_int_equal(pz_idmap_put(&m, 0, val(0)), -1);
  pz_idmap_dispose(&m);
}

static void test_delete_keeps_the_rest_reachable(void **state) {
  (void)state;
  pz_idmap_t m;
  pz_idmap_init(&m);
  /* dense small ids collide in runs: delete every third, check all */
  for (uint64_t id = 1; id <= 3000; id++)
    pz_idmap_put(&m, id, val(id));
  for (uint64_t id = 3; id <= 3000; id += 3)
    pz_idmap_del(&m, id, val(id));
  for (uint64_t id = 1; id <= 3000; id++) {
    if (id % 3 == 0)
      assert_null(pz_idmap_get(&m, id));
    else
      assert_ptr_equal(pz_idmap_get(&m, id), val(id));
  }
  assert_int_equal(m.n, 2000);
  /* churn: delete and reinsert many times, no growth, no loss */
  size_t cap = m.cap;
  for (int round = 0; round < 50; round++)
    for (uint64_t id = 1; id <= 3000; id++) {
      if (id % 3 == 0)
        continue;
      pz_idmap_del(&m, id, val(id));
      pz_idmap_put(&m, id, val(id));
    }
  assert_int_equal(m.cap, cap);
  for (uint64_t id = 1; id <= 3000; id++)
    if (id % 3)
      assert_ptr_equal(pz_idmap_get(&m, id), val(id));
  pz_idmap_dispose(&m);
}

static void test_delete_only_by_owner(void **state) {
  (void)state;
  pz_idmap_t m;
  pz_idmap_init(&m);
  pz_idmap_put(&m, 42, val(1));
  pz_idmap_put(&m, 42, val(2)); /* a new owner */
  pz_idmap_del(&m, 42, val(1));
  assert_ptr_equal(pz_idmap_get(&m, 42), val(2));
  pz_idmap_del(&m, 42, val(2));
  assert_null(pz_idmap_get(&m, 42));
  pz_idmap_del(&m, 43, val(2)); /* absent: no-op */
  pz_idmap_dispose(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_grow),
      cmocka_unit_test(test_delete_keeps_the_rest_reachable),
      cmocka_unit_test(test_delete_only_by_owner),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
