/*
 * JOIN: the session goes into a room, leaving its current one, and a JOIN
 * the room refuses (full) changes nothing. A room on this worker is
 * checked before anything is left. A room on another worker is a step in
 * two: its worker is asked, through its inbox, to hold a place; the
 * session leaves its room and moves (with its connection) only when the
 * place is granted, and a place whose session does not come (its
 * connection gone meanwhile, or resumed elsewhere) is given back. While
 * the question is out the connection's input waits (pz_conn_pause_input),
 * so what the client sent after the JOIN is handled after it, in the room
 * it asked for. Worker thread only.
 */
#ifndef PZ_JOINS_H
#define PZ_JOINS_H

#include "worker.h"

/* Registers the inbox handlers (PLACE, PLACE_REPLY). */
void pz_joins_register(pz_worker_t *w);
/* The session of c JOINs `room` (a valid name it is not in, allowed and
 * within the join rate): ROOM to it and JOINED to the others, or ERROR 5
 * and nothing else when the room is full. */
void pz_joins_join(pz_worker_t *w, pz_conn_t *c, pz_str_t room);

#endif
