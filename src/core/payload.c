/* Refcounted payloads (see payload.h). */
#include "payload.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

pz_payload_t *pz_payload_alloc(size_t len, int kind) {
  pz_payload_t *p = pz_xmalloc(sizeof(*p) + len);
  p->refs = 1;
  p->len = (uint32_t)len;
  p->kind = (uint8_t)kind;
  p->head_len = 0;
  return p;
}

pz_payload_t *pz_payload_create(const void *data, size_t len, int kind) {
  pz_payload_t *p = pz_payload_alloc(len, kind);
  if (len) /* an empty message may come as NULL */
    memcpy(p->data, data, len);
  return p;
}

void pz_payload_unref(pz_payload_t *p) {
  if (--p->refs == 0)
    free(p);
}

pz_payload_t *pz_payload_own(pz_payload_t *p) {
  if (p->refs == 1)
    return p;
  pz_payload_t *copy = pz_payload_create(p->data, p->len, p->kind);
  pz_payload_set_head(copy, pz_payload_wire(p), p->head_len);
  pz_payload_unref(p);
  return copy;
}
