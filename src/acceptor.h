/*
 * The acceptor: one thread, one loop, the listening socket. It accepts and
 * hands each socket to a worker, round robin. Nothing else.
 */
#ifndef PZ_ACCEPTOR_H
#define PZ_ACCEPTOR_H

#include "server.h"

typedef struct pz_acceptor pz_acceptor_t;

/* Binds and listens on cfg host:port (in the caller's thread, so a busy
 * port fails start-up). Returns NULL after logging why. */
pz_acceptor_t *pz_acceptor_create(pz_server_t *srv);
/* The port actually bound (useful with --port 0). */
int pz_acceptor_port(const pz_acceptor_t *a);
int pz_acceptor_start(pz_acceptor_t *a);
/* Any thread: stop accepting; the thread ends. */
void pz_acceptor_stop(pz_acceptor_t *a);
/* Joins the thread and frees. */
void pz_acceptor_destroy(pz_acceptor_t *a);

#endif
