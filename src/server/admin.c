/* The admin API (see admin.h). */
#include "admin.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "clock.h"
#include "bus.h"
#include "log.h"
#include "plaza/json.h"
#include "remote.h"
#include "routing.h"

#define SERVER_NAME "server" /* the name of the server's CHAT messages */
/* A request whose parts have not all come by then is answered 504: a
 * node that held the session went away before it answered a kick. */
#define ADMIN_TIMEOUT_MS 5000

enum admin_kind {
  ADMIN_BROADCAST,
  ADMIN_KICK,
  ADMIN_SESSIONS,
  ADMIN_ROOM_STATE,
  ADMIN_SIGNAL
};

/* A request waiting for its parts, on the worker that received it. */
typedef struct pz_admin_req {
  struct pz_admin_req *next;
  uint64_t id;
  uint64_t deadline_ms;
  pz_conn_t *conn; /* NULL once the client is gone */
  int kind;
  int pending; /* parts still to come */
  int status;  /* kick */
  uint32_t rooms;
  bool one_room;
  json_t *sessions;
  json_t *doc; /* room state: the room worker's answer */
} pz_admin_req_t;

/* Worker to worker: a server CHAT for the rooms of one worker. */
typedef struct pz_msg_admin_cast {
  pz_msg_t hdr;
  int reply_worker;
  uint64_t reply_req;
  uint64_t ts_ms;
  uint8_t room_len; /* 0: every room */
  char room[PZ_ROOM_NAME_MAX + 1];
  uint32_t text_len;
  char text[];
} pz_msg_admin_cast_t;

/* Worker to worker: report your sessions (of one room, or all). */
typedef struct pz_msg_admin_list {
  pz_msg_t hdr;
  int reply_worker;
  uint64_t reply_req;
  uint8_t room_len; /* 0: every session */
  char room[PZ_ROOM_NAME_MAX + 1];
} pz_msg_admin_list_t;

/* Worker to worker: the state of a room (GET), or a SIGNAL from the
 * server to its members (signal true). */
typedef struct pz_msg_admin_room {
  pz_msg_t hdr;
  int reply_worker;
  uint64_t reply_req;
  uint8_t room_len;
  char room[PZ_ROOM_NAME_MAX + 1];
  bool signal;
  uint64_t ts_ms;
  uint8_t kind_len;
  uint32_t data_len;
  char bytes[]; /* signal: the kind, then the data's MessagePack bytes */
} pz_msg_admin_room_t;

/* A part of an answer (one allocation: the JSON text is inside). */
typedef struct pz_msg_admin_reply {
  pz_msg_t hdr;
  uint64_t req;
  int status;
  uint32_t count;
  size_t json_len;
  char json[]; /* a JSON array of sessions, or "" */
} pz_msg_admin_reply_t;

/* ---- answering ----------------------------------------------------------- */

/* Answers with `doc` (taken) as compact JSON. */
static void answer_json(pz_conn_t *c, int status, const char *extra,
                        json_t *doc) {
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  size_t len = body ? strlen(body) : 0;
  char *text = pz_xmalloc(len + 2);
  memcpy(text, body ? body : "", len);
  text[len++] = '\n';
  free(body);
  pz_conn_http_answer(c, status, "application/json", extra, text, len);
  free(text);
}

static void answer_error(pz_conn_t *c, int status, const char *extra,
                         const char *message) {
  answer_json(c, status, extra, json_pack("{ss}", "error", message));
}

/* This module's state, per worker: the requests awaiting their parts. */
struct pz_admin {
  pz_admin_req_t *reqs;
  uint64_t next_req;
};

/* Between workers: a part of an answer, a server chat for your rooms, your
 * sessions, a room's state or a SIGNAL to a room. */
