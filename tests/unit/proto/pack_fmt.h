/*
 * A MessagePack packer driven by a format string, shared by the codec
 * tests so each can build messages (valid or broken) in one line.
 */
#ifndef PZ_TEST_PACK_FMT_H
#define PZ_TEST_PACK_FMT_H

#include <stdarg.h>
#include <string.h>

#include <msgpack.h>

/* Packs values by a format: a array(unsigned) m map(unsigned) u unsigned
 * U uint64_t i int I int64_t f float32(double) d float64 s str b bin
 * n nil t true F false; spaces are ignored. */
static inline void pack_v(msgpack_packer *pk, const char *fmt, va_list ap) {
  for (; *fmt; fmt++) {
    switch (*fmt) {
    case ' ':
      break;
    case 'a':
      msgpack_pack_array(pk, va_arg(ap, unsigned));
      break;
    case 'm':
      msgpack_pack_map(pk, va_arg(ap, unsigned));
      break;
    case 'u':
      msgpack_pack_uint64(pk, va_arg(ap, unsigned));
      break;
    case 'U':
      msgpack_pack_uint64(pk, va_arg(ap, uint64_t));
      break;
    case 'i':
      msgpack_pack_int64(pk, va_arg(ap, int));
      break;
    case 'I':
      msgpack_pack_int64(pk, va_arg(ap, int64_t));
      break;
    case 'f':
      msgpack_pack_float(pk, (float)va_arg(ap, double));
      break;
    case 'd':
      msgpack_pack_double(pk, va_arg(ap, double));
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      msgpack_pack_str_with_body(pk, s, strlen(s));
      break;
    }
    case 'b': {
      const char *s = va_arg(ap, const char *);
      msgpack_pack_bin_with_body(pk, s, strlen(s));
      break;
    }
    case 'n':
      msgpack_pack_nil(pk);
      break;
    case 't':
      msgpack_pack_true(pk);
      break;
    case 'F':
      msgpack_pack_false(pk);
      break;
    default:
      fail_msg("bad pack format '%c'", *fmt);
    }
  }
}

static inline void pack(msgpack_packer *pk, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pack_v(pk, fmt, ap);
  va_end(ap);
}

#endif
