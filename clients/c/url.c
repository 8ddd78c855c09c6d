/* WebSocket URL parsing (see url.h). */
#include "url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

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

/* A DNS name: labels of 1-63 letters, digits, '-' and '_' (the last for
 * internal names some networks use), joined by '.', one trailing '.'
 * allowed. Numeric-looking names that inet_pton refused (1.2.3, 01.2.3.4)
 * are not names: a typo of an address must not go to the resolver, which
 * would take the short and octal forms. */
static bool dns_name_ok(const char *s, size_t n) {
  size_t label = 0;
  bool alpha = false;
  if (n > 0 && s[n - 1] == '.')
    n--;
  if (n == 0 || n > PZ_URL_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '.') {
      if (label == 0 || s[i - 1] == '-')
        return false;
      label = 0;
      continue;
    }
    if (!isalnum(ch) && ch != '-' && ch != '_')
      return false;
    if ((ch == '-' && label == 0) || ++label > 63)
      return false;
    if (!isdigit(ch))
      alpha = true;
  }
  return label > 0 && s[n - 1] != '-' && alpha;
}

/* Fills host, name, ip_literal, family and the address from the HOST part
 * of the authority (p, n bytes). */
static int parse_host(const char *p, size_t n, pz_url_t *out) {
  if (n == 0 || n > PZ_URL_NAME_MAX + 2)
    return PZ_CLIENT_EURL;
  memcpy(out->host, p, n);
  out->host[n] = '\0';
  if (p[0] == '[') { /* IPv6 literal */
    if (n < 3 || p[n - 1] != ']' || n - 2 > INET6_ADDRSTRLEN)
      return PZ_CLIENT_EURL;
    memcpy(out->name, p + 1, n - 2);
    out->name[n - 2] = '\0';
    if (inet_pton(AF_INET6, out->name, &out->addr6) != 1)
      return PZ_CLIENT_EURL; /* a zone ("%eth0") included */
    out->family = AF_INET6;
    out->ip_literal = true;
    return 0;
  }
  if (n > PZ_URL_NAME_MAX)
    return PZ_CLIENT_EURL;
  for (size_t i = 0; i < n; i++)
    out->name[i] = (char)tolower((unsigned char)p[i]);
  out->name[n] = '\0';
  if (strcmp(out->name, "localhost") == 0) {
    out->addr.s_addr = htonl(INADDR_LOOPBACK);
    out->family = AF_INET;
    return 0;
  }
  /* Strict dotted quad: inet_pton refuses the octal and short forms that
   * inet_aton takes. */
  if (inet_pton(AF_INET, out->name, &out->addr) == 1) {
    out->family = AF_INET;
    out->ip_literal = true;
    return 0;
  }
  if (!dns_name_ok(out->name, n))
    return PZ_CLIENT_EURL;
  if (out->name[n - 1] == '.') /* rooted: the same name for SNI */
    out->name[n - 1] = '\0';
  out->family = AF_UNSPEC;
  return 0;
}

int pz_url_parse(const char *url, pz_url_t *out) {
  const char *p, *host, *end;
  size_t authority_len;
  int err;

  memset(out, 0, sizeof(*out));
  if (url == NULL)
    return PZ_CLIENT_EURL;
  if (starts_with_ci(url, "wss://")) {
    out->tls = true;
    host = url + 6;
  } else if (starts_with_ci(url, "ws://")) {
    host = url + 5;
  } else {
    return PZ_CLIENT_EURL;
  }

  /* The authority ends at the first '/', '?' or the end. */
  authority_len = strcspn(host, "/?#");
  if (memchr(host, '@', authority_len) != NULL)
    return PZ_CLIENT_EURL;
  end = host + authority_len;
  /* The port's colon: after the closing bracket of an IPv6 literal. */
  p = host;
  if (authority_len > 0 && host[0] == '[') {
    p = memchr(host, ']', authority_len);
    if (p == NULL)
      return PZ_CLIENT_EURL;
  }
  p = memchr(p, ':', (size_t)(end - p));
  if (p != NULL) {
    if ((err = parse_port(p + 1, (size_t)(end - p - 1), &out->port)) != 0)
      return err;
    out->port_given = true;
  } else {
    out->port = out->tls ? 443 : 80;
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