static void on_reply(void *receiver, pz_msg_t *msg);
static void on_cast(void *receiver, pz_msg_t *msg);
static void on_list(void *receiver, pz_msg_t *msg);
static void on_room(void *receiver, pz_msg_t *msg);
static const pz_msg_kind_t reply_kind = {on_reply, NULL};
static const pz_msg_kind_t cast_kind = {on_cast, NULL};
static const pz_msg_kind_t list_kind = {on_list, NULL};
static const pz_msg_kind_t room_kind = {on_room, NULL};

/* ---- requests waiting for parts ------------------------------------------ */

static pz_admin_req_t *req_new(pz_worker_t *w, pz_conn_t *c, int kind,
                               int pending) {
  pz_admin_req_t *r = pz_xcalloc(1, sizeof(*r));
  r->id = ++w->admin->next_req;
  r->conn = c;
  r->kind = kind;
  r->pending = pending;
  r->deadline_ms = pz_worker_now(w) + ADMIN_TIMEOUT_MS;
  r->next = w->admin->reqs;
  w->admin->reqs = r;
  return r;
}

static void req_free(pz_worker_t *w, pz_admin_req_t *r) {
  pz_admin_req_t **p = &w->admin->reqs;
  while (*p != r)
    p = &(*p)->next;
  *p = r->next;
  json_decref(r->sessions);
  json_decref(r->doc);
  free(r);
}

static void req_finish(pz_worker_t *w, pz_admin_req_t *r) {
  pz_conn_t *c = r->conn;
  if (c) {
    switch (r->kind) {
    case ADMIN_KICK:
      if (r->status == 200)
        answer_json(c, 200, NULL, json_pack("{sb}", "kicked", 1));
      else
        answer_error(c, r->status, NULL,
                     r->status == 404 ? "no session with that id"
                                      : "server busy, try again");
      break;
    case ADMIN_BROADCAST:
      if (r->status == 503)
        answer_error(c, 503, NULL, "the cluster cannot be reached (Redis)");
      else if (r->one_room && r->rooms == 0)
        answer_error(c, 404, NULL, "no such room");
      else
        answer_json(c, 200, NULL, json_pack("{si}", "rooms", r->rooms));
      break;
    case ADMIN_SESSIONS:
      answer_json(c, 200, NULL,
                  json_pack("{sO}", "sessions",
                            r->sessions ? r->sessions : json_array()));
      break;
    case ADMIN_ROOM_STATE:
      if (r->status == 200 && r->doc)
        answer_json(c, 200, NULL, json_incref(r->doc));
      else
        answer_error(c, 404, NULL, "no such room");
      break;
    case ADMIN_SIGNAL:
      if (r->status == 200)
        answer_json(
            c, 200, NULL,
            json_pack("{si}", "delivered", r->one_room ? (int)r->rooms : 1));
      else if (r->status == 404)
        answer_error(c, 404, NULL,
                     r->one_room ? "no such room" : "no session with that id");
      else
        answer_error(c, r->status, NULL, "server busy, try again");
      break;
    }
  }
  req_free(w, r);
}

void pz_admin_from_bus(void *worker, uint64_t req, int status, uint32_t count,
                       const char *json) {
  pz_worker_t *w = worker;
  pz_admin_reply(w, w->index, req, status, count, json);
}

void pz_admin_reply(pz_worker_t *w, int worker, uint64_t req, int status,
                    uint32_t count, const char *json) {
  size_t len = json ? strlen(json) : 0;
  pz_msg_admin_reply_t *m = pz_xcalloc(1, sizeof(*m) + len + 1);
  m->hdr.kind = &reply_kind;
  m->req = req;
  m->status = status;
  m->count = count;
  m->json_len = len;
  if (len)
    memcpy(m->json, json, len);
  pz_worker_post(w->srv->workers[worker], &m->hdr);
}

