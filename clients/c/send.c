/*
 * Sending: the protocol's client ops encoded with the codec into the
 * context's scratch buffer, raw messages, and messages cut into several
 * frames. wslay copies what is queued, so the scratch is reused at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static int scratch_write(void *data, const char *buf, size_t len) {
  pz_client_ctx_t *ctx = data;
  if (pz_cbuf_append(&ctx->scratch, buf, len) != 0) {
    ctx->scratch_oom = true;
    return -1;
  }
  return 0;
}

static int wslay_err(int r) {
  switch (r) {
  case 0:
    return 0;
  case WSLAY_ERR_NOMEM:
    return PZ_CLIENT_ENOMEM;
  case WSLAY_ERR_NO_MORE_MSG:
    return PZ_CLIENT_ESTATE; /* a close is queued */
  default:
    return PZ_CLIENT_EINVAL;
  }
}

static bool is_data_opcode(int opcode) {
  return opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME;
}

int pz_client_send_raw(pz_client_t *c, const void *data, size_t len,
                       int opcode) {
  struct wslay_event_msg msg;
  int r;

  if (opcode < 0 || opcode > 15 || (len > 0 && data == NULL))
    return PZ_CLIENT_EINVAL;
  if (c->state != PZ_CS_OPEN)
    return PZ_CLIENT_ESTATE;
  msg.opcode = (uint8_t)opcode;
  msg.msg = data;
  msg.msg_length = len;
  if ((r = wslay_err(wslay_event_queue_msg(c->ws, &msg))) != 0)
    return r;
  if (is_data_opcode(opcode))
    c->stats.msgs_out++;
  pz_client__flush(c);
  return 0;
}

/* Starts encoding one message into the context's scratch. */
static int enc_begin(pz_client_t *c, msgpack_packer *pk) {
  pz_client_ctx_t *ctx = c->ctx;
  if (c->state != PZ_CS_OPEN)
    return PZ_CLIENT_ESTATE;
  ctx->scratch.len = 0;
  ctx->scratch_oom = false;
  msgpack_packer_init(pk, ctx, scratch_write);
  return 0;
}

static int enc_end(pz_client_t *c) {
  pz_client_ctx_t *ctx = c->ctx;
  if (ctx->scratch_oom)
    return PZ_CLIENT_ENOMEM;
  return pz_client_send_raw(c, ctx->scratch.p, ctx->scratch.len,
                            PZ_CLIENT_BINARY);
}

int pz_client_send_hello(pz_client_t *c, pz_str_t token, pz_str_t name,
                         pz_str_t resume, bool has_last_chat_seq,
                         uint64_t last_chat_seq) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_hello(&pk, PZ_PROTOCOL_VERSION, token, name, resume, has_last_chat_seq,
               last_chat_seq);
  return enc_end(c);
}

int pz_client_send_hello_state(pz_client_t *c, pz_str_t token, pz_str_t name,
                               pz_str_t resume, bool has_last_chat_seq,
                               uint64_t last_chat_seq, pz_raw_t state) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_hello_state(&pk, PZ_PROTOCOL_VERSION, token, name, resume,
                     has_last_chat_seq, last_chat_seq, state);
  return enc_end(c);
}

int pz_client_send_join(pz_client_t *c, pz_str_t room) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_join(&pk, room);
  return enc_end(c);
}

int pz_client_send_leave(pz_client_t *c) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_leave(&pk);
  return enc_end(c);
}

int pz_client_send_move(pz_client_t *c, uint64_t seq, pz_pos_t pos) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_move(&pk, seq, pos);
  return enc_end(c);
}

int pz_client_send_chat(pz_client_t *c, pz_str_t text) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_chat_text(&pk, text);
  return enc_end(c);
}

int pz_client_send_whisper(pz_client_t *c, uint64_t to, pz_str_t text) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_whisper(&pk, to, text);
  return enc_end(c);
}

