/*
 * A worker's inbox: a mutex and a list, the receiver woken with
 * uv_async_send when the list turns non-empty; it takes the whole batch and
 * handles it unlocked (h2o's multithread.c habit). A message belongs to
 * whoever receives it.
 *
 * Bound and policy: pz_mailbox_post() refuses with PZ_EFULL once `bound`
 * messages wait; the sender then sheds (e.g. a whisper answers ERROR 10).
 * Messages that carry ownership (a connection in transit, a stop) use
 * pz_mailbox_post_force(): they are bounded by the connections themselves
 * and must never be dropped.
 *
 * Closing: once the receiver has closed its mailbox, posting still queues
 * (a sender on another thread cannot know) but wakes nobody: the async
 * handle, and later the receiver's loop, are gone. Whoever frees the
 * mailbox takes what is left with pz_mailbox_take(), after every thread
 * that could post has been joined.
 */
#ifndef PZ_MAILBOX_H
#define PZ_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct pz_msg {
  struct pz_msg *next;
  int type;
} pz_msg_t;

typedef struct pz_mailbox pz_mailbox_t;
/* Runs on the receiver's loop with the batch in posting order; the
 * callback owns every message of it. */
typedef void (*pz_mailbox_cb)(pz_mailbox_t *mb, pz_msg_t *batch);

struct pz_mailbox {
  uv_mutex_t lock;
  pz_msg_t *head, *tail;
  size_t count, bound;
  uv_async_t async;
  bool closed; /* pz_mailbox_close was called: posts no longer wake */
  pz_mailbox_cb cb;
  void *data; /* the receiver's */
};

/* Initialises on the receiver's loop (call from the thread owning it, or
 * before that loop runs). Returns 0 or a libuv error. */
int pz_mailbox_init(pz_mailbox_t *mb, uv_loop_t *loop, size_t bound,
                    pz_mailbox_cb cb, void *data);
/* Any thread, also after the receiver closed the mailbox (the message then
 * waits for pz_mailbox_take). Takes ownership of msg on success; PZ_EFULL
 * leaves it with the caller. */
int pz_mailbox_post(pz_mailbox_t *mb, pz_msg_t *msg);
void pz_mailbox_post_force(pz_mailbox_t *mb, pz_msg_t *msg);
/* Receiver thread: closes the async handle. Messages still queued, and
 * any posted later, stay queued: the owner takes them with
 * pz_mailbox_take() and frees them. */
void pz_mailbox_close(pz_mailbox_t *mb, uv_close_cb close_cb);
/* Takes what is queued without the async (used at shutdown). */
pz_msg_t *pz_mailbox_take(pz_mailbox_t *mb);

#endif
