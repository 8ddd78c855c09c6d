/*
 * The one interface between the load model (sim.c, worker.c) and a wire
 * protocol: plaza v1 (proto_plaza.c) or Socket.io with the msgpack parser
 * (proto_socketio.c). A protocol turns the model's intents (say hello and
 * join, move, chat, leave, say goodbye) into messages, and the server's
 * messages into the model's events (pz_sim_* in sim.h). Everything else
 * (schedule, walk, measurements, reports) is shared.
 *
 * Every function runs on the client's worker thread.
 */
#ifndef PZ_BENCH_PROTO_H
#define PZ_BENCH_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plaza/codec.h"

typedef struct pz_bench_client pz_bench_client_t;

typedef struct pz_bench_proto {
  const char *name;        /* as in JSON "proto" */
  const char *subprotocol; /* offered in the upgrade, or NULL */
  /* The WebSocket is open: start the protocol's hello. */
  void (*on_open)(pz_bench_client_t *c);
  /* A whole message (sampled clients, and what want_full asked for). */
  void (*on_message)(pz_bench_client_t *c, int opcode, const uint8_t *p,
                     size_t n);
  /* Clients that only count: from a message's first bytes, count what can
   * be counted (STATE entries, chats) and return false, or return true to
   * get the whole message in on_message. */
  bool (*want_full)(pz_bench_client_t *c, int opcode, const uint8_t *pfx,
                    size_t n);
  /* Intents. Return 0, or non-zero when nothing was sent. */
  int (*send_move)(pz_bench_client_t *c, uint64_t seq, const pz_pos_t *pos);
  int (*send_chat)(pz_bench_client_t *c, const char *text, size_t len);
  int (*send_leave)(pz_bench_client_t *c);
  /* Just before a normal close: what a polite client sends (Socket.io's
   * DISCONNECT packet); may be NULL. */
  void (*goodbye)(pz_bench_client_t *c);
} pz_bench_proto_t;

extern const pz_bench_proto_t pz_bench_proto_plaza;
extern const pz_bench_proto_t pz_bench_proto_socketio;

#endif
