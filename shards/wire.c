/* Scratch encoder and refcounted payloads (see wire.h, outlet.h). */
#include "wire.h"

#include <string.h>

#include "alloc.h"

pz_payload_t *pz_payload_create(const void *data, size_t len, int kind) {
  pz_payload_t *p = pz_xmalloc(sizeof(*p) + len);
  p->refs = 1;
  p->len = (uint32_t)len;
  p->kind = (uint8_t)kind;
  memcpy(p->data, data, len);
  return p;
}

void pz_payload_unref(pz_payload_t *p) {
  if (--p->refs == 0)
    free(p);
}

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
