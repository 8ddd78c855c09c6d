/*
 * A refcounted, immutable message payload: the MessagePack bytes of one
 * server message, shared by every recipient of a broadcast ("encode once,
 * write many"). The count is not atomic: a payload belongs to one worker
 * thread and never crosses threads; a connection that moves to another
 * worker takes private copies of what it still holds (pz_payload_own).
 */
#ifndef PZ_PAYLOAD_H
#define PZ_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

enum pz_payload_kind {
  PZ_PAYLOAD_RELIABLE = 0,   /* never dropped nor reordered */
  PZ_PAYLOAD_STATE = 1,      /* latest wins over an unsent older STATE */
  PZ_PAYLOAD_STATE_FULL = 2, /* a STATE of every member: latest wins too, and
                              * what it replaces loses nothing */
};

typedef struct pz_payload {
  uint32_t refs;
  uint32_t len;
  uint8_t kind;
  uint8_t data[];
} pz_payload_t;

/* A payload of len bytes for the caller to fill (refs 1). */
pz_payload_t *pz_payload_alloc(size_t len, int kind);
/* A payload holding a copy of data. */
pz_payload_t *pz_payload_create(const void *data, size_t len, int kind);
static inline pz_payload_t *pz_payload_ref(pz_payload_t *p) {
  p->refs++;
  return p;
}
void pz_payload_unref(pz_payload_t *p);

/* Returns p itself when this is its only reference, else a private copy
 * (dropping one reference to p). */
pz_payload_t *pz_payload_own(pz_payload_t *p);

#endif
