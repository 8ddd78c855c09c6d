/* Scratch encoder (see wire.h). */
#include "wire.h"

#include <string.h>

#include "alloc.h"

void pz_wire_init(pz_wire_t *w) {
  msgpack_sbuffer_init(&w->sb);
  msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

void pz_wire_dispose(pz_wire_t *w) {
  msgpack_sbuffer_destroy(&w->sb);
}

msgpack_packer *pz_wire_begin(pz_wire_t *w) {
  w->sb.size = 0; /* keep the allocation: no malloc once warm */
  return &w->pk;
}
