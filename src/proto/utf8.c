/*
 * Strict UTF-8 validation (Unicode 15, table 3-7): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated or
 * stray continuation bytes. Names and chat text are checked once on entry
 * and then forwarded as is, so a browser never sees invalid text. ASCII,
 * the common case, is skipped eight bytes at a time.
 */
#include <string.h>

#include "plaza/codec.h"

bool pz_utf8_valid(const char *s, size_t len) {
  if (len == 0) /* s may be the NULL of an absent pz_str_t */
    return true;
  const unsigned char *p = (const unsigned char *)s;
  const unsigned char *end = p + len;

  while (p < end) {
    if (*p < 0x80) {
      while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        if (w & 0x8080808080808080ull)
          break;
        p += 8;
      }
      while (p < end && *p < 0x80)
        p++;
      continue;
    }
    /* The lead byte fixes the length and the range of the first
     * continuation byte; that range is what excludes overlongs (E0, F0),
     * surrogates (ED) and code points past U+10FFFF (F4). */
    unsigned c = *p, lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    } else {
      return false; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if ((size_t)(end - p) <= n)
      return false;
    if (p[1] < lo || p[1] > hi)
      return false;
    for (size_t i = 2; i <= n; i++)
      if ((p[i] & 0xc0) != 0x80)
        return false;
    p += n + 1;
  }
  return true;
}
