/*
 * A shard's scratch encoder: one msgpack buffer per worker, reset before
 * each message, so encoding allocates nothing once warm. pz_wire_begin()
 * hands out the packer; pz_wire_bytes() the bytes encoded since, valid
 * until the next begin.
 */
#ifndef PZ_WIRE_H
#define PZ_WIRE_H

#include <msgpack.h>

#include "outlet.h"

typedef struct pz_wire {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} pz_wire_t;

void pz_wire_init(pz_wire_t *w);
void pz_wire_dispose(pz_wire_t *w);
msgpack_packer *pz_wire_begin(pz_wire_t *w);
static inline const uint8_t *pz_wire_data(const pz_wire_t *w) {
  return (const uint8_t *)w->sb.data;
}
static inline size_t pz_wire_len(const pz_wire_t *w) {
  return w->sb.size;
}
/* Room for n more bytes at the end of what was encoded since begin, which
 * the caller fills at once (no other write in between). */
uint8_t *pz_wire_append(pz_wire_t *w, size_t n);

/* Sends what was encoded since begin to one outlet (borrowed bytes). */
static inline void pz_wire_send(pz_wire_t *w, pz_outlet_t *o, int kind) {
  if (o)
    pz_outlet_send(o, pz_wire_data(w), pz_wire_len(w), kind, NULL);
}

#endif
