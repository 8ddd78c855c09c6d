/* Client addresses and CIDR lists (see addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* An IPv6 address that carries an IPv4 one (::ffff:a.b.c.d) is that IPv4
 * address: so a dual-stack socket's peers match IPv4 prefixes. */
static void set_v6(pz_ip_t *ip, const uint8_t b[16]) {
  memset(ip, 0, sizeof(*ip));
  if (memcmp(b, v4_mapped, sizeof(v4_mapped)) == 0) {
    ip->family = 4;
    memcpy(ip->b, b + 12, 4);
  } else {
    ip->family = 6;
    memcpy(ip->b, b, 16);
  }
}

void pz_ip_set(pz_ip_t *ip, int family, const uint8_t *b) {
  if (family == 6) {
    set_v6(ip, b);
    return;
  }
  memset(ip, 0, sizeof(*ip));
  ip->family = 4;
  memcpy(ip->b, b, 4);
}

void pz_ip_from_sockaddr(const struct sockaddr *sa, pz_ip_t *ip,
                         uint16_t *port) {
  uint16_t p = 0;
  memset(ip, 0, sizeof(*ip));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    pz_ip_set(ip, 4, (const uint8_t *)&s4->sin_addr);
    p = ntohs(s4->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    set_v6(ip, s6->sin6_addr.s6_addr);
    p = ntohs(s6->sin6_port);
  }
  if (port)
    *port = p;
}

int pz_ip_parse(const char *s, size_t len, pz_ip_t *ip) {
  char buf[PZ_ADDR_MAX];
  if (len == 0 || len >= sizeof(buf) || memchr(s, 0, len))
    return PZ_EINVAL;
  memcpy(buf, s, len);
  buf[len] = 0;
  uint8_t b[16];
  if (inet_pton(AF_INET, buf, b) == 1) {
    pz_ip_set(ip, 4, b);
    return 0;
  }
  if (inet_pton(AF_INET6, buf, b) == 1) {
    set_v6(ip, b);
    return 0;
  }
  return PZ_EINVAL;
}

const char *pz_ip_format(const pz_ip_t *ip, char *out, size_t size) {
  int af = ip->family == 4 ? AF_INET : ip->family == 6 ? AF_INET6 : 0;
  if (!af || !inet_ntop(af, ip->b, out, (socklen_t)size))
    snprintf(out, size, "?");
  return out;
}

const char *pz_ip_format_peer(const pz_ip_t *ip, uint16_t port, char *out,
                              size_t size) {
  char a[PZ_ADDR_MAX];
  pz_ip_format(ip, a, sizeof(a));
  if (!port)
    snprintf(out, size, "%s", a);
  else if (ip->family == 6)
    snprintf(out, size, "[%s]:%u", a, port);
  else
    snprintf(out, size, "%s:%u", a, port);
  return out;
}

bool pz_ip_equal(const pz_ip_t *a, const pz_ip_t *b) {
  return a->family == b->family &&
         memcmp(a->b, b->b, a->family == 4 ? 4 : 16) == 0;
}

/* True when the first `bits` bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits) {
  unsigned whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, whole) != 0)
    return false;
  if (!rest)
    return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

static int parse_one(const char *s, size_t len, pz_cidr_t *c,
                     const char **why) {
  const char *slash = memchr(s, '/', len);
  size_t alen = slash ? (size_t)(slash - s) : len;
  if (pz_ip_parse(s, alen, &c->net) != 0) {
    *why = "not an IPv4 or IPv6 address (a.b.c.d/n or x:y::z/n)";
    return PZ_EINVAL;
  }
  unsigned max = c->net.family == 4 ? 32 : 128;
  unsigned bits = max;
  if (slash) {
    const char *d = slash + 1, *end = s + len;
    if (d == end || end - d > 3) {
      *why = "bad prefix length";
      return PZ_EINVAL;
    }
    bits = 0;
    for (; d < end; d++) {
      if (*d < '0' || *d > '9') {
        *why = "bad prefix length";
        return PZ_EINVAL;
      }
      bits = bits * 10 + (unsigned)(*d - '0');
    }
    if (bits > max) {
      *why = "prefix length past the address's size";
      return PZ_EINVAL;
    }
  }
  c->bits = (uint8_t)bits;
  /* 10.0.0.1/8 is most likely a typo for a host or for 10.0.0.0/8:
   * refuse rather than guess which. */
  pz_ip_t masked = c->net;
  for (unsigned i = bits; i < max; i++)
    masked.b[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
  if (memcmp(masked.b, c->net.b, max / 8) != 0) {
    *why = "address has bits set past the prefix length";
    return PZ_EINVAL;
  }
  return 0;
}

int pz_cidr_list_parse(const char *spec, pz_cidr_list_t *out,
                       const char **why) {
  memset(out, 0, sizeof(*out));
  if (strcmp(spec, "none") == 0)
    return 0;
  const char *p = spec;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    if (!*p)
      break;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ')
      p++;
    if (out->n == PZ_CIDR_MAX) {
      *why = "too many prefixes (at most 32)";
      return PZ_EINVAL;
    }
    if (parse_one(start, (size_t)(p - start), &out->items[out->n], why))
      return PZ_EINVAL;
    out->n++;
  }
  return 0;
}

bool pz_cidr_list_match(const pz_cidr_list_t *list, const pz_ip_t *ip) {
  for (uint32_t i = 0; i < list->n; i++) {
    const pz_cidr_t *c = &list->items[i];
    if (c->net.family == ip->family && prefix_equal(c->net.b, ip->b, c->bits))
      return true;
  }
  return false;
}
