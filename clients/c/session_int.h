/*
 * What the session's two files share (session.c: connections, resume and
 * the room; session_outbox.c: what the user sends, sent now or queued
 * while away). Private to the library.
 */
#ifndef PZ_CLIENT_SESSION_INT_H
#define PZ_CLIENT_SESSION_INT_H

#include "backoff.h"
#include "client_int.h"
#include "member_state.h"

/* A message sent while away: CHAT and WHISPER (`a` the text), SET (`b`
 * the patch), SIGNAL (`a` the kind, `b` the data), ROOM_SET (`a` the key,
 * `b` the value). */
typedef struct qmsg {
  struct qmsg *next;
  int op;
  bool to_room;        /* SIGNAL */
  bool has_if_version; /* ROOM_SET */
  bool in_hello;       /* SET: applied to the state a HELLO carried */
  uint64_t to;         /* WHISPER, SIGNAL; ROOM_SET: if_version */
  uint32_t alen, blen;
  char data[]; /* a, then b */
} qmsg_t;

struct pz_client_session {
  pz_client_ctx_t *ctx;
  const pz_client_session_cbs_t *cbs;
  void *data;
  char *url;
  pz_client_opts_t conn; /* strings point at the copies below */
  char *ca_file, *bind_addr, *subprotocol;
  char *token, *name;
  bool reconnect;
  pz_backoff_t backoff;
  uint32_t queue_max, wait_ms;

  pz_client_t *c; /* the connection, or NULL while away */
  uv_timer_t timer;
  int deadline; /* enum deadline */
  msgpack_zone zone;
  int status;
  unsigned attempt; /* attempts since the last WELCOME */

  uint64_t id;
  uint32_t features;   /* WELCOME's, enum pz_feature bits */
  pz_mstate_t state;   /* the member state wanted */
  bool state_doubt;    /* a patch was refused: the next ROOM's state rules */
  bool hello_no_state; /* a reconnect's HELLO was refused for its state */
  char *session;       /* the resume token, NUL-terminated */
  uint32_t session_len;
  uint64_t last_chat_seq;
  char *room;      /* where the server has us */
  char *desired;   /* where the user wants to be */
  char *join_sent; /* a JOIN not answered yet */
  bool welcomed;   /* WELCOME on this connection */
  bool welcomed_once;
  bool gated; /* the room is not back yet: hold what the user sends */
  bool ending, refused;

  uint64_t move_seq;
  bool move_pending;
  pz_pos_t move_pos;
  uint64_t move_pending_seq;
  qmsg_t *queue, **queue_tail;
  uint32_t queued;

  /* VIEW (protocol 1.1): asked for again after every WELCOME; STATE_C is
   * decoded against the short ids of this table, reset at each ROOM. */
  bool has_view, view_compact;
  double view_radius;
  pz_compact_t compact;
};

/* Connected, welcomed, the room as asked and not ending: what the user
 * sends goes out now. */
bool pz_session_can_send(const pz_client_session_t *s);

/* The outbox (session_outbox.c). Sends the queue in order while
 * connected; drops the queued SETs (all, or those a HELLO's state
 * carried); frees the queue. */
void pz_session_outbox_send(pz_client_session_t *s);
void pz_session_outbox_drop_sets(pz_client_session_t *s, bool only_in_hello);
void pz_session_outbox_free(pz_client_session_t *s);

#endif
