/*
 * What plaza-cli shows: the members of the room as the server reports them,
 * and one readable line per server message. Positions from STATE are only
 * recorded; pz_view_print_positions() prints those that changed, so a 30 Hz
 * stream becomes one compact line every couple of seconds. Our own position
 * is printed as soon as the STATE acknowledging our last MOVE arrives.
 */
#ifndef PZ_CLI_VIEW_H
#define PZ_CLI_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "plaza/codec.h"
#include "plaza/protocol.h"

typedef struct pz_view_member {
  uint64_t id;
  pz_pos_t pos;
  bool moved; /* since the last positions line */
  char name[PZ_NAME_MAX + 1];
} pz_view_member_t;

typedef struct pz_view {
  FILE *out;
  uint64_t self_id;
  /* seq of our last MOVE until a STATE acknowledges it (0: none): that
   * STATE prints our position at once instead of on the next positions
   * line, so a /move is answered when the server applied it. */
  uint64_t await_seq;
  bool in_room;
  char room[PZ_ROOM_NAME_MAX + 1];
  pz_view_member_t *members; /* sorted by id */
  size_t n, cap;
} pz_view_t;

void pz_view_init(pz_view_t *v, FILE *out);
void pz_view_dispose(pz_view_t *v);

/* Updates the table from one decoded server message and prints its line(s).
 * now_ms is the caller's clock, for the round trip of a PONG whose t was
 * sent from the same clock. */
void pz_view_handle(pz_view_t *v, const pz_smsg_t *m, double now_ms);

/* Prints "pos: name#id (x,y,z) ..." for members that moved since the last
 * call, nothing when none did. */
void pz_view_print_positions(pz_view_t *v);

/* Prints the members of the room. */
void pz_view_print_who(const pz_view_t *v);

#endif
