/*
 * X-Forwarded-For: which client an HTTP proxy chain names. Each proxy
 * appends the address it got the request from, so the list is read from
 * its right end: entries added by proxies we trust are passed over, and
 * the first address that is not one of them is the client (a client can
 * write anything at the front, never behind the entry our proxy added).
 * Pure: no I/O.
 */
#ifndef PZ_FORWARDED_H
#define PZ_FORWARDED_H

#include <stdbool.h>

#include "addr.h"

/* The client that the X-Forwarded-For value `xff` names for a request
 * that came from a trusted proxy: the rightmost entry not in `trusted`,
 * or the leftmost when all are. Entries may carry a port ("1.2.3.4:5",
 * "[2001:db8::1]:5"); anything that is not an address ("unknown", an
 * obfuscated name) ends the walk, and the last good entry stands. `cut`:
 * the value lost its front (http.h), so its first entry may be partial
 * and is not read. True with *client set, or false when no entry is an
 * address. */
bool pz_forwarded_client(const char *xff, bool cut,
                         const pz_cidr_list_t *trusted, pz_ip_t *client);

#endif
