/*
 * Redis URLs: redis://[[user]:password@]host[:port][/db]. The user and
 * password are percent-decoded (RFC 3986 2.1: `/` is written %2F, `%` %25;
 * in the password `:` and `@` may be written as is or as %3A and %40, in
 * the user `:` must be %3A) and kept apart so that nothing which prints the
 * address (logs, /healthz, /metrics) can print them: pz_redis_url_safe()
 * gives "host:port/db". A user name means Redis 6's ACL: AUTH user
 * password; without one, AUTH password (the `default` user).
 */
#ifndef PZ_REDIS_URL_H
#define PZ_REDIS_URL_H

#include <stdbool.h>

typedef struct pz_redis_url {
  char host[256];
  int port;           /* 6379 when absent */
  int db;             /* 0 when absent */
  char user[128];     /* decoded; "" when none */
  char password[256]; /* decoded; "" when none */
  bool has_password;
} pz_redis_url_t;

/* Parses url into *out. Returns 0 or PZ_EINVAL (with *why a static
 * reason that never contains the password). Pure: no I/O. */
int pz_redis_url_parse(const char *url, pz_redis_url_t *out, const char **why);
/* "host:port/db" into buf (never the password); returns buf. */
const char *pz_redis_url_safe(const pz_redis_url_t *u, char *buf, size_t size);

#endif
