/* libFuzzer target: the PROXY protocol header parser never reads out of
 * bounds, and gives the same answer (result, header length, client) fed
 * whole or one byte at a time. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pz_proxy_parser_t a, b;
  pz_proxy_result_t ra, rb;
  memset(&ra, 0, sizeof(ra));
  memset(&rb, 0, sizeof(rb));
  pz_proxy_init(&a);
  pz_proxy_init(&b);
  ssize_t whole = pz_proxy_feed(&a, data, size, &ra);
  ssize_t one = PZ_EAGAIN;
  size_t at = 0;
  for (; at < size && one == PZ_EAGAIN; at++)
    one = pz_proxy_feed(&b, data + at, 1, &rb);
  if (one >= 0)
    one = (ssize_t)at; /* where the header ended, as `whole` counts it */
  if (whole != one || (whole >= 0 && memcmp(&ra, &rb, sizeof(ra)) != 0))
    abort();
  if (whole >= 0 && (size_t)whole > size)
    abort();
  return 0;
}
