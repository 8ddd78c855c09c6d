/*
 * Redis URLs: redis://[[user]:password@]host[:port][/db]. The password is
 * percent-decoded (RFC 3986 2.1: `/` is written %2F, `%` %25; `:` and `@`
 * may be written as is or as %3A and %40; a user name is ignored) and kept
 * apart so that nothing which prints the address (logs, /healthz,
 * /metrics) can print it: pz_redis_url_safe() gives "host:port/db".
 */
#ifndef PZ_REDIS_URL_H
#define PZ_REDIS_URL_H

#include <stdbool.h>

typedef struct pz_redis_url {
  char host[256];
  int port;           /* 6379 when absent */
  int db;             /* 0 when absent */
  char password[256]; /* decoded; "" when none */
  bool has_password;
} pz_redis_url_t;

/* Parses url into *out. Returns 0 or PZ_EINVAL (with *why a static
 * reason that never contains the password). Pure: no I/O. */
int pz_redis_url_parse(const char *url, pz_redis_url_t *out, const char **why);
/* "host:port/db" into buf (never the password); returns buf. */
const char *pz_redis_url_safe(const pz_redis_url_t *u, char *buf, size_t size);

#endif
