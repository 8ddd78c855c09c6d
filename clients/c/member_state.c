/* A session's member state (see member_state.h). */
#include "member_state.h"

#include <stdlib.h>
#include <string.h>

#include "plaza/client.h"

/* The value of `key` in the map m, or ptr NULL. A state has at most a
 * few dozen keys (1 KiB by default): a walk is the cheapest look-up. */
static pz_raw_t lookup(pz_raw_t m, pz_str_t key) {
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  if (pz_map_iter_init(&it, m))
    while (pz_map_next(&it, &k, &v))
      if (k.len == key.len && memcmp(k.ptr, key.ptr, k.len) == 0)
        return v;
  return (pz_raw_t){NULL, 0};
}

static bool same_raw(pz_raw_t a, pz_raw_t b) {
  return a.ptr != NULL && b.ptr != NULL && a.len == b.len &&
         memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Replaces the state with `patch` applied to `base` (which may be the
 * state itself: it is read before the state is freed). */
static int apply(pz_mstate_t *ms, pz_raw_t base, pz_raw_t patch) {
  msgpack_zone zone;
  size_t len = 0;
  char *out = malloc(ms->max);
  int r;
  if (out == NULL || !msgpack_zone_init(&zone, 256)) {
    free(out);
    return PZ_CLIENT_ENOMEM;
  }
  r = pz_state_apply(base, patch, &zone, out, ms->max, &len);
  msgpack_zone_destroy(&zone);
  if (r != PZ_STATE_OK) {
    free(out);
    return r == PZ_STATE_NOMEM ? PZ_CLIENT_ENOMEM : PZ_CLIENT_EINVAL;
  }
  free(ms->bytes);
  ms->bytes = out;
  ms->len = len;
  return 0;
}

int pz_mstate_init(pz_mstate_t *ms, pz_raw_t initial, uint32_t max) {
  memset(ms, 0, sizeof(*ms));
  ms->max = max ? max : 1024;
  return apply(ms, (pz_raw_t){NULL, 0},
               initial.ptr != NULL ? initial : (pz_raw_t){"\x80", 1});
}

void pz_mstate_dispose(pz_mstate_t *ms) {
  free(ms->bytes);
  ms->bytes = NULL;
  ms->len = 0;
}

pz_raw_t pz_mstate_get(const pz_mstate_t *ms) {
  return (pz_raw_t){ms->bytes, (uint32_t)ms->len};
}

bool pz_mstate_empty(const pz_mstate_t *ms) {
  return ms->len <= 1; /* 0x80: the empty map */
}

int pz_mstate_apply(pz_mstate_t *ms, pz_raw_t patch) {
  return apply(ms, pz_mstate_get(ms), patch);
}

int pz_mstate_adopt(pz_mstate_t *ms, pz_raw_t server) {
  return apply(ms, (pz_raw_t){NULL, 0}, server);
}

/* Counts (pk NULL) or packs the entries of the difference. */
static uint32_t walk(pz_raw_t mine, pz_raw_t server, msgpack_packer *pk,
                     msgpack_sbuffer *sb) {
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  uint32_t n = 0;
  if (pz_map_iter_init(&it, mine))
    while (pz_map_next(&it, &k, &v))
      if (!same_raw(lookup(server, k), v)) {
        n++;
        if (pk != NULL) {
          msgpack_pack_str_with_body(pk, k.ptr, k.len);
          msgpack_sbuffer_write(sb, v.ptr, v.len);
        }
      }
  if (pz_map_iter_init(&it, server))
    while (pz_map_next(&it, &k, &v))
      if (lookup(mine, k).ptr == NULL) {
        n++;
        if (pk != NULL) {
          msgpack_pack_str_with_body(pk, k.ptr, k.len);
          msgpack_pack_nil(pk);
        }
      }
  return n;
}

uint32_t pz_mstate_diff(const pz_mstate_t *ms, pz_raw_t server,
                        msgpack_sbuffer *out) {
  msgpack_packer pk;
  uint32_t n = walk(pz_mstate_get(ms), server, NULL, NULL);
  if (n == 0)
    return 0;
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, n);
  (void)walk(pz_mstate_get(ms), server, &pk, out);
  return n;
}
