/*
 * How a shard reaches a client without knowing sockets: every session has
 * an outlet (the transport implements it; tests record into one). Payloads
 * are MessagePack bytes of one server message; the outlet frames them.
 *
 * "Encode once, write many": a broadcast is one refcounted pz_payload given
 * to every member's outlet, which takes a reference only if it must queue.
 * A STATE payload is marked so an outlet may replace an unsent one with the
 * newer (latest-wins); every other kind is never dropped.
 */
#ifndef PZ_OUTLET_H
#define PZ_OUTLET_H

#include <stddef.h>
#include <stdint.h>

enum pz_payload_kind {
  PZ_PAYLOAD_RELIABLE = 0, /* never dropped nor reordered */
  PZ_PAYLOAD_STATE = 1,    /* latest wins over an unsent older STATE */
};

/* Refcounted, owned by one worker thread (never crosses threads). */
typedef struct pz_payload {
  uint32_t refs;
  uint32_t len;
  uint8_t kind;
  uint8_t data[];
} pz_payload_t;

pz_payload_t *pz_payload_create(const void *data, size_t len, int kind);
static inline pz_payload_t *pz_payload_ref(pz_payload_t *p) {
  p->refs++;
  return p;
}
void pz_payload_unref(pz_payload_t *p);

typedef struct pz_outlet pz_outlet_t;
struct pz_outlet_vtbl {
  /* Sends one message. `shared` is NULL (the bytes are borrowed for the
   * call: copy what must outlive it) or the refcounted payload holding the
   * bytes (ref it to keep it). */
  void (*send)(pz_outlet_t *o, const uint8_t *data, size_t len, int kind,
               pz_payload_t *shared);
  /* Closes the client's connection with a WebSocket close code. */
  void (*close)(pz_outlet_t *o, int code, const char *reason);
};
struct pz_outlet {
  const struct pz_outlet_vtbl *vt;
};

static inline void pz_outlet_send(pz_outlet_t *o, const uint8_t *data,
                                  size_t len, int kind, pz_payload_t *shared) {
  o->vt->send(o, data, len, kind, shared);
}

#endif