static void on_reply(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_admin_reply_t *m = (pz_msg_admin_reply_t *)msg;
  pz_admin_req_t *r = w->admin->reqs;
  while (r && r->id != m->req)
    r = r->next;
  if (r) {
    if (r->status != 503) /* a part that failed decides */
      r->status = m->status;
    r->rooms += m->count;
    if (m->json_len && r->kind == ADMIN_ROOM_STATE) {
      json_decref(r->doc);
      r->doc = json_loadb(m->json, m->json_len, 0, NULL);
    } else if (m->json_len) {
      json_t *part = json_loadb(m->json, m->json_len, 0, NULL);
      if (!r->sessions)
        r->sessions = json_array();
      if (json_is_array(part))
        json_array_extend(r->sessions, part);
      json_decref(part);
    }
    if (--r->pending == 0)
      req_finish(w, r);
  }
  free(m);
}

/* ---- on the workers that hold the rooms and sessions --------------------- */

static void on_cast(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_admin_cast_t *m = (pz_msg_admin_cast_t *)msg;
  pz_str_t room =
      m->room_len ? (pz_str_t){m->room, m->room_len} : (pz_str_t){NULL, 0};
  uint32_t n = pz_shard_system_chat(
      &w->shard, room, (pz_str_t){SERVER_NAME, strlen(SERVER_NAME)},
      (pz_str_t){m->text, m->text_len}, m->ts_ms);
  pz_admin_reply(w, m->reply_worker, m->reply_req, 200, n, NULL);
  free(m);
}

static json_t *session_json(pz_worker_t *w, const pz_session_t *s) {
  json_t *o =
      json_pack("{sI ss# sb si si}", "id", (json_int_t)s->id, "name", s->name,
                (int)s->name_len, "connected", s->outlet != NULL, "worker",
                w->index, "node", (int)w->srv->node_id);
  char addr[PZ_ADDR_MAX];
  json_object_set_new(
      o, "addr",
      s->addr.family ? json_string(pz_ip_format(&s->addr, addr, sizeof(addr)))
                     : json_null());
  json_object_set_new(o, "room",
                      s->room ? json_stringn(s->room->name, s->room->name_len)
                              : json_null());
  json_object_set_new(o, "user",
                      s->grant ? json_stringn(s->grant->sub, s->grant->sub_len)
                               : json_null());
  return o;
}

static void on_list(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_admin_list_t *m = (pz_msg_admin_list_t *)msg;
  json_t *list = json_array();
  pz_session_t *s;
  uint32_t pos = 0;
  while ((s = pz_idmap_next(&w->shard.sessions, &pos))) {
    if (m->room_len && (!s->room || s->room->name_len != m->room_len ||
                        memcmp(s->room->name, m->room, m->room_len) != 0))
      continue;
    json_array_append_new(list, session_json(w, s));
  }
  char *text = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  pz_admin_reply(w, m->reply_worker, m->reply_req, 200, 0, text ? text : "[]");
  free(text);
  free(m);
}

/* A room's state as JSON: {"room", "members", "state": {key: {"value",
 * "version", "by"}}, "expires_in_ms"} (null while the room has members). */
static json_t *room_state_json(pz_worker_t *w, pz_str_t name, pz_room_t *r,
                               pz_rstate_t *st) {
  json_t *keys = json_object();
  for (pz_rkey_t *k = st ? st->keys : NULL; k; k = k->hh.next) {
    if (!k->value)
      continue;
    json_t *v = pz_mpjson_from(pz_rkey_value(k));
    json_object_setn_new(keys, k->key, k->key_len,
                         json_pack("{sososI}", "value", v ? v : json_null(),
                                   "version",
                                   json_integer((json_int_t)k->version), "by",
                                   (json_int_t)k->by));
  }
  json_t *doc =
      json_pack("{ss# si so}", "room", name.ptr, (int)name.len, "members",
                r ? (int)(r->n_members + r->n_remote) : 0, "state", keys);
  uint64_t now = pz_worker_now(w);
  json_object_set_new(
      doc, "expires_in_ms",
      st && st->parked
          ? json_integer(
                st->expires_ms > now ? (json_int_t)(st->expires_ms - now) : 0)
          : json_null());
  return doc;
}

