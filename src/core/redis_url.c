/* Redis URLs (see redis_url.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "redis_url.h"

/* A decimal number of at most 5 digits in [lo, hi]; -1 otherwise. */
static int small_number(const char *s, size_t n, int lo, int hi) {
  if (n == 0 || n > 5)
    return -1;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v < lo || v > hi ? -1 : v;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes n bytes of in into out (cap bytes with the NUL). The
 * reason it cannot, or NULL; never quotes the input (a password, a user:
 * `user` says which). */
static const char *pct_decode(const char *in, size_t n, char *out, size_t cap,
                              bool user) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)in[i];
    if (c == '%') {
      int hi = i + 1 < n ? hex_digit(in[i + 1]) : -1;
      int lo = i + 2 < n ? hex_digit(in[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return user ? "user has a bad %-escape (write % as %25)"
                    : "password has a bad %-escape (write % as %25)";
      c = hi << 4 | lo;
      if (c == 0)
        return user ? "user holds a NUL byte (%00)"
                    : "password holds a NUL byte (%00)";
      i += 2;
    }
    if (k + 1 >= cap)
      return user ? "user too long" : "password empty or too long";
    out[k++] = (char)c;
  }
  if (k == 0 && !user)
    return "password empty or too long";
  out[k] = 0;
  return NULL;
}

int pz_redis_url_parse(const char *url, pz_redis_url_t *out, const char **why) {
  static const char scheme[] = "redis://";
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  *why = NULL;
  if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
    *why = "must start with redis://";
    return PZ_EINVAL;
  }
  const char *p = url + sizeof(scheme) - 1;
  const char *end = p + strlen(p);
  const char *slash = memchr(p, '/', (size_t)(end - p));
  const char *auth_end = NULL;
  /* The last '@' before the path ends the credentials (a password may
   * hold '@' itself). */
  for (const char *q = p; q < (slash ? slash : end); q++)
    if (*q == '@')
      auth_end = q;
  if (auth_end) {
    const char *colon = memchr(p, ':', (size_t)(auth_end - p));
    if (!colon) {
      *why = "credentials must be [user]:password@";
      return PZ_EINVAL;
    }
    *why =
        pct_decode(p, (size_t)(colon - p), out->user, sizeof(out->user), true);
    if (!*why)
      *why = pct_decode(colon + 1, (size_t)(auth_end - colon - 1),
                        out->password, sizeof(out->password), false);
    if (*why) {
      memset(out->user, 0, sizeof(out->user));
      memset(out->password, 0, sizeof(out->password));
      return PZ_EINVAL;
    }
    out->has_password = true;
    p = auth_end + 1;
  }
  const char *hend = slash ? slash : end;
  const char *hstart = p, *hstop = hend, *port = NULL;
  if (*p == '[') { /* [ipv6]:port */
    const char *rb = memchr(p, ']', (size_t)(hend - p));
    if (!rb) {
      *why = "unclosed [ in host";
      return PZ_EINVAL;
    }
    hstart = p + 1;
    hstop = rb;
    if (rb + 1 < hend) {
      if (rb[1] != ':') {
        *why = "junk after ]";
        return PZ_EINVAL;
      }
      port = rb + 2;
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(hend - p));
    if (colon) {
      hstop = colon;
      port = colon + 1;
    }
  }
  size_t hlen = (size_t)(hstop - hstart);
  if (hlen == 0 || hlen >= sizeof(out->host)) {
    *why = "host missing or too long";
    return PZ_EINVAL;
  }
  memcpy(out->host, hstart, hlen);
  if (port &&
      (out->port = small_number(port, (size_t)(hend - port), 1, 65535)) < 0) {
    *why = "port must be 1-65535";
    return PZ_EINVAL;
  }
  if (slash && slash + 1 < end &&
      (out->db = small_number(slash + 1, (size_t)(end - slash - 1), 0, 65535)) <
          0) {
    *why = "db must be a number";
    return PZ_EINVAL;
  }
  return 0;
}

const char *pz_redis_url_safe(const pz_redis_url_t *u, char *buf, size_t size) {
  snprintf(buf, size, "%s%s%s:%d/%d", strchr(u->host, ':') ? "[" : "", u->host,
           strchr(u->host, ':') ? "]" : "", u->port, u->db);
  return buf;
}
