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

#include "payload.h"

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
