/*
 * App values (MessagePack) to and from JSON: the server's admin API reads
 * a room's state and sends a SIGNAL with JSON data; plaza-cli reads what
 * is typed as JSON and prints what arrives as JSON. Part of the codec
 * library (libplaza-proto.a), linked only by who calls it: it needs
 * jansson (pkg-config jansson) and OpenSSL's libcrypto (base64).
 *
 * JSON has no bytes, extension types, non-string map keys, NaN or
 * infinities, so MessagePack -> JSON writes bin as {"$bin": "<base64>"},
 * ext as {"$ext": type, "data": "<base64>"}, a str that is not UTF-8 as
 * bin, an integer map key as its decimal string, and NaN or an infinity
 * as null. JSON -> MessagePack is exact: objects are maps of str keys,
 * integers go out in the smallest width, reals as float64.
 */
#ifndef PLAZA_JSON_H
#define PLAZA_JSON_H

#include <jansson.h>

#include "plaza/codec.h"

/* A new JSON value (the caller's: json_decref) for the MessagePack value
 * v (borrowed; ptr NULL reads as nil), or NULL when v is not one
 * well-formed value (or nests deeper than MessagePack can unpack). Any
 * thread. */
json_t *pz_mpjson_from(pz_raw_t v);
/* Packs j (borrowed) into pk; -1 (and a partial value in pk) when j nests
 * containers deeper than `depth`. */
int pz_mpjson_pack(msgpack_packer *pk, const json_t *j, int depth);

#endif
