/* HS256 JWT verification (see jwt.h). */
#include "jwt.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN 32 /* HMAC-SHA256 */

static const char *const result_names[] = {
    "ok",
    "missing",
    "too_big",
    "malformed",
    "bad_alg",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "bad_claims",
    "wrong_issuer",
    "wrong_audience",
    "no_memory",
    "lifetime_too_long",
};

const char *pz_jwt_result_name(int result) {
  int i = -result;
  if (i < 0 || i >= (int)(sizeof(result_names) / sizeof(result_names[0])))
    return "unknown";
  return result_names[i];
}

/* ---- base64url ----------------------------------------------------------- */

static int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

long pz_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
  if (len % 4 == 1)
    return -1;
  size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  if (n > cap)
    return -1;
  uint32_t acc = 0;
  int bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_value(in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  /* Canonical: the bits left over must be zero, or two encodings would
   * carry the same bytes. */
  if (acc != 0)
    return -1;
  return (long)o;
}

/* ---- claims -------------------------------------------------------------- */

static bool room_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
}

/* A room name, or a prefix of one followed by '*'. */
static bool room_pattern_valid(const char *p, size_t len) {
  if (len < 1 || len > PZ_ROOM_NAME_MAX)
    return false;
  size_t body = p[len - 1] == '*' ? len - 1 : len;
  for (size_t i = 0; i < body; i++)
    if (!room_char(p[i]))
      return false;
  return true;
}

/* A NumericDate: integer or real, finite and not negative. */
static bool numeric_date(const json_t *v, double *out) {
  if (!json_is_number(v))
    return false;
  double d = json_number_value(v);
  if (!isfinite(d) || d < 0)
    return false;
  *out = d;
  return true;
}

static bool string_equals(const json_t *v, const char *want) {
  return json_is_string(v) && json_string_length(v) == strlen(want) &&
         memcmp(json_string_value(v), want, strlen(want)) == 0;
}

static int check_audience(const pz_jwt_config_t *cfg, const json_t *aud) {
  bool configured = cfg->audience && cfg->audience[0];
  if (!aud)
    return configured ? PZ_JWT_WRONG_AUDIENCE : PZ_JWT_OK;
  if (!json_is_string(aud) && !json_is_array(aud))
    return PZ_JWT_BAD_CLAIMS;
  /* RFC 7519 4.1.3: a token for an audience we do not claim to be is
   * refused, including when we claim none. */
  if (!configured)
    return PZ_JWT_WRONG_AUDIENCE;
  if (json_is_string(aud))
    return string_equals(aud, cfg->audience) ? PZ_JWT_OK
                                             : PZ_JWT_WRONG_AUDIENCE;
  size_t i;
  const json_t *item;
  json_array_foreach(aud, i, item) {
    if (!json_is_string(item))
      return PZ_JWT_BAD_CLAIMS;
    if (string_equals(item, cfg->audience))
      return PZ_JWT_OK;
  }
  return PZ_JWT_WRONG_AUDIENCE;
}

static int check_claims(const pz_jwt_config_t *cfg, const json_t *claims,
                        uint64_t now_s, double *exp_out) {
  if (!json_is_object(claims))
    return PZ_JWT_MALFORMED;
  double exp, nbf, now = (double)now_s, leeway = cfg->leeway_s;
  if (!numeric_date(json_object_get(claims, "exp"), &exp))
    return PZ_JWT_BAD_CLAIMS;
  if (now >= exp + leeway)
    return PZ_JWT_EXPIRED;
  const json_t *v;
  if (cfg->max_lifetime_s) {
    /* A signed token that never expires (exp 1e300) is a credential
     * forever if it leaks. Its lifetime runs from iat, or from now when it
     * has none or one still ahead (which would otherwise excuse any exp). */
    double from = now, iat;
    if ((v = json_object_get(claims, "iat"))) {
      if (!numeric_date(v, &iat))
        return PZ_JWT_BAD_CLAIMS;
      if (iat < now)
        from = iat;
    }
    if (exp - from > (double)cfg->max_lifetime_s + leeway)
      return PZ_JWT_TOO_LONG;
  }
  v = json_object_get(claims, "nbf");
  if (v) {
    if (!numeric_date(v, &nbf))
      return PZ_JWT_BAD_CLAIMS;
    if (now + leeway < nbf)
      return PZ_JWT_NOT_YET;
  }
  if (cfg->issuer && cfg->issuer[0] &&
      !string_equals(json_object_get(claims, "iss"), cfg->issuer))
    return PZ_JWT_WRONG_ISSUER;
  int r = check_audience(cfg, json_object_get(claims, "aud"));
  if (r != PZ_JWT_OK)
    return r;
  v = json_object_get(claims, "sub");
  if (!json_is_string(v) || json_string_length(v) < 1 ||
      json_string_length(v) > PZ_JWT_SUB_MAX)
    return PZ_JWT_BAD_CLAIMS;
  v = json_object_get(claims, "rooms");
  if (v) {
    if (!json_is_array(v))
      return PZ_JWT_BAD_CLAIMS;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
      if (!json_is_string(item) ||
          !room_pattern_valid(json_string_value(item),
                              json_string_length(item)))
        return PZ_JWT_BAD_CLAIMS;
    }
  }
  *exp_out = exp;
  return PZ_JWT_OK;
}

