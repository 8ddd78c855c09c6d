/*
 * Interest management: what each member with a VIEW receives of a room's
 * positions (protocol 1.1 VIEW, AWAY, STATE_C; see interest.h, grid.h,
 * view.h and docs/architecture.md, "Rooms and the tick").
 *
 * Design. Per room and tick:
 *  1. The members that moved (local ones from r->dirty, other nodes' from
 *     r->rdirty, new ones) are put in their cells, each cell noting its
 *     movers.
 *  2. Each member's entry is encoded at most once per tick and form: a
 *     STATE entry, a STATE_C delta against its previous compact entry, or
 *     a full STATE_C entry; every view that carries it copies those bytes.
 *  3. For each viewer: the members in its view are walked (a member past
 *     1.25 r goes, and is named in an AWAY; one that moved is carried);
 *     then candidates to enter are looked for. A full scan looks at every
 *     member of the cells within r + slack of the viewer, and notes those
 *     found between r and r + slack (its watch list). Until the viewer
 *     has walked `slack` away from where it scanned, no member that stood
 *     still can come within r but those: the tick looks only at them and
 *     at the movers of the cells within r + slack of where it scanned
 *     (which watches those of them that come near). A member that enters
 *     is carried in full. Slack is a quarter of the radius, at most 8 units:
 *     a walker rescans every 6 to 12 ticks, and watches about as many
 *     members as stand in a ring of that width.
 * So the tick's work grows with viewers times the members near each, and
 * with movers; never with the square of the room.
 *
 * Why deltas stay right: every viewer that has a member in view received
 * that member's every compact entry since it entered (each tick the member
 * moved, all its viewers carry it; one that entered meanwhile got it in
 * full). So "the member's previous entry" is the same for all of them,
 * and one delta serves all. When a viewer's queue drops a STATE (the
 * outlet says PZ_OUTLET_LOST as the newer one replaces it), the viewer
 * would hold deltas whose ground it never had: it gets at once, in place
 * of the partial one, a full STATE of everything in its view, which an
 * outlet never counts as a loss. A slow reader with a VIEW is therefore
 * exact at every STATE it reads, not only eventually.
 */
#include "interest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "grid.h"
#include "shard_int.h"
#include "view.h"

typedef struct ref {
  uint32_t idx;
  uint32_t kind; /* PZ_ENT_* */
} ref_t;

/* The shard's scratch for the tick: reused, so a warm tick allocates only
 * its payloads. */
typedef struct pz_interest {
  msgpack_sbuffer ents; /* this room's entries of this tick */
  msgpack_packer pk;
  ref_t *refs; /* what one view's STATE carries */
  uint32_t n_refs, cap_refs;
  uint64_t *aways; /* who left one view */
  uint32_t n_aways, cap_aways;
  uint32_t *movers; /* the room's, this tick */
  uint32_t n_movers, cap_movers;
  uint32_t *based; /* bodies whose compact entry went out this tick */
  uint32_t n_based, cap_based;
} pz_interest_t;

#define GROW(v, n, cap)                                                        \
  do {                                                                         \
    if ((n) == (cap)) {                                                        \
      (cap) = (cap) ? (cap)*2 : 16;                                            \
      (v) = pz_xrealloc((v), (cap) * sizeof(*(v)));                            \
    }                                                                          \
  } while (0)

static pz_interest_t *scratch(pz_shard_t *sh) {
  if (sh->interest == NULL) {
    sh->interest = pz_xcalloc(1, sizeof(*sh->interest));
    msgpack_sbuffer_init(&sh->interest->ents);
    msgpack_packer_init(&sh->interest->pk, &sh->interest->ents,
                        msgpack_sbuffer_write);
  }
  return sh->interest;
}

void pz_interest_dispose(pz_shard_t *sh) {
  pz_interest_t *it = sh->interest;
  if (it == NULL)
    return;
  msgpack_sbuffer_destroy(&it->ents);
  free(it->refs);
  free(it->aways);
  free(it->movers);
  free(it->based);
  free(it);
  sh->interest = NULL;
}

