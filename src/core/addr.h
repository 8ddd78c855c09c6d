/*
 * Client addresses: IPv4 and IPv6 addresses in binary (IPv4-mapped IPv6
 * addresses are IPv4: a dual-stack listener and an IPv4 rule must agree),
 * their text forms, and lists of CIDR prefixes (--trusted-proxies). Pure
 * data: no I/O, no allocation.
 */
#ifndef PZ_ADDR_H
#define PZ_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define PZ_ADDR_MAX 46 /* INET6_ADDRSTRLEN: the longest text form + NUL */
/* "[addr]:port": the longest pz_ip_format_peer gives, + NUL */
#define PZ_PEER_MAX (PZ_ADDR_MAX + 8)
#define PZ_CIDR_MAX 32 /* prefixes in one list */

typedef struct pz_ip {
  uint8_t family; /* 4, 6, or 0: unknown */
  uint8_t b[16];  /* IPv4: the first 4 bytes */
} pz_ip_t;

typedef struct pz_cidr {
  pz_ip_t net;
  uint8_t bits;
} pz_cidr_t;

typedef struct pz_cidr_list {
  uint32_t n;
  pz_cidr_t items[PZ_CIDR_MAX];
} pz_cidr_list_t;

/* The address and port of a socket address (AF_INET or AF_INET6; other
 * families give family 0). port may be NULL. */
void pz_ip_from_sockaddr(const struct sockaddr *sa, pz_ip_t *ip,
                         uint16_t *port);
/* The address of `family` (4 or 6) in network byte order (4 or 16 bytes
 * at b). */
void pz_ip_set(pz_ip_t *ip, int family, const uint8_t *b);
/* Parses an address literal of len bytes (not NUL-terminated): IPv4
 * dotted quad or IPv6. 0 or PZ_EINVAL. */
int pz_ip_parse(const char *s, size_t len, pz_ip_t *ip);
/* The text form ("203.0.113.7", "2001:db8::1"; "?" when unknown) into
 * out (at least PZ_ADDR_MAX bytes); returns out. */
const char *pz_ip_format(const pz_ip_t *ip, char *out, size_t size);
/* "addr:port" (IPv4) or "[addr]:port" (IPv6), the form logs use; port 0
 * means unknown and gives the address alone. */
const char *pz_ip_format_peer(const pz_ip_t *ip, uint16_t port, char *out,
                              size_t size);
bool pz_ip_equal(const pz_ip_t *a, const pz_ip_t *b);

/* Parses a comma-separated list of prefixes ("10.0.0.0/8, 127.0.0.1,
 * fd00::/8"; an address alone is the host: /32 or /128). "" and "none"
 * give an empty list. 0, or PZ_EINVAL with *why a static reason (a bad
 * address, a length out of range, bits set past the length, too many). */
int pz_cidr_list_parse(const char *spec, pz_cidr_list_t *out, const char **why);
/* True when ip falls in one of the list's prefixes. */
bool pz_cidr_list_match(const pz_cidr_list_t *list, const pz_ip_t *ip);

#endif