int pz_client_send_ping(pz_client_t *c, double t) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_ping(&pk, t);
  return enc_end(c);
}

int pz_client_send_set(pz_client_t *c, pz_raw_t patch) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_set(&pk, patch);
  return enc_end(c);
}

int pz_client_send_signal(pz_client_t *c, bool to_room, uint64_t to,
                          pz_str_t kind, pz_raw_t data) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_signal(&pk, to_room, to, kind, data);
  return enc_end(c);
}

int pz_client_send_room_set(pz_client_t *c, pz_str_t key, pz_raw_t value,
                            bool has_if_version, uint64_t if_version) {
  msgpack_packer pk;
  int r;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_room_set(&pk, key, value, has_if_version, if_version);
  return enc_end(c);
}

/* ---- fragmented messages ------------------------------------------------- */

static void frag_unlink(pz_frag_t *f) {
  pz_frag_t **pp = &f->c->frags;
  while (*pp != f)
    pp = &(*pp)->next;
  *pp = f->next;
}

/* wslay asks for the next frame's payload: at most `len` bytes of the
 * current part. Each call becomes one frame. */
ssize_t pz_client__frag_read(wslay_event_context_ptr ws, uint8_t *buf,
                             size_t len,
                             const union wslay_event_msg_source *source,
                             int *eof, void *user_data) {
  pz_frag_t *f = source->data;
  size_t n = f->left < len ? f->left : len;
  (void)ws;
  (void)user_data;

  memcpy(buf, f->data + f->off, n);
  f->off += n;
  f->left -= n;
  if (f->left == 0) {
    if (f->idx + 1 >= f->parts) {
      *eof = 1;
      frag_unlink(f);
      free(f);
    } else {
      f->idx++;
      f->left = f->idx + 1 == f->parts ? f->len - f->off : f->base;
    }
  }
  return (ssize_t)n;
}

int pz_client_send_fragmented(pz_client_t *c, const void *data, size_t len,
                              int opcode, unsigned parts) {
  struct wslay_event_fragmented_msg msg;
  pz_frag_t *f;
  int r;

  if (!is_data_opcode(opcode) || parts == 0 || (len > 0 && data == NULL))
    return PZ_CLIENT_EINVAL;
  if (c->state != PZ_CS_OPEN)
    return PZ_CLIENT_ESTATE;
  /* wslay takes an empty read as "no data yet", so every frame but the
   * only one of an empty message carries at least one byte. */
  if (parts > len)
    parts = len > 0 ? (unsigned)len : 1;
  if ((f = malloc(sizeof(*f) + len)) == NULL)
    return PZ_CLIENT_ENOMEM;
  if (len > 0)
    memcpy(f->data, data, len);
  f->c = c;
  f->len = len;
  f->off = 0;
  f->parts = parts;
  f->idx = 0;
  f->base = len / parts;
  f->left = parts == 1 ? len : f->base;

  memset(&msg, 0, sizeof(msg));
  msg.opcode = (uint8_t)opcode;
  msg.source.data = f;
  msg.read_callback = pz_client__frag_read;
  if ((r = wslay_err(wslay_event_queue_fragmented_msg(c->ws, &msg))) != 0) {
    free(f);
    return r;
  }
  f->next = c->frags;
  c->frags = f;
  c->stats.msgs_out++;
  pz_client__flush(c);
  return 0;
}

void pz_client__frags_free(pz_client_t *c) {
  while (c->frags != NULL) {
    pz_frag_t *f = c->frags;
    c->frags = f->next;
    free(f);
  }
}

int pz_client_send_view(pz_client_t *c, double radius, bool compact) {
  msgpack_packer pk;
  int r;
  if (!isfinite(radius) || radius < 0)
    return PZ_CLIENT_EINVAL;
  if ((r = enc_begin(c, &pk)) != 0)
    return r;
  pz_enc_view(&pk, radius, compact);
  return enc_end(c);
}
