/* WebSocket URL parsing (see url.h). */
#include "url.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "plaza/client.h"

static bool starts_with_ci(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int parse_port(const char *p, size_t n, uint16_t *out) {
  uint32_t v = 0;
  if (n == 0 || n > 5)
    return PZ_CLIENT_EURL;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return PZ_CLIENT_EURL;
    v = v * 10 + (uint32_t)(p[i] - '0');
  }
  if (v == 0 || v > 65535)
    return PZ_CLIENT_EURL;
  *out = (uint16_t)v;
  return 0;
}

/* Strict dotted quad: four decimal parts 0-255 without leading zeros
 * (inet_pton already refuses the octal and short forms inet_aton takes). */
static int parse_host(const char *p, size_t n, pz_url_t *out) {
  if (n == 0 || n > PZ_URL_HOST_MAX)
    return PZ_CLIENT_EURL;
  memcpy(out->host, p, n);
  out->host[n] = '\0';
  if (strcasecmp(out->host, "localhost") == 0) {
    out->addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
  }
  if (inet_pton(AF_INET, out->host, &out->addr) != 1)
    return PZ_CLIENT_EURL;
  return 0;
}

int pz_url_parse(const char *url, pz_url_t *out) {
  const char *p, *host, *end;
  size_t authority_len;
  int err;

  memset(out, 0, sizeof(*out));
  if (url == NULL)
    return PZ_CLIENT_EURL;
  if (starts_with_ci(url, "wss://") || starts_with_ci(url, "https://"))
    return PZ_CLIENT_ENOTSUP;
  if (!starts_with_ci(url, "ws://"))
    return PZ_CLIENT_EURL;
  host = url + 5;

  /* The authority ends at the first '/', '?' or the end. */
  authority_len = strcspn(host, "/?#");
  if (memchr(host, '@', authority_len) != NULL)
    return PZ_CLIENT_EURL;
  end = host + authority_len;
  p = memchr(host, ':', authority_len);
  if (p != NULL) {
    if ((err = parse_port(p + 1, (size_t)(end - p - 1), &out->port)) != 0)
      return err;
    out->port_given = true;
  } else {
    out->port = 80;
    p = end;
  }
  if ((err = parse_host(host, (size_t)(p - host), out)) != 0)
    return err;

  /* Request target: as written, "/" when empty. A target starting with
   * '?' is kept so; the request builder writes the root path before it. */
  if (*end == '#')
    return PZ_CLIENT_EURL;
  for (const char *q = end; *q != '\0'; q++) {
    unsigned char ch = (unsigned char)*q;
    if (ch <= 0x20 || ch == 0x7f || ch == '#')
      return PZ_CLIENT_EURL;
  }
  if (*end == '\0') {
    out->target = "/";
    out->target_len = 1;
  } else {
    out->target = end;
    out->target_len = strlen(end);
  }
  return 0;
}