static uint64_t b_id(const pz_body_t *b) {
  return b->s ? b->s->id : b->rm->id;
}

static uint64_t b_seq(const pz_body_t *b) {
  return b->s ? b->s->seq : b->rm->seq;
}

static const pz_pos_t *b_pos(const pz_body_t *b) {
  return b->s ? &b->s->pos : &b->rm->pos;
}

/* Horizontal distance squared, between places as of the tick. */
static double d2(const pz_xz_t *a, const pz_xz_t *b) {
  double dx = (double)a->x - b->x, dz = (double)a->z - b->z;
  return dx * dx + dz * dz;
}

/* ---- a view's set ------------------------------------------------------ */

static void view_fit(pz_view_t *v, uint32_t n_bodies) {
  uint32_t words = (n_bodies + 63) / 64;
  if (words <= v->n_words)
    return;
  v->bits = pz_xrealloc(v->bits, words * sizeof(*v->bits));
  memset(v->bits + v->n_words, 0, (words - v->n_words) * sizeof(*v->bits));
  v->wbits = pz_xrealloc(v->wbits, words * sizeof(*v->wbits));
  memset(v->wbits + v->n_words, 0, (words - v->n_words) * sizeof(*v->wbits));
  v->n_words = words;
}

static void view_add(pz_view_t *v, uint32_t i) {
  GROW(v->in, v->n_in, v->cap_in);
  v->in[v->n_in++] = i;
  v->bits[i / 64] |= 1ull << (i % 64);
}

/* Takes in[k] out of the view. */
static void view_del_at(pz_view_t *v, uint32_t k) {
  uint32_t i = v->in[k];
  v->bits[i / 64] &= ~(1ull << (i % 64));
  v->in[k] = v->in[--v->n_in];
}

static void view_clear(pz_view_t *v) {
  v->n_in = 0;
  v->n_watch = 0;
  v->scanned = false;
  if (v->bits) {
    memset(v->bits, 0, v->n_words * sizeof(*v->bits));
    memset(v->wbits, 0, v->n_words * sizeof(*v->wbits));
  }
}

void pz_interest_session_free(pz_session_t *s) {
  pz_view_t *v = s->view;
  if (v == NULL)
    return;
  free(v->in);
  free(v->watch);
  free(v->wbits);
  free(v->bits);
  free(v);
  s->view = NULL;
}

/* ---- grids come and go with viewers ------------------------------------ */

static void grid_on(pz_shard_t *sh, pz_room_t *r) {
  r->grid = pz_grid_create(sh->cfg.view_cell);
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_session_t *s = r->members[i];
    s->vidx = pz_grid_add(r->grid, s, NULL, &s->pos);
  }
  pz_remote_t *rm, *tmp;
  HASH_ITER(hh, r->remote, rm, tmp) {
    rm->vidx = pz_grid_add(r->grid, NULL, rm, &rm->pos);
  }
}

static void grid_off(pz_room_t *r) {
  pz_grid_destroy(r->grid);
  r->grid = NULL;
  for (uint32_t i = 0; i < r->n_members; i++)
    r->members[i]->vidx = PZ_GRID_NONE;
  pz_remote_t *rm, *tmp;
  HASH_ITER(hh, r->remote, rm, tmp) {
    rm->vidx = PZ_GRID_NONE;
  }
}

static void viewer_add(pz_shard_t *sh, pz_room_t *r) {
  if (r->n_viewers++ == 0)
    grid_on(sh, r);
}

static void viewer_remove(pz_room_t *r) {
  if (--r->n_viewers == 0)
    grid_off(r);
}

/* Short id i (member `id`) leaves r's grid: the views that had it forget
 * it, and when the others are not told LEFT, hear AWAY. */
