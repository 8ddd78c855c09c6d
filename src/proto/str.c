/*
 * pz_str_t helpers: building the codec's borrowed string views from C
 * strings.
 */
#include <string.h>

#include "plaza/codec.h"

pz_str_t pz_str_c(const char *s) {
  if (s == NULL)
    return (pz_str_t){NULL, 0};
  /* Wire strings are at most 16 KiB here; a 4 GiB C string is a bug. */
  return (pz_str_t){s, (uint32_t)strlen(s)};
}
