/* Browser origins against the allowed list (see origin.h). */
#include "origin.h"

#include <string.h>
#include <strings.h>

static size_t trim_slash(const char *s, size_t n) {
  return n && s[n - 1] == '/' ? n - 1 : n;
}

/* True when an entry of the list is "*", or (unless star_only) origin. */
static bool any_entry(const char *list, const char *origin, size_t olen,
                      bool star_only) {
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',')
      p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    size_t n = (size_t)(end - start);
    if (n == 1 && *start == '*')
      return true;
    if (!star_only && n) {
      n = trim_slash(start, n);
      if (n == olen && strncasecmp(start, origin, n) == 0)
        return true;
    }
  }
  return false;
}

bool pz_origins_open(const char *list) {
  return !list[strspn(list, " \t,")] || any_entry(list, "", 0, true);
}

bool pz_origin_listed(const char *list, const char *origin) {
  size_t olen = trim_slash(origin, strlen(origin));
  if (!olen)
    return false;
  return pz_origins_open(list) || any_entry(list, origin, olen, false);
}