static void body_gone(pz_shard_t *sh, pz_room_t *r, uint32_t i, uint64_t id,
                      pz_session_t *skip, bool away) {
  pz_payload_t *p = NULL;
  for (uint32_t k = 0; k < r->n_members; k++) {
    pz_session_t *m = r->members[k];
    pz_view_t *v = m->view;
    if (v == NULL || m == skip || !pz_view_has(v, i))
      continue;
    for (uint32_t j = 0; j < v->n_in; j++)
      if (v->in[j] == i) {
        view_del_at(v, j);
        break;
      }
    if (away && m->outlet) {
      if (p == NULL) {
        pz_enc_away(pz_wire_begin(&sh->wire), &id, 1);
        p = pz_payload_create(pz_wire_data(&sh->wire), pz_wire_len(&sh->wire),
                              PZ_PAYLOAD_RELIABLE);
      }
      pz_outlet_send(m->outlet, p->data, p->len, p->kind, p);
    }
  }
  if (p)
    pz_payload_unref(p);
  pz_grid_remove(r->grid, i);
}

/* ---- members and views come and go -------------------------------------- */

static void view_start(pz_view_t *v) {
  view_clear(v);
  v->fresh = true;
  v->changed = v->from_all = false;
}

void pz_interest_join(pz_shard_t *sh, pz_room_t *r, pz_session_t *s) {
  if (r->grid && s->vidx == PZ_GRID_NONE)
    s->vidx = pz_grid_add(r->grid, s, NULL, &s->pos);
  if (s->view) {
    view_start(s->view);
    viewer_add(sh, r);
  }
}

void pz_interest_leave(pz_shard_t *sh, pz_room_t *r, pz_session_t *s,
                       bool away) {
  if (r->grid && s->vidx != PZ_GRID_NONE)
    body_gone(sh, r, s->vidx, s->id, s, away);
  s->vidx = PZ_GRID_NONE;
  if (s->view) {
    view_clear(s->view);
    viewer_remove(r);
  }
}

void pz_interest_remote_join(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm) {
  rm->vidx = r->grid ? pz_grid_add(r->grid, NULL, rm, &rm->pos) : PZ_GRID_NONE;
}

void pz_interest_remote_leave(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm,
                              bool away) {
  if (r->grid && rm->vidx != PZ_GRID_NONE)
    body_gone(sh, r, rm->vidx, rm->id, NULL, away);
  rm->vidx = PZ_GRID_NONE;
}

void pz_interest_take_over(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm,
                           pz_session_t *s) {
  if (r->grid == NULL || rm->vidx == PZ_GRID_NONE)
    return;
  if (s->vidx != PZ_GRID_NONE) /* never both: but keep one body */
    body_gone(sh, r, s->vidx, s->id, s, true);
  s->vidx = rm->vidx;
  rm->vidx = PZ_GRID_NONE;
  pz_grid_replace(r->grid, s->vidx, s, NULL);
}

void pz_interest_room_sent(pz_session_t *s) {
  if (s->view == NULL || s->room == NULL)
    return;
  view_start(s->view);
  s->room->view_pending = true;
}

pz_shard_result_t pz_shard_view(pz_shard_t *sh, pz_session_t *s, double radius,
                                bool compact) {
  pz_view_t *v = s->view;
  pz_room_t *r = s->room;
  s->changed |= PZ_SESSION_CHANGED; /* its record carries the VIEW */
  if (radius <= 0 && !compact) {    /* the whole room as STATE: v1 */
    if (v == NULL)
      return PZ_SHARD_OK;
    pz_interest_session_free(s);
    if (r) {
      viewer_remove(r);
      /* what it did not have in view, a full STATE brings */
      pz_shard_behind_set(r, s);
    }
    return PZ_SHARD_OK;
  }
  if (v == NULL) {
    v = s->view = pz_xcalloc(1, sizeof(*v));
    v->radius = radius > 0 ? radius : 0;
    v->compact = compact;
    if (r) {
      pz_shard_behind_clear(r, s); /* a full view follows instead */
      viewer_add(sh, r);
      v->from_all = v->changed = true;
      r->view_pending = true;
    }
    return PZ_SHARD_OK;
  }
  if (v->radius == radius && v->compact == compact)
    return PZ_SHARD_OK;
  v->radius = radius > 0 ? radius : 0;
  v->compact = compact;
  v->scanned = false;
  if (r) {
    v->changed = true;
    r->view_pending = true;
  }
  return PZ_SHARD_OK;
}

