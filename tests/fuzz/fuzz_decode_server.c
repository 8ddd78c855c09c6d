/* libFuzzer target: pz_decode_server on arbitrary bytes, as the C client
 * library reads what a server sends (one it need not trust). Every slice
 * it hands out is read whole, so ASan sees one that points outside the
 * input; member states and patches are walked and applied as a client
 * would keep them, and STATE_C entries decoded against a table that lives
 * across inputs (reset at ROOM, as a client's), so deltas meet old
 * baselines. */
#include <stddef.h>
#include <stdint.h>

#include "plaza/codec.h"

static volatile unsigned char sink;
static char out[4096];

static void touch(pz_raw_t v) {
  for (uint32_t i = 0; v.ptr && i < v.len; i++)
    sink ^= (unsigned char)v.ptr[i];
}

static void walk(pz_raw_t map) {
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  if (!pz_map_iter_init(&it, map))
    return;
  while (pz_map_next(&it, &k, &v)) {
    touch((pz_raw_t){k.ptr, k.len});
    touch(v);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static msgpack_zone zone;
  static pz_compact_t table;
  static int ready;
  if (!ready) {
    msgpack_zone_init(&zone, 4096);
    pz_compact_init(&table);
    ready = 1;
  }
  pz_smsg_t m;
  size_t n;
  if (pz_decode_server((const char *)data, size, &zone, &m) == 0) {
    switch (m.op) {
    case PZ_S_STATE_C:
      if (pz_compact_decode(&table, &m, &zone) == 0)
        for (size_t i = 0; i < m.u.state.n; i++)
          sink ^= (unsigned char)m.u.state.entries[i].seq;
      break;
    case PZ_S_AWAY:
      for (size_t i = 0; i < m.u.away.n; i++)
        sink ^= (unsigned char)m.u.away.ids[i];
      break;
    case PZ_S_ROOM:
      pz_compact_reset(&table);
      for (size_t i = 0; i < m.u.room.n_members; i++)
        walk(m.u.room.member_states[i]);
      for (size_t i = 0; i < m.u.room.n_room_state; i++)
        touch(m.u.room.room_state[i].value);
      break;
    case PZ_S_JOINED:
      walk(m.u.joined_state);
      break;
    case PZ_S_MEMBER:
      walk(m.u.member.patch);
      (void)pz_state_apply((pz_raw_t){"\x81\xa1k\x01", 4}, m.u.member.patch,
                           &zone, out, sizeof out, &n);
      break;
    case PZ_S_SIGNAL:
      touch(m.u.signal.data);
      break;
    case PZ_S_ROOM_STATE:
      touch(m.u.room_state.value);
      break;
    case PZ_S_ERROR:
      touch((pz_raw_t){m.u.error.key.ptr, m.u.error.key.len});
      break;
    }
  }
  msgpack_zone_clear(&zone);
  return 0;
}
