/* Mailboxes between the bench's threads (see mbox.h). */
#include "mbox.h"

#include <stdio.h>
#include <stdlib.h>

int pz_bench_mbox_init(pz_bench_mbox_t *mb, uv_loop_t *loop, uv_async_cb cb,
                       void *data) {
  int r;
  mb->head = mb->tail = NULL;
  mb->n = 0;
  mb->dropped = 0;
  if ((r = uv_mutex_init(&mb->mu)) != 0)
    return r;
  if ((r = uv_async_init(loop, &mb->async, cb)) != 0) {
    uv_mutex_destroy(&mb->mu);
    return r;
  }
  mb->async.data = data;
  return 0;
}

static void on_async_closed(uv_handle_t *h) {
  pz_bench_mbox_t *mb =
      (pz_bench_mbox_t *)((char *)h - offsetof(pz_bench_mbox_t, async));
  pz_bench_msg_t *m = pz_bench_mbox_take(mb), *next;
  for (; m != NULL; m = next) {
    next = m->next;
    pz_bench_msg_free(m);
  }
  uv_mutex_destroy(&mb->mu);
}

void pz_bench_mbox_close(pz_bench_mbox_t *mb) {
  uv_close((uv_handle_t *)&mb->async, on_async_closed);
}

bool pz_bench_mbox_post(pz_bench_mbox_t *mb, pz_bench_msg_t *msg,
                        bool droppable) {
  bool wake;
  msg->next = NULL;
  uv_mutex_lock(&mb->mu);
  if (droppable && mb->n >= PZ_MBOX_CAP) {
    mb->dropped++;
    uv_mutex_unlock(&mb->mu);
    pz_bench_msg_free(msg);
    return false;
  }
  wake = mb->head == NULL;
  if (mb->tail)
    mb->tail->next = msg;
  else
    mb->head = msg;
  mb->tail = msg;
  mb->n++;
  uv_mutex_unlock(&mb->mu);
  if (wake)
    uv_async_send(&mb->async);
  return true;
}

pz_bench_msg_t *pz_bench_mbox_take(pz_bench_mbox_t *mb) {
  pz_bench_msg_t *m;
  uv_mutex_lock(&mb->mu);
  m = mb->head;
  mb->head = mb->tail = NULL;
  mb->n = 0;
  uv_mutex_unlock(&mb->mu);
  return m;
}

pz_bench_msg_t *pz_bench_msg_new(int type, uint32_t from) {
  pz_bench_msg_t *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    fprintf(stderr, "plaza-bench: out of memory (%zu bytes)\n", sizeof(*m));
    abort();
  }
  m->type = type;
  m->from = from;
  return m;
}

void pz_bench_msg_free(pz_bench_msg_t *msg) {
  if (msg == NULL)
    return;
  if (msg->type == PZ_MSG_PROGRESS)
    free(msg->u.progress.sec);
  else if (msg->type == PZ_MSG_STEP_DONE)
    free(msg->u.result);
  free(msg);
}
