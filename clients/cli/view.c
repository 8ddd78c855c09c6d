/* What plaza-cli shows (see view.h). */
#include "view.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plaza/json.h"

/* Writes s with control bytes replaced, so a peer's name or chat cannot
 * drive the terminal. */
static void put_text(FILE *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
  }
}

static void put_str(FILE *out, pz_str_t s) {
  if (s.ptr != NULL)
    put_text(out, s.ptr, s.len);
}

/* An app value as compact JSON (bytes as {"$bin": ...}, see json.h). */
static void put_value(FILE *out, pz_raw_t value) {
  json_t *j = pz_mpjson_from(value);
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (s != NULL)
    put_text(out, s, strlen(s));
  else
    fputs("(unreadable)", out);
  free(s);
  json_decref(j);
}

/* True for a state that holds at least one key. */
static bool has_keys(pz_raw_t state) {
  pz_map_iter_t it;
  return pz_map_iter_init(&it, state) && it.values > 0;
}

void pz_view_init(pz_view_t *v, FILE *out) {
  memset(v, 0, sizeof(*v));
  v->out = out;
}

void pz_view_dispose(pz_view_t *v) {
  free(v->members);
  v->members = NULL;
  v->n = v->cap = 0;
}

/* Index of id, or where it would go. */
static size_t find(const pz_view_t *v, uint64_t id, bool *found) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->members[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < v->n && v->members[lo].id == id;
  return lo;
}

static pz_view_member_t *lookup(pz_view_t *v, uint64_t id) {
  bool found;
  size_t i = find(v, id, &found);
  return found ? &v->members[i] : NULL;
}

static void upsert(pz_view_t *v, const pz_member_t *m) {
  bool found;
  size_t i = find(v, m->id, &found);
  pz_view_member_t *e;

  if (!found) {
    if (v->n == v->cap) {
      size_t cap = v->cap ? v->cap * 2 : 16;
      pz_view_member_t *p = realloc(v->members, cap * sizeof(*p));
      if (p == NULL)
        return; /* the table misses a member; the output stays right */
      v->members = p;
      v->cap = cap;
    }
    memmove(&v->members[i + 1], &v->members[i],
            (v->n - i) * sizeof(v->members[0]));
    v->n++;
  }
  e = &v->members[i];
  e->id = m->id;
  e->pos = m->pos;
  e->moved = false;
  size_t n = m->name.len < PZ_NAME_MAX ? m->name.len : PZ_NAME_MAX;
  if (m->name.ptr != NULL)
    memcpy(e->name, m->name.ptr, n);
  e->name[m->name.ptr != NULL ? n : 0] = '\0';
}

static void remove_member(pz_view_t *v, uint64_t id) {
  bool found;
  size_t i = find(v, id, &found);
  if (!found)
    return;
  memmove(&v->members[i], &v->members[i + 1],
          (v->n - i - 1) * sizeof(v->members[0]));
  v->n--;
}

/* "name#id", or "#id" for a member we do not know. */
static void put_who(pz_view_t *v, uint64_t id) {
  pz_view_member_t *e = lookup(v, id);
  if (e != NULL)
    put_text(v->out, e->name, strlen(e->name));
  fprintf(v->out, "#%llu", (unsigned long long)id);
}

static const char *error_name(int code) {
  switch (code) {
  case PZ_ERR_BAD_MESSAGE:
    return "bad_message";
  case PZ_ERR_UNKNOWN_OP:
    return "unknown_op";
  case PZ_ERR_NOT_IN_ROOM:
    return "not_in_room";
  case PZ_ERR_RATE_LIMITED:
    return "rate_limited";
  case PZ_ERR_ROOM_FULL:
    return "room_full";
  case PZ_ERR_INVALID_ARGUMENT:
    return "invalid_argument";
  case PZ_ERR_NOT_FOUND:
    return "not_found";
  case PZ_ERR_FORBIDDEN:
    return "forbidden";
  case PZ_ERR_SESSION_EXPIRED:
    return "session_expired";
  case PZ_ERR_OVERLOADED:
    return "overloaded";
  case PZ_ERR_MOVE_REJECTED:
    return "move_rejected";
  case PZ_ERR_CONFLICT:
    return "conflict";
  default:
    return "error";
  }
}