static void on_room(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_admin_room_t *m = (pz_msg_admin_room_t *)msg;
  pz_str_t name = {m->room, m->room_len};
  if (m->signal) {
    int n = pz_shard_system_signal(
        &w->shard, name, (pz_str_t){SERVER_NAME, strlen(SERVER_NAME)},
        (pz_str_t){m->bytes, m->kind_len},
        (pz_raw_t){m->bytes + m->kind_len, m->data_len}, m->ts_ms);
    pz_admin_reply(w, m->reply_worker, m->reply_req, n < 0 ? 404 : 200,
                   n < 0 ? 0 : (uint32_t)n, NULL);
    free(m);
    return;
  }
  pz_room_t *r = pz_shard_room_find(&w->shard, name);
  pz_rstate_t *st = pz_shard_room_state_find(&w->shard, name);
  if (!r && !st) {
    pz_admin_reply(w, m->reply_worker, m->reply_req, 404, 0, NULL);
    free(m);
    return;
  }
  json_t *doc = room_state_json(w, name, r, st);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  pz_admin_reply(w, m->reply_worker, m->reply_req, text ? 200 : 503, 0, text);
  free(text);
  free(m);
}

/* ---- the endpoints ------------------------------------------------------- */

/* The request's JSON object body, or NULL after answering 400. */
static json_t *body_object(pz_conn_t *c, const pz_http_req_t *req) {
  json_t *doc = req->body ? json_loadb(req->body, req->body_len,
                                       JSON_REJECT_DUPLICATES, NULL)
                          : NULL;
  if (!json_is_object(doc)) {
    json_decref(doc);
    answer_error(c, 400, NULL, "the body must be a JSON object");
    return NULL;
  }
  return doc;
}

/* "room" of an admin body: absent or null (every room), or a valid name;
 * false after answering 400. */
static bool room_arg(pz_conn_t *c, const json_t *v, pz_str_t *room) {
  *room = (pz_str_t){NULL, 0};
  if (!v || json_is_null(v))
    return true;
  if (!json_is_string(v) ||
      !pz_room_name_valid(json_string_value(v), json_string_length(v))) {
    answer_error(c, 400, NULL, "room must be 1-64 bytes of [A-Za-z0-9._:-]");
    return false;
  }
  *room = (pz_str_t){json_string_value(v), (uint32_t)json_string_length(v)};
  return true;
}

static void broadcast(pz_worker_t *w, pz_conn_t *c, const pz_http_req_t *req) {
  json_t *doc = body_object(c, req);
  if (!doc)
    return;
  json_t *text = json_object_get(doc, "text");
  pz_str_t room;
  if (!json_is_string(text) || json_string_length(text) < 1 ||
      json_string_length(text) > PZ_CHAT_TEXT_MAX) {
    answer_error(c, 400, NULL, "text must be 1-500 bytes of UTF-8");
  } else if (room_arg(c, json_object_get(doc, "room"), &room)) {
    int n = w->srv->n_workers;
    int only = room.ptr ? pz_room_shard(room.ptr, room.len, n) : -1;
    size_t tlen = json_string_length(text);
    uint64_t now = pz_wall_ms();
    if (pz_bus_clustered(w->srv->bus)) {
      /* Through each room's chat order in Redis. */
      pz_admin_req_t *r = req_new(w, c, ADMIN_BROADCAST, 1);
      r->one_room = room.ptr != NULL;
      if (pz_bus_admin_cast(w->srv->bus, w->index, room,
                            (pz_str_t){json_string_value(text), (uint32_t)tlen},
                            now, r->id) != 0) {
        req_free(w, r);
        answer_error(c, 503, NULL, "the cluster cannot be reached (Redis)");
      }
      n = 0; /* no worker is asked */
    }
    pz_admin_req_t *r =
        n ? req_new(w, c, ADMIN_BROADCAST, only >= 0 ? 1 : n) : NULL;
    if (r)
      r->one_room = only >= 0;
    for (int i = 0; i < n; i++) {
      if (only >= 0 && i != only)
        continue;
      pz_msg_admin_cast_t *m = pz_xcalloc(1, sizeof(*m) + tlen);
      m->hdr.kind = &cast_kind;
      m->reply_worker = w->index;
      m->reply_req = r->id;
      m->ts_ms = now;
      m->room_len = (uint8_t)room.len;
      if (room.len)
        memcpy(m->room, room.ptr, room.len);
      m->text_len = (uint32_t)tlen;
      memcpy(m->text, json_string_value(text), tlen);
      pz_worker_post(w->srv->workers[i], &m->hdr);
    }
    pz_info("admin: broadcast to %s from %s",
            room.ptr ? room.ptr : "every room", pz_conn_peer(c));
  }
  json_decref(doc);
}

