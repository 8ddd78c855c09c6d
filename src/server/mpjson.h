/*
 * App values (MessagePack) to and from JSON, for the admin API: reading a
 * room's state, sending a SIGNAL with JSON data.
 *
 * JSON has no bytes, extension types, non-string map keys, NaN or
 * infinities, so MessagePack -> JSON writes bin as {"$bin": "<base64>"},
 * ext as {"$ext": type, "data": "<base64>"}, a str that is not UTF-8 as
 * bin, an integer map key as its decimal string, and NaN or an infinity
 * as null. JSON -> MessagePack is exact: objects are maps of str keys,
 * integers go out in the smallest width, reals as float64.
 */
#ifndef PZ_MPJSON_H
#define PZ_MPJSON_H

#include <jansson.h>

#include "plaza/codec.h"

/* A new JSON value for the MessagePack value v, or NULL when v is not one
 * well-formed value (or nests deeper than MessagePack can unpack). */
json_t *pz_mpjson_from(pz_raw_t v);
/* Packs j; -1 (and a partial value in pk) when j nests containers deeper
 * than `depth`. */
int pz_mpjson_pack(msgpack_packer *pk, const json_t *j, int depth);

#endif