/* The grant of claims already checked. */
static pz_grant_t *grant_new(const json_t *claims, double exp) {
  const json_t *sub = json_object_get(claims, "sub");
  const json_t *rooms = json_object_get(claims, "rooms");
  size_t size = sizeof(pz_grant_t) + json_string_length(sub) + 1;
  size_t i;
  const json_t *item;
  json_array_foreach(rooms, i, item) size += json_string_length(item) + 1;
  pz_grant_t *g = calloc(1, size);
  if (!g)
    return NULL;
  char *p = g->data;
  g->sub = p;
  g->sub_len = (uint32_t)json_string_length(sub);
  memcpy(p, json_string_value(sub), g->sub_len + 1);
  p += g->sub_len + 1;
  g->rooms = p;
  g->rooms_limited = rooms != NULL;
  json_array_foreach(rooms, i, item) {
    memcpy(p, json_string_value(item), json_string_length(item) + 1);
    p += json_string_length(item) + 1;
    g->n_rooms++;
  }
  const json_t *name = json_object_get(claims, "name");
  if (json_is_string(name) && json_string_length(name) >= 1 &&
      json_string_length(name) <= PZ_NAME_MAX) {
    g->name_len = (uint8_t)json_string_length(name);
    memcpy(g->name, json_string_value(name), g->name_len);
  }
  /* Converting a double past the range of uint64_t is undefined. */
  g->expires_s = exp < 0x1p64 ? (uint64_t)exp : UINT64_MAX;
  return g;
}

/* ---- the token ----------------------------------------------------------- */

static json_t *decode_json(const char *b64, size_t len) {
  uint8_t buf[PZ_TOKEN_MAX];
  long n = pz_base64url_decode(b64, len, buf, sizeof(buf));
  if (n < 0)
    return NULL;
  return json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
}

static int check_header(const char *b64, size_t len) {
  json_t *h = decode_json(b64, len);
  if (!json_is_object(h)) {
    json_decref(h);
    return PZ_JWT_MALFORMED;
  }
  /* crit names extensions we would have to understand (RFC 7515 4.1.11). */
  int r = string_equals(json_object_get(h, "alg"), "HS256") &&
                  !json_object_get(h, "crit")
              ? PZ_JWT_OK
              : PZ_JWT_BAD_ALG;
  json_decref(h);
  return r;
}

static int check_signature(const pz_jwt_config_t *cfg, const char *token,
                           size_t signed_len, const char *b64, size_t len) {
  uint8_t got[SIG_LEN + 3];
  if (pz_base64url_decode(b64, len, got, sizeof(got)) != SIG_LEN)
    return PZ_JWT_MALFORMED;
  uint8_t want[EVP_MAX_MD_SIZE];
  unsigned int want_len = 0;
  if (!HMAC(EVP_sha256(), cfg->secret, (int)cfg->secret_len,
            (const unsigned char *)token, signed_len, want, &want_len) ||
      want_len != SIG_LEN)
    return PZ_JWT_NO_MEMORY;
  return CRYPTO_memcmp(got, want, SIG_LEN) == 0 ? PZ_JWT_OK
                                                : PZ_JWT_BAD_SIGNATURE;
}

int pz_jwt_verify(const pz_jwt_config_t *cfg, const char *token, size_t len,
                  uint64_t now_s, pz_grant_t **out) {
  *out = NULL;
  if (!token || len == 0)
    return PZ_JWT_MISSING;
  if (len > PZ_TOKEN_MAX)
    return PZ_JWT_TOO_BIG;
  const char *dot1 = memchr(token, '.', len);
  if (!dot1)
    return PZ_JWT_MALFORMED;
  const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
  if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
    return PZ_JWT_MALFORMED;
  const char *end = token + len;
  int r = check_header(token, (size_t)(dot1 - token));
  if (r != PZ_JWT_OK)
    return r;
  r = check_signature(cfg, token, (size_t)(dot2 - token), dot2 + 1,
                      (size_t)(end - dot2 - 1));
  if (r != PZ_JWT_OK)
    return r;
  json_t *claims = decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  if (!claims)
    return PZ_JWT_MALFORMED;
  double exp = 0;
  r = check_claims(cfg, claims, now_s, &exp);
  if (r == PZ_JWT_OK) {
    *out = grant_new(claims, exp);
    if (!*out)
      r = PZ_JWT_NO_MEMORY;
  }
  json_decref(claims);
  return r;
}

bool pz_grant_allows_room(const pz_grant_t *g, const char *room, size_t len) {
  if (!g->rooms_limited)
    return true;
  const char *p = g->rooms;
  for (uint32_t i = 0; i < g->n_rooms; i++) {
    size_t plen = strlen(p);
    if (plen && p[plen - 1] == '*') {
      if (len >= plen - 1 && memcmp(room, p, plen - 1) == 0)
        return true;
    } else if (plen == len && memcmp(room, p, len) == 0) {
      return true;
    }
    p += plen + 1;
  }
  return false;
}
