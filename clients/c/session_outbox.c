/*
 * A session's outbox: what the user sends through a pz_client_session_t
 * (CHAT, WHISPER, and protocol 1.1's SET, SIGNAL, ROOM_SET) goes out now
 * when the session is in step, else waits in a queue, in order, until the
 * room is as asked again (session.c decides when: pz_session_outbox_send).
 * A send the connection refuses means it is going away: its on_close
 * follows and decides what comes next, so the results are not kept.
 */
#include <stdlib.h>
#include <string.h>

#include "plaza/protocol.h"
#include "session_int.h"

static void send_queued(pz_client_session_t *s, const qmsg_t *q) {
  pz_str_t a = {q->data, q->alen};
  pz_raw_t b = {q->blen ? q->data + q->alen : NULL, q->blen};
  switch (q->op) {
  case PZ_C_CHAT:
    (void)pz_client_send_chat(s->c, a);
    break;
  case PZ_C_WHISPER:
    (void)pz_client_send_whisper(s->c, q->to, a);
    break;
  case PZ_C_SET:
    (void)pz_client_send_set(s->c, b);
    break;
  case PZ_C_SIGNAL:
    (void)pz_client_send_signal(s->c, q->to_room, q->to, a, b);
    break;
  case PZ_C_ROOM_SET:
    (void)pz_client_send_room_set(s->c, a, b, q->has_if_version, q->to);
    break;
  default:
    break;
  }
}

void pz_session_outbox_send(pz_client_session_t *s) {
  while (s->queue != NULL && s->c != NULL) {
    qmsg_t *q = s->queue;
    s->queue = q->next;
    s->queued--;
    send_queued(s, q);
    free(q);
  }
  if (s->queue == NULL)
    s->queue_tail = &s->queue;
}

/* Drops the queued SETs (all, or those a HELLO's state carried). */
void pz_session_outbox_drop_sets(pz_client_session_t *s, bool only_in_hello) {
  qmsg_t **pp = &s->queue;
  while (*pp != NULL) {
    qmsg_t *q = *pp;
    if (q->op == PZ_C_SET && (q->in_hello || !only_in_hello)) {
      *pp = q->next;
      s->queued--;
      free(q);
    } else {
      pp = &q->next;
    }
  }
  s->queue_tail = pp;
}

void pz_session_outbox_free(pz_client_session_t *s) {
  while (s->queue != NULL) {
    qmsg_t *q = s->queue;
    s->queue = q->next;
    free(q);
  }
  s->queue_tail = &s->queue;
  s->queued = 0;
}

/* Sends `q` now when the room is as asked, else queues it (a copy of
 * it, a and b). The caller checked the arguments. */
static int send_or_queue(pz_client_session_t *s, const qmsg_t *m, pz_str_t a,
                         pz_raw_t b) {
  qmsg_t *q;
  if (s->queued >= s->queue_max && !pz_session_can_send(s))
    return PZ_CLIENT_EFULL;
  if ((q = malloc(sizeof(*q) + a.len + b.len)) == NULL)
    return PZ_CLIENT_ENOMEM;
  *q = *m;
  q->next = NULL;
  q->alen = a.len;
  q->blen = b.ptr != NULL ? b.len : 0;
  if (q->alen > 0)
    memcpy(q->data, a.ptr, q->alen);
  if (q->blen > 0)
    memcpy(q->data + q->alen, b.ptr, q->blen);
  if (pz_session_can_send(s)) {
    send_queued(s, q);
    free(q);
    return 0;
  }
  *s->queue_tail = q;
  s->queue_tail = &q->next;
  s->queued++;
  return 0;
}

static bool utf8_sized(pz_str_t v, uint32_t max) {
  return v.ptr != NULL && v.len >= 1 && v.len <= max &&
         pz_utf8_valid(v.ptr, v.len);
}

static int send_text(pz_client_session_t *s, int op, uint64_t to,
                     pz_str_t text) {
  qmsg_t m = {.op = op, .to = to};
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (text.len > PZ_CHAT_TEXT_MAX)
    return PZ_CLIENT_EINVAL;
  return send_or_queue(s, &m, text, (pz_raw_t){NULL, 0});
}

int pz_client_session_chat(pz_client_session_t *s, pz_str_t text) {
  return send_text(s, PZ_C_CHAT, 0, text);
}

int pz_client_session_whisper(pz_client_session_t *s, uint64_t to,
                              pz_str_t text) {
  return send_text(s, PZ_C_WHISPER, to, text);
}

int pz_client_session_set_state(pz_client_session_t *s, pz_raw_t patch) {
  qmsg_t m = {.op = PZ_C_SET};
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  int r;

  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (patch.ptr == NULL || !pz_map_iter_init(&it, patch))
    return PZ_CLIENT_EINVAL;
  while (pz_map_next(&it, &k, &v))
    if (!utf8_sized(k, PZ_STATE_KEY_MAX))
      return PZ_CLIENT_EINVAL;
  if (it.bad || it.left != 0)
    return PZ_CLIENT_EINVAL; /* a key not a string, or bytes past the map */
  if (s->queued >= s->queue_max && !pz_session_can_send(s))
    return PZ_CLIENT_EFULL;
  if ((r = pz_mstate_apply(&s->state, patch)) != 0)
    return r; /* the state is as it was */
  return send_or_queue(s, &m, (pz_str_t){NULL, 0}, patch);
}

int pz_client_session_signal(pz_client_session_t *s, bool to_room, uint64_t to,
                             pz_str_t kind, pz_raw_t data) {
  qmsg_t m = {.op = PZ_C_SIGNAL, .to_room = to_room, .to = to};
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (!utf8_sized(kind, PZ_SIGNAL_KIND_MAX))
    return PZ_CLIENT_EINVAL;
  return send_or_queue(s, &m, kind, data);
}

int pz_client_session_room_set(pz_client_session_t *s, pz_str_t key,
                               pz_raw_t value, bool has_if_version,
                               uint64_t if_version) {
  qmsg_t m = {
      .op = PZ_C_ROOM_SET, .has_if_version = has_if_version, .to = if_version};
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (!utf8_sized(key, PZ_ROOM_KEY_MAX))
    return PZ_CLIENT_EINVAL;
  return send_or_queue(s, &m, key, value);
}