/* ---- the tick ------------------------------------------------------------ */

/* Body i moved (or is new) this tick: into its cell and the movers. */
static void mark_moved(pz_interest_t *it, pz_grid_t *g, uint32_t i,
                       uint64_t tick) {
  if (i == PZ_GRID_NONE || pz_grid_has_moved(g, i))
    return;
  pz_body_t *b = &g->bodies[i];
  pz_grid_set_moved(g, i, true);
  pz_grid_place(g, i, b_pos(b));
  pz_grid_moved(g, i, tick);
  GROW(it->movers, it->n_movers, it->cap_movers);
  it->movers[it->n_movers++] = i;
}

static void append(pz_interest_t *it, const uint8_t *p, size_t n) {
  msgpack_sbuffer_write(&it->ents, (const char *)p, n);
}

/* Body i's entry of form `kind`, encoded at most once this tick. */
static void entry(pz_shard_t *sh, pz_interest_t *it, pz_grid_t *g, uint32_t i,
                  uint32_t kind) {
  pz_body_t *b = &g->bodies[i];
  if (b->etick != sh->tick) {
    b->etick = sh->tick;
    memset(b->len, 0, sizeof(b->len));
  }
  if (b->len[kind])
    return;
  uint32_t off = (uint32_t)it->ents.size;
  if (kind == PZ_ENT_PLAIN) {
    pz_state_entry_t e = {b_id(b), b_seq(b), *b_pos(b)};
    pz_enc_state_entry(&it->pk, &e);
  } else {
    uint8_t buf[PZ_COMPACT_ENTRY_MAX];
    size_t n = 0;
    if (!b->len[PZ_ENT_DELTA] && !b->len[PZ_ENT_FULL]) {
      GROW(it->based, it->n_based, it->cap_based);
      it->based[it->n_based++] = i; /* its baseline moves on at the end */
    }
    pz_compact_q_t now;
    if (kind == PZ_ENT_DELTA && b->based &&
        pz_compact_quantize(b_pos(b), b_seq(b), &now))
      n = pz_compact_put_delta(buf, i, &b->base, &now);
    if (n == 0) /* no ground to stand on, or too far: in full */
      n = pz_compact_put_full(buf, i, b_id(b), b_seq(b), b_pos(b), NULL);
    append(it, buf, n);
  }
  b->off[kind] = off;
  b->len[kind] = (uint16_t)(it->ents.size - off);
}

typedef struct vctx {
  pz_shard_t *sh;
  pz_interest_t *it;
  pz_grid_t *g;
  pz_session_t *s;
  pz_view_t *v;
  const pz_xz_t *p;     /* the viewer's place */
  const uint64_t *bits; /* v->bits, sized to the grid (view_fit) */
  uint32_t self;        /* the viewer's short id */
  double r2;
  double w2;  /* (r + slack)^2, around where it scanned in full */
  bool all;   /* radius 0: the whole room */
  bool whole; /* full entries for everything carried */
} vctx_t;

static void ref(vctx_t *x, uint32_t i, uint32_t kind) {
  pz_interest_t *it = x->it;
  if (!x->v->compact)
    kind = PZ_ENT_PLAIN;
  entry(x->sh, it, x->g, i, kind);
  GROW(it->refs, it->n_refs, it->cap_refs);
  it->refs[it->n_refs++] = (ref_t){i, kind};
}