static void kick(pz_worker_t *w, pz_conn_t *c, const pz_http_req_t *req) {
  json_t *doc = body_object(c, req);
  if (!doc)
    return;
  json_t *id = json_object_get(doc, "id");
  if (!json_is_integer(id) || json_integer_value(id) < 1 ||
      (uint64_t)json_integer_value(id) > PZ_ID_MAX) {
    answer_error(c, 400, NULL, "id must be a session id");
  } else {
    pz_admin_req_t *r = req_new(w, c, ADMIN_KICK, 1);
    pz_msg_deliver_t *d =
        pz_deliver_new(PZ_DELIVER_KICK, (uint64_t)json_integer_value(id), 0,
                       (pz_str_t){NULL, 0}, (pz_str_t){NULL, 0});
    d->reply_node = w->srv->node_id;
    d->reply_worker = w->index;
    d->reply_req = r->id;
    pz_routing_deliver(w, d);
  }
  json_decref(doc);
}

/* Asks the worker of `room` for its state, or to send a SIGNAL (kind and
 * data copied) to its members. */
static void ask_room(pz_worker_t *w, pz_conn_t *c, int kind, pz_str_t room,
                     pz_str_t skind, pz_raw_t data) {
  pz_admin_req_t *r = req_new(w, c, kind, 1);
  r->one_room = true;
  pz_msg_admin_room_t *m = pz_xcalloc(1, sizeof(*m) + skind.len + data.len);
  m->hdr.kind = &room_kind;
  m->reply_worker = w->index;
  m->reply_req = r->id;
  m->room_len = (uint8_t)room.len;
  memcpy(m->room, room.ptr, room.len);
  m->signal = kind == ADMIN_SIGNAL;
  m->ts_ms = pz_wall_ms();
  m->kind_len = (uint8_t)skind.len;
  m->data_len = data.len;
  if (skind.len)
    memcpy(m->bytes, skind.ptr, skind.len);
  if (data.len)
    memcpy(m->bytes + skind.len, data.ptr, data.len);
  pz_worker_post(
      w->srv->workers[pz_room_shard(room.ptr, room.len, w->srv->n_workers)],
      &m->hdr);
}

/* POST /admin/signal {"kind", "data"?, "room" | "id"}: a SIGNAL from the
 * server (id 0, name "server") to every member of a room, or to one
 * session. */
