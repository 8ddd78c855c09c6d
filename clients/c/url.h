/*
 * WebSocket URL parsing, sans-I/O:
 * "ws[s]://HOST[:PORT][/PATH][?QUERY]".
 *
 * HOST is an IPv4 literal, an IPv6 literal in brackets, "localhost" (taken
 * as 127.0.0.1 without asking a resolver) or a DNS name, resolved when the
 * client connects. PORT defaults to 80 for ws:// and 443 for wss://. The
 * request target keeps the path and query as written, so any server path
 * works ("/socket.io/?EIO=4&transport=websocket").
 */
#ifndef PZ_CLIENT_URL_H
#define PZ_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#define PZ_URL_NAME_MAX 253 /* longest DNS name */

typedef struct pz_url {
  /* As written, for the Host header: brackets kept around IPv6. */
  char host[PZ_URL_NAME_MAX + 3];
  /* The host to resolve, to name in TLS SNI and to verify the server's
   * certificate against: without brackets, lower case. */
  char name[PZ_URL_NAME_MAX + 1];
  uint16_t port;
  bool port_given; /* PORT was written (Host header repeats it) */
  bool tls;        /* wss:// */
  /* The address is known without DNS: an IP literal or localhost. `family`
   * (AF_INET, AF_INET6) says which of addr / addr6 holds it; network
   * order. Otherwise family is AF_UNSPEC and `name` must be resolved. */
  bool ip_literal; /* HOST is an IP literal: no SNI, the IP is verified */
  int family;
  struct in_addr addr;
  struct in6_addr addr6;
  /* "/PATH?QUERY" as written (may start with '?' when the path is empty),
   * or "/": borrowed from the input. */
  const char *target;
  size_t target_len;
} pz_url_t;

/* Parses url (NUL-terminated). out->target points into url (borrowed).
 * Returns 0, or PZ_CLIENT_EURL for anything malformed: another scheme,
 * user info, a host that is no IP literal, localhost or DNS name (letters,
 * digits, '-', '_', labels of 1-63 separated by '.'), an IPv6 zone, a port
 * not in 1..65535, a fragment, spaces or control characters in the
 * target. */
int pz_url_parse(const char *url, pz_url_t *out);

#endif
