/* libFuzzer target: pz_decode_client on arbitrary bytes, as the dispatcher
 * calls it (one zone, cleared after each message). What it hands out is
 * read whole, so ASan sees any slice that points outside the input, and a
 * state patch it accepts is applied as the server would. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "plaza/codec.h"

static volatile unsigned char sink;

static void touch(pz_raw_t v) {
  for (uint32_t i = 0; v.ptr && i < v.len; i++)
    sink ^= (unsigned char)v.ptr[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static msgpack_zone zone;
  static int ready;
  static char state[1024];
  if (!ready) {
    msgpack_zone_init(&zone, 4096);
    ready = 1;
  }
  pz_cmsg_t m;
  pz_decode_error_t err;
  size_t n;
  if (pz_decode_client((const char *)data, size, &zone, &m, &err) == 0) {
    switch (m.op) {
    case PZ_C_CHAT:
      (void)pz_utf8_valid(m.u.chat.text.ptr, m.u.chat.text.len);
      break;
    case PZ_C_HELLO:
      touch(m.u.hello.state);
      if (m.u.hello.state.ptr &&
          pz_state_apply((pz_raw_t){NULL, 0}, m.u.hello.state, &zone, state,
                         sizeof state, &n) == PZ_STATE_BAD)
        abort(); /* the decoder accepted what the state cannot take */
      break;
    case PZ_C_SET:
      touch(m.u.set.patch);
      if (pz_state_apply((pz_raw_t){"\x81\xa1k\x01", 4}, m.u.set.patch, &zone,
                         state, sizeof state, &n) == PZ_STATE_BAD)
        abort();
      break;
    case PZ_C_SIGNAL:
      touch(m.u.signal.data);
      break;
    case PZ_C_ROOM_SET:
      touch(m.u.room_set.value);
      break;
    }
  }
  msgpack_zone_clear(&zone);
  return 0;
}