/* Body i goes on the watch list (once). */
static void watch(pz_view_t *v, uint32_t i) {
  uint64_t bit = 1ull << (i % 64);
  if (v->wbits[i / 64] & bit)
    return;
  v->wbits[i / 64] |= bit;
  GROW(v->watch, v->n_watch, v->cap_watch);
  v->watch[v->n_watch++] = i;
}

/* Takes watch[k] off the list. */
static void unwatch_at(pz_view_t *v, uint32_t k) {
  uint32_t i = v->watch[k];
  v->wbits[i / 64] &= ~(1ull << (i % 64));
  v->watch[k] = v->watch[--v->n_watch];
}

/* Body i may enter the view. One that does not and stands within
 * r + slack of where the view was scanned in full is watched: the
 * invariant is that every member out of view and off the watch list is
 * farther than r + slack from there, so farther than r from a viewer that
 * has walked less than slack since. */
static void consider_out(vctx_t *x, uint32_t i) {
  if (i != x->self && !x->all) { /* its own entry is always carried */
    const pz_xz_t *q = &x->g->xz[i];
    if (d2(x->p, q) > x->r2) {
      double dx = (double)q->x - x->v->scan_x, dz = (double)q->z - x->v->scan_z;
      if (dx * dx + dz * dz <= x->w2)
        watch(x->v, i);
      return;
    }
  }
  view_add(x->v, i);
  ref(x, i, PZ_ENT_FULL);
}

/* The common case, inline: most candidates are in view already. */
static inline void consider(vctx_t *x, uint32_t i) {
  if (!(x->bits[i / 64] >> (i % 64) & 1))
    consider_out(x, i);
}

static void scan_cell(vctx_t *x, const pz_cell_t *c, bool everyone) {
  if (everyone) {
    for (uint32_t k = 0; k < c->n; k++)
      consider(x, c->ids[k]);
  } else if (c->movers_tick == x->sh->tick) {
    for (uint32_t k = 0; k < c->n_movers; k++)
      consider(x, c->movers[k]);
  }
}

/* Candidates in the cells within `radius` of (ox, oz). */
static void scan_square(vctx_t *x, double ox, double oz, double radius,
                        bool everyone) {
  pz_grid_t *g = x->g;
  int64_t cx0 = pz_grid_coord(g, ox - radius),
          cx1 = pz_grid_coord(g, ox + radius),
          cz0 = pz_grid_coord(g, oz - radius),
          cz1 = pz_grid_coord(g, oz + radius);
  double span = (double)(cx1 - cx0 + 1) * (double)(cz1 - cz0 + 1);
  if (span > g->n_cells) { /* a radius wider than the crowd */
    for (uint32_t k = 0; k < g->n_slots; k++) {
      const pz_cell_t *c = g->slots[k];
      if (c && c->cx >= cx0 && c->cx <= cx1 && c->cz >= cz0 && c->cz <= cz1)
        scan_cell(x, c, everyone);
    }
    return;
  }
  for (int64_t cx = cx0; cx <= cx1; cx++)
    for (int64_t cz = cz0; cz <= cz1; cz++) {
      const pz_cell_t *c = pz_grid_cell(g, (int32_t)cx, (int32_t)cz);
      if (c)
        scan_cell(x, c, everyone);
    }
}

