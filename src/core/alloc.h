/*
 * Server allocation: out of memory is not recoverable in a server loop, so
 * these log the size and abort (one place, one message). Pure data modules
 * (codec, parsers) return errors instead and never use these.
 */
#ifndef PZ_ALLOC_H
#define PZ_ALLOC_H

#include <stddef.h>

void *pz_xmalloc(size_t size);
void *pz_xcalloc(size_t n, size_t size);
void *pz_xrealloc(void *p, size_t size);
char *pz_xstrndup(const char *s, size_t n);

#endif
