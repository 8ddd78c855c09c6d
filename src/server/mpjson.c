/* MessagePack values and JSON (see mpjson.h). */
#include "mpjson.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static json_t *base64(const char *p, uint32_t n) {
  char *out = pz_xmalloc(4 * ((size_t)n / 3 + 1) + 1);
  int len =
      EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
  json_t *j = json_stringn(out, (size_t)len);
  free(out);
  return j;
}

static json_t *from_object(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    return json_null();
  case MSGPACK_OBJECT_BOOLEAN:
    return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > (uint64_t)INT64_MAX) /* past json_int_t: a real */
      return json_real((double)o->via.u64);
    return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    return json_integer((json_int_t)o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
  case MSGPACK_OBJECT_STR:
    if (pz_utf8_valid(o->via.str.ptr, o->via.str.size))
      return json_stringn(o->via.str.size ? o->via.str.ptr : "",
                          o->via.str.size);
    return json_pack("{so}", "$bin", base64(o->via.str.ptr, o->via.str.size));
  case MSGPACK_OBJECT_BIN:
    return json_pack("{so}", "$bin", base64(o->via.bin.ptr, o->via.bin.size));
  case MSGPACK_OBJECT_EXT:
    return json_pack("{siso}", "$ext", (int)o->via.ext.type, "data",
                     base64(o->via.ext.ptr, o->via.ext.size));
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++)
      json_array_append_new(a, from_object(&o->via.array.ptr[i]));
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object *k = &o->via.map.ptr[i].key;
      char num[24];
      const char *key = num;
      size_t klen;
      if (k->type == MSGPACK_OBJECT_STR &&
          pz_utf8_valid(k->via.str.ptr, k->via.str.size)) {
        key = k->via.str.size ? k->via.str.ptr : "";
        klen = k->via.str.size;
      } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        klen = (size_t)snprintf(num, sizeof(num), "%llu",
                                (unsigned long long)k->via.u64);
      } else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        klen =
            (size_t)snprintf(num, sizeof(num), "%lld", (long long)k->via.i64);
      } else {
        continue; /* app values have none: the codec refuses them */
      }
      json_object_setn_new(m, key, klen, from_object(&o->via.map.ptr[i].val));
    }
    return m;
  }
  }
  return json_null();
}

json_t *pz_mpjson_from(pz_raw_t v) {
  if (v.ptr == NULL)
    return json_null();
  msgpack_zone zone;
  if (!msgpack_zone_init(&zone, 1024))
    return NULL;
  msgpack_object o;
  size_t off = 0;
  json_t *j = NULL;
  if (msgpack_unpack(v.ptr, v.len, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS)
    j = from_object(&o);
  msgpack_zone_destroy(&zone);
  return j;
}

int pz_mpjson_pack(msgpack_packer *pk, const json_t *j, int depth) {
  switch (json_typeof(j)) {
  case JSON_NULL:
    return msgpack_pack_nil(pk);
  case JSON_TRUE:
    return msgpack_pack_true(pk);
  case JSON_FALSE:
    return msgpack_pack_false(pk);
  case JSON_INTEGER:
    return msgpack_pack_int64(pk, json_integer_value(j));
  case JSON_REAL:
    return msgpack_pack_double(pk, json_real_value(j));
  case JSON_STRING:
    return msgpack_pack_str_with_body(pk, json_string_value(j),
                                      json_string_length(j));
  case JSON_ARRAY: {
    if (depth == 0)
      return -1;
    size_t i;
    json_t *e;
    msgpack_pack_array(pk, json_array_size(j));
    json_array_foreach(j, i, e) {
      if (pz_mpjson_pack(pk, e, depth - 1) != 0)
        return -1;
    }
    return 0;
  }
  case JSON_OBJECT: {
    if (depth == 0)
      return -1;
    const char *k;
    size_t klen;
    json_t *e;
    msgpack_pack_map(pk, json_object_size(j));
    json_object_keylen_foreach((json_t *)j, k, klen, e) {
      msgpack_pack_str_with_body(pk, k, klen);
      if (pz_mpjson_pack(pk, e, depth - 1) != 0)
        return -1;
    }
    return 0;
  }
  }
  return -1;
}
