/*
 * HS256 JSON Web Tokens (RFC 7519) as HELLO carries them: a sans-I/O
 * verifier over OpenSSL's HMAC-SHA256 and jansson, and what a valid token
 * grants (the user, a display name, the rooms it may join).
 *
 * Design note: the verifier is strict and says why it refused only to its
 * caller (for a debug log); the wire never learns which check failed. The
 * header is checked before the signature, the signature before the claims
 * are even parsed, so an attacker's JSON reaches the claim parser only with
 * a valid signature. alg must be exactly "HS256": no "none", no other
 * algorithm, no key confusion. Base64url must be canonical and unpadded.
 */
#ifndef PZ_JWT_H
#define PZ_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plaza/protocol.h"

typedef struct pz_jwt_config {
  const uint8_t *secret; /* the HMAC key (borrowed), never empty */
  size_t secret_len;
  uint32_t leeway_s;    /* clock skew allowed on exp and nbf */
  const char *issuer;   /* NULL or "": iss is not checked */
  const char *audience; /* NULL or "": a token with aud is refused */
  /* Longest lifetime accepted: exp - iat, or exp - now when there is no
   * iat or it is later than now (plus leeway_s). 0: any. */
  uint32_t max_lifetime_s;
} pz_jwt_config_t;

/* Why a token was refused (0: it was not). Named by pz_jwt_result_name. */
enum pz_jwt_result {
  PZ_JWT_OK = 0,
  PZ_JWT_MISSING = -1,       /* no token */
  PZ_JWT_TOO_BIG = -2,       /* over PZ_TOKEN_MAX bytes */
  PZ_JWT_MALFORMED = -3,     /* not three base64url parts, or bad JSON */
  PZ_JWT_BAD_ALG = -4,       /* alg is not HS256, or crit is present */
  PZ_JWT_BAD_SIGNATURE = -5, /* HMAC mismatch */
  PZ_JWT_EXPIRED = -6,       /* exp (+ leeway) passed */
  PZ_JWT_NOT_YET = -7,       /* nbf (- leeway) still ahead */
  PZ_JWT_BAD_CLAIMS = -8,    /* exp or sub missing, a claim of a bad type */
  PZ_JWT_WRONG_ISSUER = -9,
  PZ_JWT_WRONG_AUDIENCE = -10,
  PZ_JWT_NO_MEMORY = -11,
  PZ_JWT_TOO_LONG = -12, /* exp too far from iat (or now): max_lifetime_s */
};

/* Longest `sub` accepted, in bytes. */
#define PZ_JWT_SUB_MAX 255

/* What a valid token grants. One allocation: free() it. Strings are valid
 * UTF-8 without NUL (jansson guarantees it) and NUL-terminated. */
typedef struct pz_grant {
  const char *sub; /* the user: 1..PZ_JWT_SUB_MAX bytes */
  uint32_t sub_len;
  uint8_t name_len; /* 0: no usable name claim (missing, empty, too long) */
  char name[PZ_NAME_MAX + 1];
  bool rooms_limited; /* a rooms claim was present */
  uint32_t n_rooms;   /* patterns in `rooms` */
  const char *rooms;  /* n_rooms NUL-terminated patterns, back to back */
  uint64_t expires_s; /* exp (UINT64_MAX when beyond) */
  char data[];        /* sub and rooms live here */
} pz_grant_t;

/* Verifies `token` (len bytes, borrowed) at wall-clock time now_s. On
 * PZ_JWT_OK *out is a new grant (caller frees); otherwise *out is NULL and
 * the result says why. Thread-safe; allocates only through malloc. */
int pz_jwt_verify(const pz_jwt_config_t *cfg, const char *token, size_t len,
                  uint64_t now_s, pz_grant_t **out);

/* "bad_signature" etc., for logs and tests; never sent to a client. */
const char *pz_jwt_result_name(int result);

/* True when the grant lets its holder into `room`: no rooms claim, or a
 * pattern equal to it, or a pattern "prefix*" it starts with ("*": any). */
bool pz_grant_allows_room(const pz_grant_t *g, const char *room, size_t len);

/* Decodes unpadded, canonical base64url into out (cap bytes). Returns the
 * decoded length, or -1 on any other input or when cap is too small. */
long pz_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
