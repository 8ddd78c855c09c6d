/* Aborting allocators for server code (see alloc.h). */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static void oom(size_t size) {
  pz_error("out of memory allocating %zu bytes", size);
  abort();
}

void *pz_xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *pz_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *pz_xrealloc(void *p, size_t size) {
  void *q = realloc(p, size ? size : 1);
  if (!q)
    oom(size);
  return q;
}

char *pz_xstrndup(const char *s, size_t n) {
  char *p = pz_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}
