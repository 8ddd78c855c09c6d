/* libFuzzer target: the frame-boundary scanner never reads out of bounds
 * and gives the same answer whatever the chunking. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pz_ws_scan_t a = {0}, b = {0};
  pz_ws_scan_feed(&a, data, size);
  for (size_t i = 0; i < size; i++)
    pz_ws_scan_feed(&b, data + i, 1);
  if (pz_ws_scan_at_boundary(&a) != pz_ws_scan_at_boundary(&b) ||
      a.payload_left != b.payload_left || a.have != b.have)
    abort();
  return 0;
}
