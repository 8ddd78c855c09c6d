/*
 * Browser origins: whether an Origin header's value is one the operator
 * listed (--allowed-origins). Sans-I/O; used for the WebSocket upgrade
 * (a listed or absent Origin may upgrade, others get 403) and for CORS on
 * the JSON endpoints.
 */
#ifndef PZ_ORIGIN_H
#define PZ_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

/* True when `list` is open: empty, or holding an entry "*". */
bool pz_origins_open(const char *list);
/* True when `origin` (NUL-terminated, "" when the header is absent) is
 * non-empty and allowed by the comma-separated `list`: an open list, or an
 * entry equal to it, compared case-insensitively with blanks around
 * entries and one trailing '/' ignored on both sides. */
bool pz_origin_listed(const char *list, const char *origin);

#endif
