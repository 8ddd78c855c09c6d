/*
 * How a shard reaches a client without knowing sockets: every session has
 * an outlet (the transport implements it; tests record into one). Payloads
 * are MessagePack bytes of one server message; the outlet frames them.
 *
 * "Encode once, write many": a broadcast is one refcounted pz_payload given
 * to every member's outlet, which takes a reference only if it must queue.
 * A STATE payload is marked so an outlet may replace an unsent one with the
 * newer (latest-wins); every other kind is never dropped.
 *
 * The rule that keeps positions exact: what an outlet drops of positions,
 * it reports (PZ_OUTLET_LOST), and that member's next STATE is a full one
 * (PZ_PAYLOAD_STATE_FULL: every member with its current position), which
 * an outlet may drop only for a newer STATE without reporting a loss.
 */
#ifndef PZ_OUTLET_H
#define PZ_OUTLET_H

#include <stddef.h>
#include <stdint.h>

#include "payload.h"

typedef struct pz_outlet pz_outlet_t;
/* What send returns besides 0: to queue this partial STATE the outlet
 * dropped an unsent STATE, whose positions this one may not all carry. */
#define PZ_OUTLET_LOST 1

struct pz_outlet_vtbl {
  /* Sends one message. `shared` is NULL (the bytes are borrowed for the
   * call: copy what must outlive it) or the refcounted payload holding the
   * bytes (ref it to keep it). Returns 0 or PZ_OUTLET_LOST. */
  int (*send)(pz_outlet_t *o, const uint8_t *data, size_t len, int kind,
              pz_payload_t *shared);
  /* Closes the client's connection with a WebSocket close code. */
  void (*close)(pz_outlet_t *o, int code, const char *reason);
};
struct pz_outlet {
  const struct pz_outlet_vtbl *vt;
};

static inline int pz_outlet_send(pz_outlet_t *o, const uint8_t *data,
                                 size_t len, int kind, pz_payload_t *shared) {
  return o->vt->send(o, data, len, kind, shared);
}

#endif