static void send_signal(pz_worker_t *w, pz_conn_t *c,
                        const pz_http_req_t *req) {
  json_t *doc = body_object(c, req);
  if (!doc)
    return;
  json_t *kind = json_object_get(doc, "kind");
  json_t *id = json_object_get(doc, "id");
  json_t *room_v = json_object_get(doc, "room");
  json_t *data = json_object_get(doc, "data");
  pz_str_t room;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  if (!json_is_string(kind) || json_string_length(kind) < 1 ||
      json_string_length(kind) > PZ_SIGNAL_KIND_MAX) {
    answer_error(c, 400, NULL, "kind must be 1-32 bytes of UTF-8");
  } else if (!id == !(room_v && !json_is_null(room_v))) {
    answer_error(c, 400, NULL, "give either room or id");
  } else if (id && (!json_is_integer(id) || json_integer_value(id) < 1 ||
                    (uint64_t)json_integer_value(id) > PZ_ID_MAX)) {
    answer_error(c, 400, NULL, "id must be a session id");
  } else if (pz_mpjson_pack(&pk, data ? data : json_null(),
                            PZ_VALUE_DEPTH_MAX) != 0) {
    answer_error(c, 400, NULL, "data may nest 16 deep");
  } else if (sb.size > w->cfg->signal_max) {
    answer_error(c, 400, NULL, "data too large (--signal-max)");
  } else if (id) {
    pz_admin_req_t *r = req_new(w, c, ADMIN_SIGNAL, 1);
    pz_msg_deliver_t *d = pz_deliver_signal(
        (uint64_t)json_integer_value(id), 0,
        (pz_str_t){SERVER_NAME, strlen(SERVER_NAME)},
        (pz_str_t){json_string_value(kind), (uint32_t)json_string_length(kind)},
        (pz_raw_t){sb.data, (uint32_t)sb.size}, pz_wall_ms());
    d->reply_node = w->srv->node_id;
    d->reply_worker = w->index;
    d->reply_req = r->id;
    pz_routing_deliver(w, d);
  } else if (room_arg(c, room_v, &room)) {
    pz_str_t k = {json_string_value(kind), (uint32_t)json_string_length(kind)};
    pz_raw_t v = {sb.data, (uint32_t)sb.size};
    if (pz_bus_clustered(w->srv->bus)) {
      /* Through the room's channel: every node's members, this one's
       * included. */
      pz_admin_req_t *r = req_new(w, c, ADMIN_SIGNAL, 1);
      r->one_room = true;
      if (pz_bus_admin_room_signal(w->srv->bus, w->index, room, k, v,
                                   pz_wall_ms(), r->id) != 0) {
        req_free(w, r);
        answer_error(c, 503, NULL, "the cluster cannot be reached (Redis)");
      }
    } else {
      ask_room(w, c, ADMIN_SIGNAL, room, k, v);
    }
  }
  msgpack_sbuffer_destroy(&sb);
  json_decref(doc);
}

/* Drain: exactly what SIGTERM does (main's signal handler stops the
 * acceptor and the workers: clients closed with 1001, sessions kept
 * resumable, exit 0), so the signal is what it sends; once only, since
 * main stops listening for it after the first. The answer is written
 * before the signal, not at the end of the loop turn: nothing the stop
 * does can come between the request and its answer. (A fresh socket
 * takes it whole; were it to take only part, the rest leaves as any
 * closing connection's does, before the worker stops.) */
static void drain(pz_worker_t *w, pz_conn_t *c) {
  pz_info("admin: drain asked by %s", pz_conn_peer(c));
  answer_json(c, 202, NULL, json_pack("{sb}", "draining", 1));
  if (!pz_conn_flush(c))
    pz_debug("admin: the drain's answer to %s is not all written yet",
             pz_conn_peer(c));
  if (!atomic_exchange(&w->srv->drain_asked, 1) &&
      !atomic_load(&w->srv->draining))
    kill(getpid(), SIGTERM);
}

/* The value of `name` in the query string q (room names need no decoding
 * but for ':' as %3A, which is decoded). */
static bool query_param(const char *q, const char *name, char *out,
                        size_t size) {
  size_t nl = strlen(name);
  while (q && *q) {
    if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
      const char *v = q + nl + 1;
      size_t o = 0;
      while (*v && *v != '&' && o + 1 < size) {
        if (strncasecmp(v, "%3A", 3) == 0) {
          out[o++] = ':';
          v += 3;
        } else {
          out[o++] = *v++;
        }
      }
      out[o] = 0;
      return true;
    }
    q = strchr(q, '&');
    if (q)
      q++;
  }
  return false;
}

