/*
 * WebSocket URL parsing, sans-I/O: "ws://HOST[:PORT][/PATH][?QUERY]".
 *
 * HOST is an IPv4 literal or "localhost" (taken as 127.0.0.1, no resolver:
 * the client never blocks and never needs DNS). The request target keeps
 * the path and query as written, so any server path works
 * ("/socket.io/?EIO=4&transport=websocket").
 */
#ifndef PZ_CLIENT_URL_H
#define PZ_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#define PZ_URL_HOST_MAX 15 /* "255.255.255.255" */

typedef struct pz_url {
  char host[PZ_URL_HOST_MAX + 1]; /* as written, for the Host header */
  uint16_t port;
  bool port_given;     /* PORT was written (Host header repeats it) */
  struct in_addr addr; /* network order */
  /* "/PATH?QUERY" as written (may start with '?' when the path is empty),
   * or "/": borrowed from the input. */
  const char *target;
  size_t target_len;
} pz_url_t;

/* Parses url (NUL-terminated). out->target points into url (borrowed).
 * Returns 0, PZ_CLIENT_ENOTSUP for wss:// and other known schemes we do
 * not speak, PZ_CLIENT_EURL for anything malformed: other schemes, user
 * info, a host that is neither an IPv4 literal nor localhost, a port not in
 * 1..65535, a fragment, spaces or control characters in the target. */
int pz_url_parse(const char *url, pz_url_t *out);

#endif