/* The STATE or STATE_C of the refs, as a payload of `kind`. */
static pz_payload_t *build(pz_shard_t *sh, pz_grid_t *g, const pz_view_t *v,
                           int kind) {
  pz_interest_t *it = sh->interest;
  msgpack_packer *pk = pz_wire_begin(&sh->wire);
  size_t total = 0;
  for (uint32_t k = 0; k < it->n_refs; k++)
    total += g->bodies[it->refs[k].idx].len[it->refs[k].kind];
  if (v->compact)
    pz_enc_state_c_begin(pk, sh->tick, it->n_refs, total);
  else
    pz_enc_state_begin(pk, sh->tick, it->n_refs);
  uint8_t *out = pz_wire_append(&sh->wire, total);
  for (uint32_t k = 0; k < it->n_refs; k++) {
    const pz_body_t *b = &g->bodies[it->refs[k].idx];
    uint32_t kind_k = it->refs[k].kind;
    memcpy(out, it->ents.data + b->off[kind_k], b->len[kind_k]);
    out += b->len[kind_k];
  }
  sh->stats.state_frames++;
  sh->stats.state_entries += it->n_refs;
  if (v->compact) {
    sh->stats.state_c_frames++;
    sh->stats.state_c_entries += it->n_refs;
    sh->stats.state_c_bytes += pz_wire_len(&sh->wire);
  }
  return pz_payload_create(pz_wire_data(&sh->wire), pz_wire_len(&sh->wire),
                           kind);
}

/* Sends what x's view gets this tick: AWAY first, then the STATE; and when
 * that STATE replaced an unsent one, a full one at once in its place. */
static void send_view(vctx_t *x, bool whole) {
  pz_shard_t *sh = x->sh;
  pz_interest_t *it = x->it;
  pz_outlet_t *o = x->s->outlet;
  if (it->n_aways) {
    pz_enc_away(pz_wire_begin(&sh->wire), it->aways, it->n_aways);
    pz_wire_send(&sh->wire, o, PZ_PAYLOAD_RELIABLE);
    sh->stats.aways += it->n_aways;
  }
  if (it->n_refs == 0)
    return;
  pz_payload_t *p =
      build(sh, x->g, x->v, whole ? PZ_PAYLOAD_STATE_FULL : PZ_PAYLOAD_STATE);
  int rc = pz_outlet_send(o, p->data, p->len, p->kind, p);
  pz_payload_unref(p);
  if (rc != PZ_OUTLET_LOST)
    return;
  it->n_refs = 0;
  for (uint32_t k = 0; k < x->v->n_in; k++)
    ref(x, x->v->in[k], PZ_ENT_FULL);
  p = build(sh, x->g, x->v, PZ_PAYLOAD_STATE_FULL);
  pz_outlet_send(o, p->data, p->len, p->kind, p);
  pz_payload_unref(p);
  sh->stats.state_resyncs++;
}

/* It had the whole room in view (no VIEW before): those within 1.25 r
 * stay in view, the others are away. */
static void take_all(vctx_t *x, double out2) {
  pz_grid_t *g = x->g;
  for (uint32_t i = 0; i < g->n_bodies; i++) {
    if (!pz_grid_used(g, i))
      continue;
    if (i == x->s->vidx || x->all || d2(x->p, &g->xz[i]) <= out2) {
      view_add(x->v, i);
    } else {
      GROW(x->it->aways, x->it->n_aways, x->it->cap_aways);
      x->it->aways[x->it->n_aways++] = b_id(&g->bodies[i]);
    }
  }
}

