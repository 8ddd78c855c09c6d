/*
 * The simulated clients and rooms of one worker thread, and the events a
 * protocol reports about them (pz_sim_*).
 *
 * Measurement design. Every client of a room lives on the same thread, so
 * a receiver can look at the sender's own records without locks:
 *  - each sender keeps the send time of its last PZ_SENT_RING moves,
 *    indexed by seq; a sampled receiver that reads STATE entry (id, seq)
 *    takes now minus that send time as the move-to-STATE latency;
 *  - a sampled receiver keeps, per member of its room, the last seq it
 *    saw. An entry with seq s acknowledges every move of that member with
 *    seq in (last seen, s] (latest-wins coalescing counts as delivered).
 *    `delivered` adds those acknowledged moves that were sent inside the
 *    measured window; `expected` adds, for each move sent in the window,
 *    the number of sampled members present in the room then (the mover
 *    excepted). A receiver that leaves takes back what it had not yet
 *    acknowledged, so churn does not count as loss.
 *  - with a VIEW (radius r), a receiver is expected to see a move only
 *    when the mover was well inside its view when sending it: within
 *    r - max(0.2 r, 4) of the receiver's last sent position, a margin
 *    that covers both walking up to the next tick. The sender keeps, per
 *    move, a mask of the sampled slots that expect it, and an
 *    acknowledgement counts only the moves whose mask names the receiver.
 *    Moves of members out of view are neither expected nor counted.
 */
#ifndef PZ_BENCH_SIM_H
#define PZ_BENCH_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto.h"
#include "walk.h"
#include "wsc.h"

#define PZ_SENT_RING 128 /* moves whose send time is kept: 6.4 s at 20 Hz */
#define PZ_ROOM_NAME_LEN 48

typedef struct pz_bench_worker pz_bench_worker_t;

typedef struct pz_bench_room {
  uint32_t gidx; /* global room number */
  uint32_t cap;  /* room size: slots */
  uint32_t n_sampled_present;
  char name[PZ_ROOM_NAME_LEN];
  pz_bench_client_t **members; /* [cap], by slot; NULL where not created */
} pz_bench_room_t;

/* Where a client is in its life. */
enum pz_sim_phase {
  PZ_PH_WAIT,     /* waiting for its (re)connect time */
  PZ_PH_SETUP,    /* connecting, hello, join */
  PZ_PH_PRESENT,  /* in the room */
  PZ_PH_QUIESCE,  /* churn: stopped moving, about to drop */
  PZ_PH_DROPPING, /* churn: closing on purpose, will reconnect */
  PZ_PH_DEAD,     /* over (failed, closed by the server, or stopping) */
};

struct pz_bench_client {
  pz_wsc_t ws; /* first member: the transport */
  pz_bench_worker_t *w;
  pz_bench_room_t *room;
  uint32_t gidx, slot;
  uint32_t node;           /* which --url it connects to (pz_bench_node_of) */
  uint64_t id;             /* the server's id, 0 before WELCOME */
  uint64_t seq;            /* last MOVE seq sent; never restarts */
  uint64_t win_lo, win_hi; /* seqs sent in the measured window */
  uint64_t due_ns;         /* heap key: next timed action */
  uint64_t t_connect_ns;   /* for the setup latency */
  uint64_t t_present_ns;   /* when it entered the room */
  uint64_t last_chat_seq;  /* plaza: for resume without replays */
  uint32_t heap_idx;       /* in the worker's heap, or UINT32_MAX */
  uint32_t *sent;          /* [PZ_SENT_RING] send times, us (worker clock) */
  uint64_t *seen;          /* sampled: last seq seen, per room slot */
  /* With a VIEW: per sent seq (ring), which sampled slots were near
   * enough to be sure to see it (bit k: slot k); the last position sent
   * (x, z); a sampled compact client's table of short ids. */
  uint64_t *expect;
  double px, pz;
  pz_compact_t *ctab;
  char *session; /* plaza: session token, for resume (churn) */
  pz_bench_client_t *snext, *sprev; /* schedule bucket */
  pz_walk_t walk;
  uint32_t cycles; /* churn: connections so far */
  uint16_t bucket;
  uint8_t phase;
  uint8_t pstate; /* the protocol's own handshake state */
  bool sampled, present, scheduled, resume_next, connected;
};

/* ---- what protocols report ---------------------------------------------- */

/* The server's hello answer: id, session token (may be NULL), resumed. */
void pz_sim_welcome(pz_bench_client_t *c, uint64_t id, const char *session,
                    size_t session_len, bool resumed);
/* In the room; own_pos: the client's position in the roster, or NULL. */
void pz_sim_room(pz_bench_client_t *c, const pz_pos_t *own_pos);
/* A STATE message with n entries (every client, sampled or not). */
void pz_sim_state(pz_bench_client_t *c, uint32_t n);
/* A sampled client read a STATE (or STATE_C) of n entries in len bytes. */
void pz_sim_state_bytes(pz_bench_client_t *c, uint32_t n, size_t len);
/* An AWAY naming n members. */
void pz_sim_away(pz_bench_client_t *c, uint32_t n);
/* One entry, read by a sampled client; now_ns from pz_sim_now(). */
void pz_sim_state_entry(pz_bench_client_t *c, uint64_t id, uint64_t seq,
                        uint64_t now_ns);
/* A chat message; text is what the sender sent (a bench chat carries its
 * send time). Counted for every client, timed for sampled ones. */
void pz_sim_chat(pz_bench_client_t *c, uint64_t from, uint64_t seq,
                 const char *text, size_t len, uint64_t now_ns);
/* A chat seen by a client that only counts (seq 0 when unknown). */
void pz_sim_chat_seen(pz_bench_client_t *c, uint64_t seq);
/* An error from the server: a PZ_ERRK_* kind (stats.h), or a protocol
 * ERROR code through pz_errk_of_code(). */
void pz_sim_error(pz_bench_client_t *c, int kind);
/* A message the bench could not read. */
void pz_sim_bad(pz_bench_client_t *c);

/* Receive time for pz_sim_state_entry / pz_sim_chat (ns, uv_hrtime). */
uint64_t pz_sim_now(void);

/* The display name ("b<gidx>") and room name; static per client. */
size_t pz_sim_name(const pz_bench_client_t *c, char *buf, size_t cap);

/* Encoding scratch of the client's worker: begin gives the packer (empty
 * buffer), send frames what was packed and sends it. */
msgpack_packer *pz_sim_enc_begin(pz_bench_client_t *c);
int pz_sim_enc_send(pz_bench_client_t *c, int opcode);
int pz_sim_send_raw(pz_bench_client_t *c, int opcode, const void *p, size_t n);

#endif
