/*
 * Private helpers of the codec: unpacking one message safely and reading
 * typed fields out of msgpack_object values. Shared by the client and server
 * decoders; the accessors are inline because MOVE decoding is the server's
 * hot path.
 */
#ifndef PZ_PROTO_MP_H
#define PZ_PROTO_MP_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "plaza/codec.h"

/* Length of the first complete MessagePack object at data, or -1 when the
 * bytes are malformed or end before the object does. Walks headers only
 * and allocates nothing; it refuses any container whose claimed element
 * count exceeds the bytes left, because msgpack-c allocates a container's
 * element array from its header before the elements arrive. */
ptrdiff_t pz_mp_object_len(const char *data, size_t len);

/* Unpacks data[0..len) into the zone, requiring it to be exactly one array.
 * Returns NULL with *out set, or a static reason for the refusal. Strings
 * in *out point into data. */
const char *pz_mp_unpack_array(const char *data, size_t len, msgpack_zone *zone,
                               msgpack_object_array *out);

/* Where the elements of the array whose bytes are a lie: out[i] for
 * i < n (ptr NULL past the array's end). False when a is not an array or
 * its bytes end early. For the raw bytes of app values, next to the
 * object tree msgpack_unpack made of the same message. */
bool pz_mp_elems(pz_raw_t a, pz_raw_t *out, uint32_t n);
/* A walk over the elements of the array whose bytes are a: start (false
 * when a is not an array), then the bytes of each element in turn (false
 * at the end or where the bytes end early). */
bool pz_mp_array_iter(pz_map_iter_t *it, pz_raw_t a);
bool pz_mp_iter_next(pz_map_iter_t *it, pz_raw_t *out);

/* True when o is an app value: containers nested at most `depth` deep,
 * map keys strings or integers. */
bool pz_mp_value_ok(const msgpack_object *o, int depth);

/* A state patch (HELLO state, SET): a map whose keys are distinct strings
 * of 1-PZ_STATE_KEY_MAX bytes of UTF-8 and whose values are app values.
 * Returns NULL, or a static reason with *code PZ_ERR_BAD_MESSAGE (not a
 * map, a key of another type) or PZ_ERR_INVALID_ARGUMENT. The zone holds
 * the index that finds a key given twice. */
const char *pz_mp_patch_check(const msgpack_object *o, msgpack_zone *zone,
                              int *code);

/* Orders (ptr, len) strings by length, then bytes: the index of keys that
 * finds duplicates and looks keys up (qsort and bsearch). */
int pz_mp_key_cmp(const void *a, const void *b);

/* The names of enum pz_feature's bits, in bit order (WELCOME). */
#define PZ_MP_N_FEATURES 5
extern const char *const pz_mp_features[PZ_MP_N_FEATURES];

/* Element i of a, or NULL when the array is shorter. */
static inline const msgpack_object *pz_mp_at(const msgpack_object_array *a,
                                             uint32_t i) {
  return i < a->size ? &a->ptr[i] : NULL;
}

static inline bool pz_mp_is_nil(const msgpack_object *o) {
  return o == NULL || o->type == MSGPACK_OBJECT_NIL;
}

/* Non-negative integer. msgpack-c files every non-negative value, whatever
 * its wire width or signedness, as POSITIVE_INTEGER. */
static inline bool pz_mp_uint(const msgpack_object *o, uint64_t *v) {
  if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return false;
  *v = o->via.u64;
  return true;
}

/* A MessagePack str. msgpack-c 4.0 gives a zero-length str a NULL ptr;
 * a static "" keeps NULL meaning "absent" for our callers. */
static inline bool pz_mp_str(const msgpack_object *o, pz_str_t *s) {
  if (o == NULL || o->type != MSGPACK_OBJECT_STR)
    return false;
  s->ptr = o->via.str.size ? o->via.str.ptr : "";
  s->len = o->via.str.size;
  return true;
}

/* An optional str: absent or nil gives the absent string. */
static inline bool pz_mp_opt_str(const msgpack_object *o, pz_str_t *s) {
  if (pz_mp_is_nil(o)) {
    *s = (pz_str_t){NULL, 0};
    return true;
  }
  return pz_mp_str(o, s);
}

enum { PZ_MP_NUM_OK = 0, PZ_MP_NUM_TYPE = -1, PZ_MP_NUM_RANGE = -2 };

/* Any MessagePack number as a double: float32, float64 or integer. */
static inline int pz_mp_double(const msgpack_object *o, double *d) {
  if (o == NULL)
    return PZ_MP_NUM_TYPE;
  switch (o->type) {
  case MSGPACK_OBJECT_FLOAT32: /* msgpack-c widens float32 into via.f64 */
  case MSGPACK_OBJECT_FLOAT64:
    *d = o->via.f64;
    return PZ_MP_NUM_OK;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    *d = (double)o->via.u64;
    return PZ_MP_NUM_OK;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    *d = (double)o->via.i64;
    return PZ_MP_NUM_OK;
  default:
    return PZ_MP_NUM_TYPE;
  }
}

/* A coordinate: any number that is finite once narrowed to float32. A
 * double beyond FLT_MAX would become infinite (and converting it is
 * undefined in ISO C), so it is refused like an infinity. */
static inline int pz_mp_coord(const msgpack_object *o, float *f) {
  double d;
  int rc = pz_mp_double(o, &d);
  if (rc != PZ_MP_NUM_OK)
    return rc;
  if (!isfinite(d) || fabs(d) > FLT_MAX)
    return PZ_MP_NUM_RANGE;
  *f = (float)d;
  return PZ_MP_NUM_OK;
}

/* ---- packing --------------------------------------------------------- */

/* A required string: NULL writes "", so the message stays well formed. */
static inline void pz_mp_pack_str(msgpack_packer *pk, pz_str_t s) {
  msgpack_pack_str(pk, s.ptr ? s.len : 0);
  if (s.ptr != NULL && s.len > 0)
    msgpack_pack_str_body(pk, s.ptr, s.len);
}

/* An optional string: NULL writes nil. */
static inline void pz_mp_pack_opt_str(msgpack_packer *pk, pz_str_t s) {
  if (s.ptr == NULL)
    msgpack_pack_nil(pk);
  else
    pz_mp_pack_str(pk, s);
}

/* A value's bytes as they are; ptr NULL writes `absent` (0xc0 nil,
 * 0x80 the empty map). */
static inline void pz_mp_pack_raw(msgpack_packer *pk, pz_raw_t v,
                                  unsigned char absent) {
  if (v.ptr == NULL)
    pk->callback(pk->data, (const char *)&absent, 1);
  else
    pk->callback(pk->data, v.ptr, v.len);
}

/* The four coordinates, as float32 as protocol.md requires. */
static inline void pz_mp_pack_pos(msgpack_packer *pk, const pz_pos_t *p) {
  msgpack_pack_float(pk, p->x);
  msgpack_pack_float(pk, p->y);
  msgpack_pack_float(pk, p->z);
  msgpack_pack_float(pk, p->yaw);
}

#endif
