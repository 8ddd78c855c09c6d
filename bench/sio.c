/* Socket.io packets with the msgpack parser (see sio.h). */
#include "sio.h"

#include <math.h>
#include <string.h>

static bool str_is(const char *s, uint32_t n, const char *lit) {
  return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

bool pz_sio_name_is(const char *name, uint32_t len, const char *lit) {
  return str_is(name, len, lit);
}

int pz_sio_decode(const uint8_t *p, size_t len, pz_sio_packet_t *out) {
  pz_mpr_t r;
  uint32_t n;

  *out = (pz_sio_packet_t){.type = -1, .nsp_root = true};
  pz_mpr_init(&r, p, len);
  if (pz_mpr_map(&r, &n) != 0)
    return -1;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    uint32_t kl;
    if (pz_mpr_str(&r, &k, &kl) != 0)
      return -1;
    if (str_is(k, kl, "type")) {
      uint64_t t;
      if (pz_mpr_uint(&r, &t) != 0 || t > 6)
        return -1;
      out->type = (int)t;
    } else if (str_is(k, kl, "nsp")) {
      const char *s;
      uint32_t sl;
      if (pz_mpr_str(&r, &s, &sl) != 0)
        return -1;
      out->nsp_root = str_is(s, sl, "/");
    } else if (str_is(k, kl, "data")) {
      const uint8_t *start = r.p;
      if (pz_mpr_skip(&r) != 0)
        return -1;
      out->data = start;
      out->data_len = (size_t)(r.p - start);
    } else if (str_is(k, kl, "id")) {
      if (pz_mpr_uint(&r, &out->id) != 0)
        return -1;
      out->has_id = true;
    } else if (pz_mpr_skip(&r) != 0) {
      return -1;
    }
  }
  if (out->type < 0 || r.p != r.end)
    return -1;
  return 0;
}

int pz_sio_event(const pz_sio_packet_t *pk, const char **name,
                 uint32_t *name_len, pz_mpr_t *arg, bool *has_arg) {
  uint32_t n;

  if (pk->data == NULL)
    return -1;
  pz_mpr_init(arg, pk->data, pk->data_len);
  if (pz_mpr_array(arg, &n) != 0 || n < 1 ||
      pz_mpr_str(arg, name, name_len) != 0)
    return -1;
  *has_arg = n >= 2;
  return 0;
}

/* A non-negative integer sent as an int or an integral float64. */
static int read_id(pz_mpr_t *r, uint64_t *v) {
  if (pz_mpr_uint(r, v) == 0)
    return 0;
  double d;
  pz_mpr_t save = *r;
  if (pz_mpr_num(r, &d) != 0 || !(d >= 0) || d > 9007199254740991.0 ||
      d != floor(d)) {
    *r = save;
    return -1;
  }
  *v = (uint64_t)d;
  return 0;
}

int pz_sio_state_begin(pz_mpr_t *arg, uint64_t *tick, uint32_t *n) {
  uint32_t two;
  if (pz_mpr_array(arg, &two) != 0 || two < 2 || read_id(arg, tick) != 0 ||
      pz_mpr_array(arg, n) != 0)
    return -1;
  return 0;
}

int pz_sio_state_entry(pz_mpr_t *r, uint64_t *id, uint64_t *seq,
                       double pos[4]) {
  uint32_t m;
  double d[4];
  if (pz_mpr_array(r, &m) != 0 || m < 6 || read_id(r, id) != 0 ||
      read_id(r, seq) != 0)
    return -1;
  for (int i = 0; i < 4; i++)
    if (pz_mpr_num(r, &d[i]) != 0)
      return -1;
  for (uint32_t i = 6; i < m; i++) /* later fields: ignored */
    if (pz_mpr_skip(r) != 0)
      return -1;
  if (pos != NULL)
    memcpy(pos, d, sizeof(d));
  return 0;
}

bool pz_sio_peek_state(const uint8_t *p, size_t len, uint32_t *entries) {
  /* {"type":2, "data":["state", [tick, [...]]] ...} as the server writes */
  static const uint8_t head[] = {0x83, 0xa4, 't', 'y', 'p', 'e',  0x02,
                                 0xa4, 'd',  'a', 't', 'a', 0x92, 0xa5,
                                 's',  't',  'a', 't', 'e'};
  pz_mpr_t r;
  uint64_t tick;
  uint32_t two;
  double d;

  if (len < sizeof(head) || memcmp(p, head, sizeof(head)) != 0)
    return false;
  pz_mpr_init(&r, p + sizeof(head), len - sizeof(head));
  if (pz_mpr_array(&r, &two) != 0 || two < 2)
    return false;
  if (pz_mpr_uint(&r, &tick) != 0 && pz_mpr_num(&r, &d) != 0)
    return false;
  return pz_mpr_array(&r, entries) == 0;
}

static void pack_lit(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

static void enc_control(msgpack_packer *pk, int type) {
  msgpack_pack_map(pk, 2);
  pack_lit(pk, "type");
  msgpack_pack_uint8(pk, (uint8_t)type);
  pack_lit(pk, "nsp");
  pack_lit(pk, "/");
}

void pz_sio_enc_connect(msgpack_packer *pk) {
  enc_control(pk, PZ_SIO_CONNECT);
}

void pz_sio_enc_disconnect(msgpack_packer *pk) {
  enc_control(pk, PZ_SIO_DISCONNECT);
}

void pz_sio_enc_event_begin(msgpack_packer *pk, const char *name,
                            bool has_arg) {
  msgpack_pack_map(pk, 3);
  pack_lit(pk, "type");
  msgpack_pack_uint8(pk, PZ_SIO_EVENT);
  pack_lit(pk, "data");
  msgpack_pack_array(pk, has_arg ? 2 : 1);
  pack_lit(pk, name);
}

void pz_sio_enc_event_end(msgpack_packer *pk) {
  pack_lit(pk, "nsp");
  pack_lit(pk, "/");
}
