/*
 * The message dispatcher: decodes one client message and carries it out
 * against the connection's session and shard, answering errors as the
 * protocol says. Runs on the connection's worker.
 */
#ifndef PZ_DISPATCH_H
#define PZ_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct pz_conn;

/* Handles one binary message (bytes borrowed for the call). */
void pz_dispatch(struct pz_conn *c, const uint8_t *data, size_t len);

#endif
