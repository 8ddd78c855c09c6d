/*
 * SIGNAL from a session (protocol 1.1): to every other member of its room,
 * or to one session id wherever it lives on this node, with the order the
 * contract promises: signals from one sender to one receiver arrive in the
 * order sent.
 *
 * A signal to the sender's room, or to a session on the sender's worker,
 * is delivered at once. One to a session elsewhere travels between
 * workers (routing.h: the target's home, then its worker), while sender
 * and target may move between workers themselves (a JOIN of a room on
 * another shard, a resume): a later signal taking a shorter way could
 * overtake it. So a sender has at most one signal travelling at a time:
 * the worker that delivers it, or finds no one to deliver it to, sends an
 * acknowledgement back to the sender's id (PZ_DELIVER_SIGNAL_ACK, never
 * dropped), and the signals sent meanwhile, to anyone or to the room,
 * wait in the session (they move with it) and leave in order when it
 * comes. With nothing travelling, nothing waits: the common cases cost
 * no more than a whisper. The wait is bounded (SIGNAL_QUEUE_MAX, then
 * ERROR 10), and so is what one sender can hold in flight: one message.
 *
 * A room signal that waited goes to the room the sender was in when it
 * sent it, or not at all (ERROR 3) if the sender has left that room
 * meanwhile: never to another room. Worker thread only.
 */
#ifndef PZ_SIGNALS_H
#define PZ_SIGNALS_H

#include <stdint.h>

#include "worker.h"

/* Sends the SIGNAL s sent (m: its decoded message, checked by the
 * dispatcher; to_room implies s is in a room), at once or after the one
 * in flight. ts_ms: when it was received. */
void pz_signals_send(pz_worker_t *w, pz_session_t *s, const pz_cmsg_t *m,
                     uint64_t ts_ms);
/* Routing: the signal s had in flight is done with. error_code 0, or the
 * ERROR s gets for it (message, op SIGNAL). The signals waiting go on. */
void pz_signals_acked(pz_worker_t *w, pz_session_t *s, int error_code,
                      pz_str_t message);

#endif
