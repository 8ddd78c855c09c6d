/*
 * A byte queue in a chain of blocks, for output a transport holds while
 * its socket is full (the TLS stream's ciphertext). Appending copies only
 * the new bytes, into the tail block or a new one; consuming advances
 * through the head block and frees it once read. Nothing already queued
 * is ever moved, so a queue that keeps growing while nobody drains it
 * costs one copy per byte, not a realloc and memmove of everything held
 * per append. An empty chain holds no memory.
 *
 * Pure data: no I/O, no threads of its own; errors are PZ_E* codes.
 */
#ifndef PZ_BUFCHAIN_H
#define PZ_BUFCHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Bytes of a block unless one append needs more at once. */
#define PZ_BUFCHAIN_BLOCK (16 * 1024)

typedef struct pz_bufchain_block {
  struct pz_bufchain_block *next;
  size_t start, end, cap; /* unread bytes are data[start, end) */
  uint8_t data[];
} pz_bufchain_block_t;

typedef struct pz_bufchain {
  pz_bufchain_block_t *head, *tail;
  size_t len; /* unread bytes in all blocks */
} pz_bufchain_t;

void pz_bufchain_init(pz_bufchain_t *q);
/* Frees every block; the chain is empty (and usable) afterwards. */
void pz_bufchain_dispose(pz_bufchain_t *q);
/* Appends n bytes of p (copied). 0, or PZ_ENOMEM and nothing appended. */
int pz_bufchain_append(pz_bufchain_t *q, const void *p, size_t n);
/* Fills at most n buffers with the unread bytes from the head, in order;
 * returns how many. They point into the chain: valid until it changes. */
unsigned pz_bufchain_bufs(const pz_bufchain_t *q, uv_buf_t *bufs, unsigned n);
/* Removes n (at most len) bytes from the head, freeing emptied blocks. */
void pz_bufchain_consume(pz_bufchain_t *q, size_t n);

#endif
