/*
 * A client's VIEW (protocol 1.1): its options, which belong to the session
 * (they go along through JOINs, moves between workers and resumes), and
 * what it has in view in its current room, which starts over at each ROOM.
 *
 * The members in view are kept twice: as a list of short ids (to walk them
 * each tick and find who left) and as a bit set over the room's short ids
 * (to ask "in view?" in O(1) while scanning cells). A session without a
 * VIEW, or with the defaults (whole room, STATE), has none of this.
 */
#ifndef PZ_VIEW_H
#define PZ_VIEW_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pz_view {
  double radius; /* > 0; 0: the whole room */
  bool compact;  /* STATE_C instead of STATE */
  /* The room's view state (interest.c). */
  bool fresh;    /* ROOM was sent: nothing is in view yet */
  bool changed;  /* the options changed: what is in view goes out in full */
  bool from_all; /* and it had the whole room before: all were in view */
  uint32_t *in;  /* short ids in view */
  uint32_t n_in, cap_in;
  uint64_t *bits; /* the same, as a set */
  uint32_t n_words;
  /* Where its cells were last scanned in full (valid when `scanned`),
   * and the members then found just outside the radius, within `slack`
   * of it: until the viewer has moved `slack` away from there, only they
   * (and members that move) can come within the radius. */
  bool scanned;
  double scan_x, scan_z;
  uint32_t *watch;
  uint32_t n_watch, cap_watch;
  uint64_t *wbits; /* the watch list as a set, n_words words like bits */
} pz_view_t;

static inline bool pz_view_has(const pz_view_t *v, uint32_t i) {
  return i / 64 < v->n_words && (v->bits[i / 64] >> (i % 64) & 1);
}

#endif
