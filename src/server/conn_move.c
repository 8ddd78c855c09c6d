/*
 * A connection moving to another worker (see conn.h). The stream lets go
 * of the socket at once, whatever is unsent: unsent output stays in the
 * queue and travels with it, after the queue has made private copies of
 * the broadcast payloads it shared with this worker's other connections
 * (their reference counts are not atomic). Input already read travels too:
 * bytes not yet parsed are kept, and parsed again on arrival.
 */
#include <stdlib.h>
#include <unistd.h>

#include <utlist.h>

#include "alloc.h"
#include "conn_int.h"
#include "log.h"
#include "plaza/protocol.h"

pz_conn_held_t *pz_conn_held_get(pz_conn_t *c) {
  if (!c->held) {
    c->held = pz_xcalloc(1, sizeof(*c->held));
    c->held->fd = -1;
  }
  return c->held;
}

void pz_conn_held_free(pz_conn_held_t *held) {
  if (!held)
    return;
  pz_deferred_t *d, *tmp;
  LL_FOREACH_SAFE(held->deferred, d, tmp) free(d);
  free(held->pending_rx);
  free(held);
}

void pz_conn_held_release(pz_conn_t *c) {
  pz_conn_held_t *held = c->held;
  if (held && !held->deferred && !held->pending_rx &&
      c->state != PZ_CONN_MIGRATING) {
    free(held);
    c->held = NULL;
  }
}

static void on_detached(pz_stream_t *s, uv_os_sock_t fd) {
  pz_conn_t *c = s->data;
  c->held->fd = fd;
  pz_outq_privatize(&c->outq);
  c->held->moved(c, c->held->moved_arg);
}

void pz_conn_migrate(pz_conn_t *c, pz_conn_moved_cb moved, void *arg) {
  c->state = PZ_CONN_MIGRATING;
  c->input_paused = false; /* what waits is deferred: it goes along */
  pz_conn_held_t *held = pz_conn_held_get(c);
  held->moved = moved;
  held->moved_arg = arg;
  pz_conn_list_move(c, PZ_LIST_NONE);
  if (c->flushing) {
    DL_DELETE2(c->host->flush, c, fprev, fnext);
    c->flushing = false;
  }
  PZ_ADD(c->host->metrics->connections, -1);
  pz_stream_detach(c->stream, on_detached);
}

int pz_conn_adopt(pz_conn_host_t *h, pz_conn_t *c) {
  c->host = h;
  uv_os_sock_t fd = c->held->fd;
  c->held->fd = -1;
  int r = pz_conn_open_stream(c, fd);
  if (r) {
    /* Best effort: the client learns why (1011) rather than seeing a drop. */
    static const uint8_t close_1011[] = {0x88, 0x02,
                                         PZ_CLOSE_INTERNAL_ERROR >> 8,
                                         PZ_CLOSE_INTERNAL_ERROR & 0xff};
    pz_error("cannot open a moved connection (%s): closing it",
             pz_conn_peer(c));
    if (!c->tls) { /* TLS would need the stream that failed to open */
      ssize_t w = write(fd, close_1011, sizeof(close_1011));
      (void)w;
    }
    close(fd);
    c->session = NULL;
    pz_conn_free(c);
    return r;
  }
  c->state = PZ_CONN_WS;
  pz_conn_held_release(c); /* unless input came along */
  c->last_rx_ms = uv_now(h->loop);
  pz_conn_list_move(c, PZ_LIST_ACTIVE);
  if (!pz_outq_empty(&c->outq))
    pz_conn_schedule_flush(c);
  return 0;
}

void pz_conn_pause_input(pz_conn_t *c) {
  if (c->state != PZ_CONN_WS || c->input_paused)
    return;
  c->input_paused = true;
  pz_stream_read_stop(c->stream);
}

/* Handles what waited, in order, until a message pauses the input again
 * (a JOIN deferred behind another) or the connection closes or moves. */
void pz_conn_resume_input(pz_conn_t *c) {
  if (c->input_paused && c->state == PZ_CONN_WS) {
    c->input_paused = false;
    pz_stream_read_start(c->stream);
  }
  pz_conn_held_t *held;
  while ((held = c->held) && held->deferred && c->state == PZ_CONN_WS &&
         !c->close_pending && !c->input_paused) {
    pz_deferred_t *d = held->deferred;
    held->deferred = d->next;
    if (!held->deferred)
      held->deferred_tail = NULL;
    if (d->opcode < 0)
      pz_conn_close(c, -d->opcode, (const char *)d->data);
    else
      pz_conn_ws_message(c, d->opcode, d->data, d->len);
    free(d);
  }
  if ((held = c->held) && held->pending_rx && c->state == PZ_CONN_WS &&
      !c->input_paused) {
    uint8_t *data = held->pending_rx;
    size_t len = held->pending_rx_len;
    held->pending_rx = NULL;
    held->pending_rx_len = 0;
    pz_conn_ws_input(c, data, len);
    free(data);
  }
  pz_conn_held_release(c);
}

void pz_conn_abandon(pz_conn_t *c) {
  close(c->held->fd);
  c->session = NULL;
  pz_conn_free(c);
}
