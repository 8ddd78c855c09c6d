/* libFuzzer target: pz_state_apply on arbitrary bytes, split in two: a
 * state and a patch, neither checked by a decoder first (a client library
 * applies what a server sent). Whatever it accepts must be one map of
 * string keys within the bound, which a second apply of an empty patch
 * must give back byte for byte. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plaza/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static msgpack_zone zone;
  static int ready;
  static char out[1024], again[1024];
  if (!ready) {
    msgpack_zone_init(&zone, 4096);
    ready = 1;
  }
  if (size < 1)
    return 0;
  size_t cut = data[0] % size; /* the state's length */
  pz_raw_t state = {(const char *)data + 1, (uint32_t)(cut ? cut - 1 : 0)};
  pz_raw_t patch = {(const char *)data + (cut ? cut : 1),
                    (uint32_t)(size - (cut ? cut : 1))};
  if (cut == 0)
    state.ptr = NULL;
  size_t n, n2;
  size_t cap = 1 + data[0] % sizeof out;
  if (pz_state_apply(state, patch, &zone, out, cap, &n) == PZ_STATE_OK) {
    if (n > cap)
      abort();
    pz_map_iter_t it;
    pz_str_t k;
    pz_raw_t v;
    if (!pz_map_iter_init(&it, (pz_raw_t){out, (uint32_t)n}))
      abort();
    while (pz_map_next(&it, &k, &v))
      ;
    if (it.bad)
      abort();
    if (pz_state_apply((pz_raw_t){out, (uint32_t)n}, (pz_raw_t){"\x80", 1},
                       &zone, again, sizeof again, &n2) != PZ_STATE_OK ||
        n2 != n || memcmp(out, again, n) != 0)
      abort();
  }
  msgpack_zone_clear(&zone);
  return 0;
}
