/* A byte queue in a chain of blocks (see bufchain.h). */
#include "bufchain.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void pz_bufchain_init(pz_bufchain_t *q) {
  memset(q, 0, sizeof(*q));
}

void pz_bufchain_dispose(pz_bufchain_t *q) {
  pz_bufchain_block_t *b = q->head;
  while (b) {
    pz_bufchain_block_t *next = b->next;
    free(b);
    b = next;
  }
  pz_bufchain_init(q);
}

int pz_bufchain_append(pz_bufchain_t *q, const void *p, size_t n) {
  if (!n)
    return 0;
  pz_bufchain_block_t *t = q->tail;
  size_t room = t ? t->cap - t->end : 0;
  size_t first = n < room ? n : room;
  pz_bufchain_block_t *b = NULL;
  if (n > first) { /* the rest needs a block of its own: get it first */
    size_t cap = n - first > PZ_BUFCHAIN_BLOCK ? n - first : PZ_BUFCHAIN_BLOCK;
    b = malloc(sizeof(*b) + cap);
    if (!b)
      return PZ_ENOMEM;
    b->next = NULL;
    b->start = b->end = 0;
    b->cap = cap;
  }
  if (first) {
    memcpy(t->data + t->end, p, first);
    t->end += first;
  }
  if (b) {
    memcpy(b->data, (const uint8_t *)p + first, n - first);
    b->end = n - first;
    if (t)
      t->next = b;
    else
      q->head = b;
    q->tail = b;
  }
  q->len += n;
  return 0;
}

unsigned pz_bufchain_bufs(const pz_bufchain_t *q, uv_buf_t *bufs, unsigned n) {
  unsigned k = 0;
  for (const pz_bufchain_block_t *b = q->head; b && k < n; b = b->next)
    if (b->end > b->start)
      bufs[k++] = uv_buf_init((char *)b->data + b->start,
                              (unsigned)(b->end - b->start));
  return k;
}

void pz_bufchain_consume(pz_bufchain_t *q, size_t n) {
  if (n > q->len)
    n = q->len;
  q->len -= n;
  while (q->head) {
    pz_bufchain_block_t *b = q->head;
    size_t have = b->end - b->start;
    if (n < have) {
      b->start += n;
      return;
    }
    n -= have;
    q->head = b->next;
    if (!q->head)
      q->tail = NULL;
    free(b);
  }
}
