/*
 * Claiming a node id in Redis at start-up, before any worker runs (ids
 * carry the node, so two live nodes must never share one): SET
 * plaza:node:<id> <nonce> NX PX ttl. A random id that is taken is drawn
 * again; an explicit one that a live node holds is refused. Blocking
 * (hiredis' synchronous API): it runs once, on the main thread.
 */
#ifndef PZ_NODE_CLAIM_H
#define PZ_NODE_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "redis_url.h"

/* want: an id, or UINT32_MAX for a random one (drawn by draw()). Returns
 * 0 with *node set; PZ_EFULL when the explicit id is held by a live node;
 * PZ_EIO when Redis cannot be reached or refuses us (why says how, never
 * with the password). */
int pz_node_claim(const pz_redis_url_t *url, uint32_t want,
                  uint32_t (*draw)(void), const char *nonce, uint32_t ttl_ms,
                  uint32_t *node, char *why, size_t why_size);

#endif