/* "state: name#id {...}" for a member with a state. */
static void put_state(pz_view_t *v, uint64_t id, pz_raw_t state) {
  if (!has_keys(state))
    return;
  fputs("state: ", v->out);
  put_who(v, id);
  fputc(' ', v->out);
  put_value(v->out, state);
  fputc('\n', v->out);
}

static void handle_room(pz_view_t *v, const pz_smsg_t *m) {
  size_t n = m->u.room.room.len < PZ_ROOM_NAME_MAX ? m->u.room.room.len
                                                   : PZ_ROOM_NAME_MAX;
  v->n = 0;
  v->in_room = true;
  memcpy(v->room, m->u.room.room.ptr ? m->u.room.room.ptr : "", n);
  v->room[n] = '\0';
  for (size_t i = 0; i < m->u.room.n_members; i++)
    upsert(v, &m->u.room.members[i]);
  fputs("room ", v->out);
  put_text(v->out, v->room, strlen(v->room));
  fprintf(v->out, " (%zu member%s):", v->n, v->n == 1 ? "" : "s");
  for (size_t i = 0; i < m->u.room.n_members; i++) {
    fputs(i == 0 ? " " : ", ", v->out);
    put_who(v, m->u.room.members[i].id);
  }
  fputc('\n', v->out);
  for (size_t i = 0; i < m->u.room.n_history; i++) {
    const pz_chat_entry_t *c = &m->u.room.history[i];
    fputs("[", v->out);
    put_str(v->out, c->name);
    fputs("] ", v->out);
    put_str(v->out, c->text);
    fputc('\n', v->out);
  }
  for (size_t i = 0; i < m->u.room.n_members; i++)
    put_state(v, m->u.room.members[i].id, m->u.room.member_states[i]);
  for (size_t i = 0; i < m->u.room.n_room_state; i++) {
    const pz_room_entry_t *e = &m->u.room.room_state[i];
    fputs("roomstate: ", v->out);
    put_str(v->out, e->key);
    fputs(" = ", v->out);
    put_value(v->out, e->value);
    fprintf(v->out, " (version %llu)\n", (unsigned long long)e->version);
  }
}

static void put_pos(pz_view_t *v, const pz_view_member_t *e) {
  put_text(v->out, e->name, strlen(e->name));
  fprintf(v->out, "#%llu (%.1f,%.1f,%.1f)", (unsigned long long)e->id,
          (double)e->pos.x, (double)e->pos.y, (double)e->pos.z);
}

static void handle_state(pz_view_t *v, const pz_smsg_t *m) {
  for (size_t i = 0; i < m->u.state.n; i++) {
    const pz_state_entry_t *s = &m->u.state.entries[i];
    pz_view_member_t *e = lookup(v, s->id);
    if (e == NULL)
      continue;
    e->pos = s->pos;
    e->moved = true;
    /* The server echoes the last seq it applied: ours reached it (a
     * rejected move too, at the server's position). */
    if (s->id == v->self_id && v->await_seq != 0 && s->seq >= v->await_seq) {
      v->await_seq = 0;
      e->moved = false;
      fputs("pos: ", v->out);
      put_pos(v, e);
      fputc('\n', v->out);
    }
  }
}

