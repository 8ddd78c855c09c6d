/*
 * The acceptor: one thread, one loop, the listening socket. It accepts and
 * hands each socket to its callback (the server posts it to a worker).
 * Nothing else.
 */
#ifndef PZ_ACCEPTOR_H
#define PZ_ACCEPTOR_H

#include <uv.h>

typedef struct pz_acceptor pz_acceptor_t;

/* Acceptor thread: a new non-blocking socket; the callee owns fd. */
typedef void (*pz_acceptor_cb)(void *data, uv_os_sock_t fd);

/* Binds and listens on host:port (in the caller's thread, so a busy port
 * fails start-up). host is an address literal or a name, resolved here; of
 * several addresses the first that binds is used. Returns NULL after
 * logging why. */
pz_acceptor_t *pz_acceptor_create(const char *host, int port,
                                  pz_acceptor_cb on_socket, void *data);
/* The port actually bound (useful with --port 0). */
int pz_acceptor_port(const pz_acceptor_t *a);
int pz_acceptor_start(pz_acceptor_t *a);
/* Any thread: stop accepting; the thread ends. */
void pz_acceptor_stop(pz_acceptor_t *a);
/* Joins the thread and frees. */
void pz_acceptor_destroy(pz_acceptor_t *a);

#endif