static void view_tick(pz_shard_t *sh, pz_room_t *r, pz_session_t *s) {
  pz_interest_t *it = sh->interest;
  pz_grid_t *g = r->grid;
  pz_view_t *v = s->view;
  if (s->vidx == PZ_GRID_NONE)
    return;
  double out = v->radius * PZ_VIEW_HYSTERESIS;
  double slack = v->radius / 4 < 8 ? v->radius / 4 : 8;
  vctx_t x = {.sh = sh,
              .it = it,
              .g = g,
              .s = s,
              .v = v,
              .p = &g->xz[s->vidx],
              .self = s->vidx,
              .r2 = v->radius * v->radius,
              .w2 = (v->radius + slack) * (v->radius + slack),
              .all = v->radius == 0,
              .whole = v->changed};
  bool moving = pz_grid_has_moved(g, s->vidx) || v->fresh || v->changed;
  view_fit(v, g->n_bodies);
  x.bits = v->bits;
  it->n_refs = it->n_aways = 0;
  if (v->from_all)
    take_all(&x, out * out);

  /* Those in view: gone past 1.25 r, or carried when they moved. */
  for (uint32_t k = 0; k < v->n_in;) {
    uint32_t i = v->in[k];
    bool moved = pz_grid_has_moved(g, i);
    if (!x.all && i != s->vidx && (moving || moved) &&
        d2(x.p, &g->xz[i]) > out * out) {
      GROW(it->aways, it->n_aways, it->cap_aways);
      it->aways[it->n_aways++] = b_id(&g->bodies[i]);
      view_del_at(v, k);
      if (v->scanned) /* the viewer may walk back to it */
        watch(v, i);
      continue;
    }
    if (x.whole)
      ref(&x, i, PZ_ENT_FULL);
    else if (moved)
      ref(&x, i, PZ_ENT_DELTA);
    k++;
  }

  /* Those who may enter: within r, in full. */
  if (x.all && (v->fresh || v->changed)) {
    for (uint32_t i = 0; i < g->n_bodies; i++)
      if (pz_grid_used(g, i))
        consider(&x, i);
  } else if (x.all) {
    for (uint32_t k = 0; k < it->n_movers; k++)
      consider(&x, it->movers[k]);
  } else {
    double dx = x.p->x - v->scan_x, dz = x.p->z - v->scan_z;
    if (!v->scanned || (moving && dx * dx + dz * dz > slack * slack)) {
      while (v->n_watch) /* a full scan, from here */
        unwatch_at(v, v->n_watch - 1);
      v->scanned = true;
      v->scan_x = x.p->x;
      v->scan_z = x.p->z;
      scan_square(&x, v->scan_x, v->scan_z, v->radius + slack, true);
    } else {
      /* Only those watched, and the movers within r + slack of where it
       * scanned (which holds everything within r of it now). */
      for (uint32_t k = 0; k < v->n_watch;) {
        uint32_t i = v->watch[k];
        if (!pz_grid_used(g, i) || pz_view_has(v, i)) { /* left, or in */
          unwatch_at(v, k);
          continue;
        }
        consider(&x, i);
        k++;
      }
      scan_square(&x, v->scan_x, v->scan_z, v->radius + slack, false);
    }
  }
  v->fresh = v->changed = v->from_all = false;
  send_view(&x, x.whole);
}

void pz_interest_tick(pz_shard_t *sh, pz_room_t *r) {
  pz_grid_t *g = r->grid;
  if (g == NULL)
    return;
  pz_interest_t *it = scratch(sh);
  it->n_movers = 0;
  for (uint32_t k = 0; k < r->n_dirty; k++)
    mark_moved(it, g, r->dirty[k]->vidx, sh->tick);
  for (uint32_t k = 0; k < r->n_rdirty; k++)
    mark_moved(it, g, r->rdirty[k]->vidx, sh->tick);
  for (uint32_t k = 0; k < g->n_fresh; k++) {
    g->bodies[g->fresh[k]].fresh = false;
    mark_moved(it, g, g->fresh[k], sh->tick);
  }
  g->n_fresh = 0;
  if (it->n_movers == 0 && !r->view_pending)
    return;
  r->view_pending = false;
  it->ents.size = 0;
  it->n_based = 0;

  for (uint32_t k = 0; k < r->n_members; k++) {
    pz_session_t *s = r->members[k];
    if (s->view && s->outlet)
      view_tick(sh, r, s);
  }

  /* Every viewer of these now holds their current place: deltas go on
   * from there. */
  for (uint32_t k = 0; k < it->n_based; k++) {
    pz_body_t *b = &g->bodies[it->based[k]];
    b->based = pz_compact_quantize(b_pos(b), b_seq(b), &b->base);
  }
  for (uint32_t k = 0; k < it->n_movers; k++)
    pz_grid_set_moved(g, it->movers[k], false);
}
