/* Ring of recent chat (see chat_history.h). */
#include "chat_history.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

void pz_chat_history_init(pz_chat_history_t *h) {
  memset(h, 0, sizeof(*h));
}

void pz_chat_history_dispose(pz_chat_history_t *h) {
  for (uint32_t i = 0; i < h->count; i++)
    free(h->ring[(h->start + i) % PZ_CHAT_HISTORY]);
  h->count = 0;
}

void pz_chat_history_add(pz_chat_history_t *h, const pz_chat_entry_t *e) {
  /* One block: the entry, then name, then text. */
  pz_chat_entry_t *c = pz_xmalloc(sizeof(*c) + e->name.len + e->text.len + 2);
  char *name = (char *)(c + 1);
  char *text = name + e->name.len + 1;
  memcpy(name, e->name.ptr, e->name.len);
  name[e->name.len] = 0;
  memcpy(text, e->text.ptr, e->text.len);
  text[e->text.len] = 0;
  *c = *e;
  c->name = (pz_str_t){name, e->name.len};
  c->text = (pz_str_t){text, e->text.len};
  if (h->count == PZ_CHAT_HISTORY) {
    free(h->ring[h->start]);
    h->ring[h->start] = c;
    h->start = (h->start + 1) % PZ_CHAT_HISTORY;
  } else {
    h->ring[(h->start + h->count) % PZ_CHAT_HISTORY] = c;
    h->count++;
  }
}
