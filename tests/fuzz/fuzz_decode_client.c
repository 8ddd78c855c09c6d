/* libFuzzer target: pz_decode_client on arbitrary bytes, as the dispatcher
 * calls it (one zone, cleared after each message). */
#include <stddef.h>
#include <stdint.h>

#include "plaza/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static msgpack_zone zone;
  static int ready;
  if (!ready) {
    msgpack_zone_init(&zone, 4096);
    ready = 1;
  }
  pz_cmsg_t m;
  pz_decode_error_t err;
  if (pz_decode_client((const char *)data, size, &zone, &m, &err) == 0 &&
      m.op == PZ_C_CHAT)
    (void)pz_utf8_valid(m.u.chat.text.ptr, m.u.chat.text.len);
  msgpack_zone_clear(&zone);
  return 0;
}
