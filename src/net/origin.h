/*
 * Browser origins: whether an Origin header's value is one the operator
 * listed (--allowed-origins), or the server's own. Sans-I/O; used for the
 * WebSocket upgrade (a listed, own or absent Origin may upgrade, others get
 * 403) and for CORS on the JSON endpoints (listed origins only: a page of
 * the server's own reads them without CORS).
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

/* True when `origin` names the host and port the request was sent to
 * (`host`, the request's Host header): the page was served by this server
 * (its demo page at /), or by whatever answers for the same name and port
 * in front of it. Host names compare case-insensitively; a missing port is
 * the origin scheme's default (http 80, https 443) on both sides, so
 * "https://play.example" and Host "play.example" match behind a TLS
 * proxy. False when either is empty, malformed, a list (a repeated
 * header), or PZ_ORIGIN_VALUE_MAX bytes or longer (it may have been cut). */
#define PZ_ORIGIN_VALUE_MAX 159
bool pz_origin_same_host(const char *origin, const char *host);

#endif
