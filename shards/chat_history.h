/*
 * The last PZ_CHAT_HISTORY chat messages of a room, oldest first, for ROOM
 * and resume. Entries own copies of name and text in one allocation each;
 * chat is rare next to movement, so a malloc per chat is fine.
 */
#ifndef PZ_CHAT_HISTORY_H
#define PZ_CHAT_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "plaza/codec.h"
#include "plaza/protocol.h"

typedef struct pz_chat_history {
  pz_chat_entry_t *ring[PZ_CHAT_HISTORY];
  uint32_t start, count;
} pz_chat_history_t;

void pz_chat_history_init(pz_chat_history_t *h);
void pz_chat_history_dispose(pz_chat_history_t *h);
/* Copies the entry (and its strings) in, dropping the oldest when full. */
void pz_chat_history_add(pz_chat_history_t *h, const pz_chat_entry_t *e);
/* The i-th oldest entry, i < count. */
static inline const pz_chat_entry_t *
pz_chat_history_at(const pz_chat_history_t *h, uint32_t i) {
  return h->ring[(h->start + i) % PZ_CHAT_HISTORY];
}

#endif
