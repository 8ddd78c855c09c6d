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

uint8_t *pz_wire_append(pz_wire_t *w, size_t n) {
  msgpack_sbuffer *sb = &w->sb;
  if (sb->alloc - sb->size < n) {
    size_t cap = sb->alloc ? sb->alloc : 256;
    while (cap - sb->size < n)
      cap *= 2;
    sb->data = pz_xrealloc(sb->data, cap);
    sb->alloc = cap;
  }
  uint8_t *p = (uint8_t *)sb->data + sb->size;
  sb->size += n;
  return p;
}
