/* libFuzzer target: the WebSocket receiver never reads out of bounds and
 * gives the same messages and result whatever the chunking. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

typedef struct sum {
  uint64_t hash;
  size_t n;
} sum_t;

static int on_msg(void *arg, int opcode, const uint8_t *data, size_t len) {
  sum_t *s = arg;
  s->hash = s->hash * 31 + (uint64_t)opcode + len;
  for (size_t i = 0; i < len; i++)
    s->hash = s->hash * 131 + data[i];
  s->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
  memcpy(a, data, size);
  memcpy(b, data, size);
  pz_ws_rx_t ra = {0}, rb = {0};
  sum_t sa = {0}, sb = {0};
  size_t used;
  int r1 = pz_ws_rx_feed(&ra, a, size, 4096, on_msg, &sa, &used);
  int r2 = 0;
  for (size_t i = 0; i < size && !r2; i++)
    r2 = pz_ws_rx_feed(&rb, b + i, 1, 4096, on_msg, &sb, &used);
  if (r1 != r2 || sa.hash != sb.hash || sa.n != sb.n ||
      pz_ws_rx_at_boundary(&ra) != pz_ws_rx_at_boundary(&rb))
    abort();
  pz_ws_rx_release(&ra);
  pz_ws_rx_release(&rb);
  free(a);
  free(b);
  return 0;
}
