/* Browser origins against the allowed list (see origin.h). The list is a
 * comma-separated header-like value, read with pz_http_has_token. */
#include "origin.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http.h"

bool pz_origins_open(const char *list) {
  return !list[strspn(list, " \t,")] || pz_http_has_token(list, "*");
}

bool pz_origin_listed(const char *list, const char *origin) {
  char o[256];
  size_t n = strlen(origin);
  if (n && origin[n - 1] == '/')
    n--;
  if (n == 0)
    return false;
  if (pz_origins_open(list))
    return true;
  if (n + 2 > sizeof(o))
    return false;
  memcpy(o, origin, n);
  o[n] = 0;
  if (pz_http_has_token(list, o))
    return true;
  o[n] = '/'; /* listed with a trailing slash */
  o[n + 1] = 0;
  return pz_http_has_token(list, o);
}

/* "name[:port]" or "[v6][:port]": the name (brackets kept) and the port,
 * `dflt` when absent. Returns false when malformed. */
static bool split_authority(const char *a, size_t n, const char **name,
                            size_t *name_len, unsigned *port, unsigned dflt) {
  const char *colon = NULL;
  if (n == 0)
    return false;
  if (a[0] == '[') {
    const char *close = memchr(a, ']', n);
    if (!close)
      return false;
    if ((size_t)(close - a) + 1 < n) {
      if (close[1] != ':')
        return false;
      colon = close + 1;
    }
  } else {
    colon = memchr(a, ':', n);
  }
  *name = a;
  *name_len = colon ? (size_t)(colon - a) : n;
  if (*name_len == 0)
    return false;
  for (size_t i = 0; i < *name_len; i++) {
    unsigned char ch = (unsigned char)a[i];
    if (ch <= ' ' || ch == ',' || ch == '/' || ch == '@' || ch >= 0x7f)
      return false;
  }
  if (!colon) {
    *port = dflt;
    return true;
  }
  size_t digits = n - (size_t)(colon + 1 - a);
  if (digits == 0 || digits > 5)
    return false;
  uint32_t v = 0;
  for (const char *p = colon + 1; p < a + n; p++) {
    if (*p < '0' || *p > '9')
      return false;
    v = v * 10 + (uint32_t)(*p - '0');
  }
  if (v == 0 || v > 65535)
    return false;
  *port = v;
  return true;
}

bool pz_origin_same_host(const char *origin, const char *host) {
  size_t on = strlen(origin), hn = strlen(host);
  unsigned dflt, oport, hport;
  const char *oname, *hname;
  size_t oname_len, hname_len;

  if (on >= PZ_ORIGIN_VALUE_MAX || hn >= PZ_ORIGIN_VALUE_MAX)
    return false;
  if (strncasecmp(origin, "http://", 7) == 0) {
    dflt = 80;
    origin += 7;
  } else if (strncasecmp(origin, "https://", 8) == 0) {
    dflt = 443;
    origin += 8;
  } else {
    return false; /* "null", file:, extensions: never this server's page */
  }
  on = strlen(origin);
  if (on && origin[on - 1] == '/')
    on--;
  if (!split_authority(origin, on, &oname, &oname_len, &oport, dflt) ||
      !split_authority(host, hn, &hname, &hname_len, &hport, dflt))
    return false;
  return oport == hport && oname_len == hname_len &&
         strncasecmp(oname, hname, oname_len) == 0;
}
