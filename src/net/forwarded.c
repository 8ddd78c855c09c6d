/* X-Forwarded-For, read from the right (see forwarded.h). */
#include "forwarded.h"

#include <string.h>

/* One entry (spaces trimmed) to an address: bare, with a port, or an
 * IPv6 address in brackets with or without one. */
static bool entry_addr(const char *s, size_t len, pz_ip_t *ip) {
  while (len && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (len && s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close)
      return false;
    size_t after = len - (size_t)(close - s) - 1;
    if (after && close[1] != ':')
      return false;
    return pz_ip_parse(s + 1, (size_t)(close - s) - 1, ip) == 0;
  }
  const char *colon = memchr(s, ':', len);
  /* One colon: IPv4 with a port; more: an IPv6 address. */
  if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
    len = (size_t)(colon - s);
  return pz_ip_parse(s, len, ip) == 0;
}

bool pz_forwarded_client(const char *xff, bool cut,
                         const pz_cidr_list_t *trusted, pz_ip_t *client) {
  size_t end = strlen(xff);
  bool found = false;
  while (end > 0) {
    size_t start = end;
    while (start > 0 && xff[start - 1] != ',')
      start--;
    if (start == 0 && cut)
      break; /* a partial entry */
    pz_ip_t ip;
    if (!entry_addr(xff + start, end - start, &ip))
      break;
    *client = ip;
    found = true;
    if (!pz_cidr_list_match(trusted, &ip))
      break;
    end = start ? start - 1 : 0;
  }
  return found;
}
