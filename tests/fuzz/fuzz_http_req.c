/* libFuzzer target: the HTTP request head parser, fed the input whole and
 * then in two pieces split at the first byte's value, and the WebSocket
 * handshake check on whatever head it completes. */
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "ws.h"

static void run(const uint8_t *data, size_t size, size_t split) {
  pz_http_req_t req;
  pz_http_req_init(&req);
  ssize_t r = pz_http_req_feed(&req, (const char *)data, split);
  if (r == -1 /* PZ_EAGAIN */ && split < size)
    r = pz_http_req_feed(&req, (const char *)data + split, size - split);
  if (req.complete) {
    char out[512];
    (void)pz_ws_handshake(&req, out, sizeof(out));
  }
  pz_http_req_dispose(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size, size);
  if (size > 1)
    run(data, size, data[0] % size);
  return 0;
}