static void sessions(pz_worker_t *w, pz_conn_t *c, const char *query) {
  char room[PZ_ROOM_NAME_MAX + 2];
  bool has_room = query_param(query, "room", room, sizeof(room));
  if (has_room && !pz_room_name_valid(room, strlen(room))) {
    answer_error(c, 400, NULL, "room must be 1-64 bytes of [A-Za-z0-9._:-]");
    return;
  }
  int n = w->srv->n_workers;
  /* A room's members all live on the room's worker. */
  int only = has_room ? pz_room_shard(room, strlen(room), n) : -1;
  pz_admin_req_t *r = req_new(w, c, ADMIN_SESSIONS, only >= 0 ? 1 : n);
  /* Clustered: the other nodes' members too (unlinked: this node's). */
  pz_str_t rs =
      has_room ? (pz_str_t){room, (uint32_t)strlen(room)} : (pz_str_t){NULL, 0};
  if (pz_bus_admin_members(w->srv->bus, w->index, rs, r->id) == 0)
    r->pending++;
  for (int i = 0; i < n; i++) {
    if (only >= 0 && i != only)
      continue;
    pz_msg_admin_list_t *m = pz_xcalloc(1, sizeof(*m));
    m->hdr.kind = &list_kind;
    m->reply_worker = w->index;
    m->reply_req = r->id;
    if (has_room) {
      m->room_len = (uint8_t)strlen(room);
      memcpy(m->room, room, m->room_len);
    }
    pz_worker_post(w->srv->workers[i], &m->hdr);
  }
}

/* GET /admin/room-state?room=NAME */
static void room_state(pz_worker_t *w, pz_conn_t *c, const char *query) {
  char room[PZ_ROOM_NAME_MAX + 2];
  if (!query_param(query, "room", room, sizeof(room)) ||
      !pz_room_name_valid(room, strlen(room))) {
    answer_error(c, 400, NULL, "room must be 1-64 bytes of [A-Za-z0-9._:-]");
    return;
  }
  pz_str_t name = {room, (uint32_t)strlen(room)};
  if (pz_bus_clustered(w->srv->bus)) { /* it lives in Redis */
    pz_admin_req_t *r = req_new(w, c, ADMIN_ROOM_STATE, 1);
    r->one_room = true;
    if (pz_bus_admin_room_state(w->srv->bus, w->index, name, r->id) != 0) {
      req_free(w, r);
      answer_error(c, 503, NULL, "the cluster cannot be reached (Redis)");
    }
    return;
  }
  ask_room(w, c, ADMIN_ROOM_STATE, name, (pz_str_t){NULL, 0},
           (pz_raw_t){NULL, 0});
}

void pz_admin_room_state_from_bus(void *worker, uint64_t req, pz_str_t room,
                                  const pz_bus_rkey_t *keys, int n,
                                  int64_t members, int64_t ttl_ms) {
  pz_worker_t *w = worker;
  if (n < 0 || (n == 0 && members == 0)) {
    pz_admin_reply(w, w->index, req, n < 0 ? 503 : 404, 0, NULL);
    return;
  }
  json_t *state = json_object();
  for (int i = 0; i < n; i++) {
    if (!keys[i].value.ptr)
      continue; /* deleted: its version waits in Redis for the next set */
    json_t *v = pz_mpjson_from(keys[i].value);
    json_object_setn_new(state, keys[i].key.ptr, keys[i].key.len,
                         json_pack("{sososI}", "value", v ? v : json_null(),
                                   "version",
                                   json_integer((json_int_t)keys[i].version),
                                   "by", (json_int_t)keys[i].by));
  }
  json_t *doc =
      json_pack("{ss# sI so so}", "room", room.ptr, (int)room.len, "members",
                (json_int_t)members, "state", state, "expires_in_ms",
                ttl_ms >= 0 ? json_integer(ttl_ms) : json_null());
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  pz_admin_reply(w, w->index, req, text ? 200 : 503, 0, text);
  free(text);
}