void pz_view_handle(pz_view_t *v, const pz_smsg_t *m, double now_ms) {
  FILE *out = v->out;

  switch (m->op) {
  case PZ_S_WELCOME:
    v->self_id = m->u.welcome.id;
    fprintf(out, "welcome: you are #%llu (tick %u Hz%s)\n",
            (unsigned long long)m->u.welcome.id, m->u.welcome.tick_hz,
            m->u.welcome.resumed ? ", session resumed" : "");
    break;
  case PZ_S_ROOM:
    handle_room(v, m);
    break;
  case PZ_S_JOINED:
    upsert(v, &m->u.joined);
    fputs("joined: ", out);
    put_who(v, m->u.joined.id);
    fputc('\n', out);
    put_state(v, m->u.joined.id, m->u.joined_state);
    break;
  case PZ_S_LEFT:
    fputs("left: ", out);
    put_who(v, m->u.left.id);
    fputc('\n', out);
    if (m->u.left.id == v->self_id) {
      v->in_room = false;
      v->n = 0;
    } else {
      remove_member(v, m->u.left.id);
    }
    break;
  case PZ_S_STATE:
    handle_state(v, m);
    break;
  case PZ_S_CHAT:
    fputc('[', out);
    put_str(out, m->u.chat.name);
    fputs("] ", out);
    put_str(out, m->u.chat.text);
    fputc('\n', out);
    break;
  case PZ_S_WHISPER:
    fputs("(whisper from ", out);
    put_str(out, m->u.whisper.name);
    fprintf(out, "#%llu) ", (unsigned long long)m->u.whisper.from);
    put_str(out, m->u.whisper.text);
    fputc('\n', out);
    break;
  case PZ_S_PONG:
    fprintf(out, "pong: %.1f ms\n", now_ms - m->u.pong.t);
    break;
  case PZ_S_ERROR:
    fprintf(out, "error %d %s: ", m->u.error.code, error_name(m->u.error.code));
    put_str(out, m->u.error.message);
    if (m->u.error.op != 0)
      fprintf(out, " (op %d)", m->u.error.op);
    if (m->u.error.code == PZ_ERR_CONFLICT && m->u.error.has_version) {
      fputs(": ", out);
      put_str(out, m->u.error.key);
      fprintf(out, " is at version %llu",
              (unsigned long long)m->u.error.version);
    }
    fputc('\n', out);
    /* A resume whose token no longer allows the room: out of it. */
    if (m->u.error.code == PZ_ERR_FORBIDDEN && m->u.error.op == PZ_C_HELLO) {
      v->in_room = false;
      v->n = 0;
    }
    break;
  case PZ_S_MEMBER:
    fputs("member: ", out);
    put_who(v, m->u.member.id);
    fputc(' ', out);
    put_value(out, m->u.member.patch);
    fputc('\n', out);
    break;
  case PZ_S_SIGNAL:
    fputs("signal: ", out);
    if (m->u.signal.from == 0)
      fputs("server", out);
    else
      put_who(v, m->u.signal.from);
    fputc(' ', out);
    put_str(out, m->u.signal.kind);
    fputc(' ', out);
    put_value(out, m->u.signal.data);
    fputc('\n', out);
    break;
  case PZ_S_ROOM_STATE:
    fputs("roomstate: ", out);
    put_str(out, m->u.room_state.key);
    if (pz_raw_is_nil(m->u.room_state.value)) {
      fputs(" deleted", out);
    } else {
      fputs(" = ", out);
      put_value(out, m->u.room_state.value);
    }
    fprintf(out, " (version %llu by ",
            (unsigned long long)m->u.room_state.version);
    if (m->u.room_state.by == 0)
      fputs("server", out);
    else
      put_who(v, m->u.room_state.by);
    fputs(")\n", out);
    break;
  default:
    break;
  }
}

void pz_view_print_positions(pz_view_t *v) {
  bool any = false;
  for (size_t i = 0; i < v->n; i++) {
    pz_view_member_t *e = &v->members[i];
    if (!e->moved)
      continue;
    fputs(any ? " " : "pos: ", v->out);
    put_pos(v, e);
    e->moved = false;
    any = true;
  }
  if (any)
    fputc('\n', v->out);
}

void pz_view_print_who(const pz_view_t *v) {
  if (!v->in_room) {
    fputs("who: not in a room\n", v->out);
    return;
  }
  fputs("who: ", v->out);
  put_text(v->out, v->room, strlen(v->room));
  fputs(":", v->out);
  for (size_t i = 0; i < v->n; i++) {
    const pz_view_member_t *e = &v->members[i];
    fputs(i == 0 ? " " : ", ", v->out);
    put_text(v->out, e->name, strlen(e->name));
    fprintf(v->out, "#%llu%s (%.1f,%.1f,%.1f)", (unsigned long long)e->id,
            e->id == v->self_id ? " (you)" : "", (double)e->pos.x,
            (double)e->pos.y, (double)e->pos.z);
  }
  fputc('\n', v->out);
}
