/* Browser origins against the allowed list (see origin.h). The list is a
 * comma-separated header-like value, read with pz_http_has_token. */
#include "origin.h"

#include <string.h>

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