/* The query string: conn_http.c ends the path at '?', so what followed it
 * is still in the buffer behind that NUL. */
static const char *query_of(const pz_http_req_t *req) {
  size_t n = strlen(req->path);
  return n < req->path_len ? req->path + n + 1 : "";
}

static void method_not_allowed(pz_conn_t *c, const char *allow) {
  char extra[64];
  snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
  answer_error(c, 405, extra, "method not allowed");
}

void pz_admin_on_request(pz_conn_t *c, const pz_http_req_t *req) {
  pz_worker_t *w = pz_conn_owner(c);
  char addr[PZ_ADDR_MAX];
  int st = pz_auth_admin_check(
      w->srv->auth, pz_http_header(req, PZ_HF_AUTHORIZATION),
      pz_conn_addr(c, addr, sizeof(addr)), pz_mono_us() / 1000);
  if (st == 404) { /* no admin API here: as any unknown path */
    pz_conn_http_answer(c, 404, "text/plain", NULL, "not found\n", 10);
    return;
  }
  if (st == 401) {
    answer_error(c, 401, "WWW-Authenticate: Bearer realm=\"plaza admin\"\r\n",
                 "a valid admin token is required");
    return;
  }
  if (st == 429) {
    answer_error(c, 429, "Retry-After: 10\r\n",
                 "too many failed attempts, try later");
    return;
  }
  const char *path = req->path;
  bool post = req->method == HTTP_POST;
  bool get = req->method == HTTP_GET || req->method == HTTP_HEAD;
  if (strcmp(path, "/admin/broadcast") == 0) {
    if (post)
      broadcast(w, c, req);
    else
      method_not_allowed(c, "POST");
  } else if (strcmp(path, "/admin/kick") == 0) {
    if (post)
      kick(w, c, req);
    else
      method_not_allowed(c, "POST");
  } else if (strcmp(path, "/admin/drain") == 0) {
    if (post)
      drain(w, c);
    else
      method_not_allowed(c, "POST");
  } else if (strcmp(path, "/admin/sessions") == 0) {
    if (get)
      sessions(w, c, query_of(req));
    else
      method_not_allowed(c, "GET, HEAD");
  } else if (strcmp(path, "/admin/room-state") == 0) {
    if (get)
      room_state(w, c, query_of(req));
    else
      method_not_allowed(c, "GET, HEAD");
  } else if (strcmp(path, "/admin/signal") == 0) {
    if (post)
      send_signal(w, c, req);
    else
      method_not_allowed(c, "POST");
  } else {
    answer_error(c, 404, NULL, "no such admin endpoint");
  }
}

bool pz_admin_on_request_gone(pz_conn_t *c) {
  pz_worker_t *w = pz_conn_owner(c);
  for (pz_admin_req_t *r = w->admin->reqs; r; r = r->next)
    if (r->conn == c) {
      r->conn = NULL;
      return true;
    }
  return false;
}

void pz_admin_sweep(pz_worker_t *w, uint64_t now_ms) {
  pz_admin_req_t *r = w->admin->reqs;
  while (r) {
    pz_admin_req_t *next = r->next;
    if (r->deadline_ms <= now_ms) {
      if (r->conn)
        answer_error(r->conn, 504, NULL, "no answer from the cluster in time");
      req_free(w, r);
    }
    r = next;
  }
}

pz_admin_t *pz_admin_create(void) {
  return pz_xcalloc(1, sizeof(pz_admin_t));
}

void pz_admin_destroy(pz_admin_t *a) {
  while (a->reqs) {
    pz_admin_req_t *r = a->reqs;
    a->reqs = r->next;
    json_decref(r->sessions);
    json_decref(r->doc);
    free(r);
  }
  free(a);
}
