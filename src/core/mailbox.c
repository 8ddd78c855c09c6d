/* Bounded mailbox between loops (see mailbox.h). */
#include "mailbox.h"

#include "error.h"

static void on_async(uv_async_t *async) {
  pz_mailbox_t *mb = async->data;
  pz_msg_t *batch = pz_mailbox_take(mb);
  if (batch)
    mb->cb(mb, batch);
}

int pz_mailbox_init(pz_mailbox_t *mb, uv_loop_t *loop, size_t bound,
                    pz_mailbox_cb cb, void *data) {
  int r = uv_mutex_init(&mb->lock);
  if (r)
    return r;
  r = uv_async_init(loop, &mb->async, on_async);
  if (r) {
    uv_mutex_destroy(&mb->lock);
    return r;
  }
  mb->async.data = mb;
  mb->head = mb->tail = NULL;
  mb->count = 0;
  mb->closed = false;
  mb->bound = bound;
  mb->cb = cb;
  mb->data = data;
  return 0;
}

/* Under the lock. The wake-up is sent under it too, so that it never
 * races pz_mailbox_close: a closed async handle (or the closed loop behind
 * it) must not be sent to, and libuv aborts when it is. */
static void append(pz_mailbox_t *mb, pz_msg_t *msg) {
  msg->next = NULL;
  bool wake = mb->head == NULL && !mb->closed;
  if (mb->tail)
    mb->tail->next = msg;
  else
    mb->head = msg;
  mb->tail = msg;
  mb->count++;
  if (wake)
    uv_async_send(&mb->async);
}

int pz_mailbox_post(pz_mailbox_t *mb, pz_msg_t *msg) {
  uv_mutex_lock(&mb->lock);
  if (mb->count >= mb->bound) {
    uv_mutex_unlock(&mb->lock);
    return PZ_EFULL;
  }
  append(mb, msg);
  uv_mutex_unlock(&mb->lock);
  return 0;
}

void pz_mailbox_post_force(pz_mailbox_t *mb, pz_msg_t *msg) {
  uv_mutex_lock(&mb->lock);
  append(mb, msg);
  uv_mutex_unlock(&mb->lock);
}

pz_msg_t *pz_mailbox_take(pz_mailbox_t *mb) {
  uv_mutex_lock(&mb->lock);
  pz_msg_t *batch = mb->head;
  mb->head = mb->tail = NULL;
  mb->count = 0;
  uv_mutex_unlock(&mb->lock);
  return batch;
}

void pz_mailbox_close(pz_mailbox_t *mb, uv_close_cb close_cb) {
  uv_mutex_lock(&mb->lock);
  mb->closed = true;
  uv_mutex_unlock(&mb->lock);
  uv_close((uv_handle_t *)&mb->async, close_cb);
}
