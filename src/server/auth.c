/* Process-wide auth state (see auth.h). */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>
#include <uv.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "origin.h"
#include "ratelimit.h"

#define ADMIN_FAIL_LIMIT 5
#define ADMIN_FAIL_WINDOW_MS 10000
#define ADMIN_FAIL_SLOTS 256 /* addresses remembered; the stalest goes */
#define SHORT_KEY 32         /* RFC 7518 3.2: at least the hash's size */
/* Client addresses whose upgrades are counted (--connect-rate): sets of
 * CONNECT_WAYS slots by a hash of the address, the least recently used
 * slot of its set given to a new address. A forgotten address starts
 * with a full bucket again, so pressure on the table only ever makes the
 * limit more lenient, never refuses anyone it should not. */
#define CONNECT_SLOTS 4096
#define CONNECT_WAYS 4

typedef struct user_count {
  UT_hash_handle hh;
  uint32_t sessions;
  uint32_t sub_len;
  char sub[]; /* the key */
} user_count_t;

typedef struct connect_slot {
  pz_ip_t ip; /* family 0: free */
  pz_bucket_t bucket;
} connect_slot_t;

typedef struct admin_failures {
  char ip[48]; /* "" when free */
  uint64_t since_ms;
  uint32_t count;
} admin_failures_t;

struct pz_auth {
  const pz_config_t *cfg;
  pz_jwt_config_t jwt;
  uv_mutex_t users_lock;
  user_count_t *users;
  uv_mutex_t admin_lock;
  admin_failures_t failures[ADMIN_FAIL_SLOTS];
  uv_mutex_t connect_lock;
  connect_slot_t *connects; /* CONNECT_SLOTS; NULL without --connect-rate */
};

pz_auth_t *pz_auth_create(const pz_config_t *cfg) {
  pz_auth_t *a = pz_xcalloc(1, sizeof(*a));
  a->cfg = cfg;
  a->jwt = (pz_jwt_config_t){
      .secret = (const uint8_t *)cfg->jwt_secret,
      .secret_len = strlen(cfg->jwt_secret),
      .leeway_s = cfg->jwt_leeway_s,
      .max_lifetime_s = cfg->jwt_max_lifetime_s,
      .issuer = cfg->jwt_issuer,
      .audience = cfg->jwt_audience,
  };
  uv_mutex_init(&a->users_lock);
  uv_mutex_init(&a->admin_lock);
  uv_mutex_init(&a->connect_lock);
  if (cfg->connect_rate > 0)
    a->connects = pz_xcalloc(CONNECT_SLOTS, sizeof(*a->connects));
  if (pz_auth_required(a)) {
    if (cfg->jwt_max_lifetime_s)
      pz_info("HELLO requires an HS256 JWT (leeway %u s, lifetime at most %u "
              "s)",
              cfg->jwt_leeway_s, cfg->jwt_max_lifetime_s);
    else
      pz_info("HELLO requires an HS256 JWT (leeway %u s, any lifetime)",
              cfg->jwt_leeway_s);
    if (a->jwt.secret_len < SHORT_KEY)
      pz_warn("the JWT key is shorter than %d bytes: use a longer random one",
              SHORT_KEY);
    if (pz_origins_open(cfg->allowed_origins))
      pz_warn("a JWT is required but any Origin may upgrade: set "
              "--allowed-origins to the front end's origin");
  }
  return a;
}

void pz_auth_destroy(pz_auth_t *a) {
  user_count_t *u, *tmp;
  HASH_ITER(hh, a->users, u, tmp) {
    HASH_DEL(a->users, u);
    free(u);
  }
  uv_mutex_destroy(&a->users_lock);
  uv_mutex_destroy(&a->admin_lock);
  uv_mutex_destroy(&a->connect_lock);
  free(a->connects);
  free(a);
}

bool pz_auth_required(const pz_auth_t *a) {
  return a->jwt.secret_len > 0;
}

int pz_auth_verify(const pz_auth_t *a, pz_str_t token, pz_grant_t **grant) {
  return pz_jwt_verify(&a->jwt, token.ptr, token.ptr ? token.len : 0,
                       pz_wall_ms() / 1000, grant);
}

/* ---- sessions per user --------------------------------------------------- */

bool pz_auth_user_acquire(pz_auth_t *a, const pz_grant_t *g) {
  uint32_t max = a->cfg->max_sessions_per_user;
  bool ok = true;
  uv_mutex_lock(&a->users_lock);
  user_count_t *u;
  HASH_FIND(hh, a->users, g->sub, g->sub_len, u);
  if (!u) {
    u = pz_xcalloc(1, sizeof(*u) + g->sub_len);
    u->sub_len = g->sub_len;
    memcpy(u->sub, g->sub, g->sub_len);
    HASH_ADD(hh, a->users, sub, u->sub_len, u);
  }
  if (max && u->sessions >= max)
    ok = false;
  else
    u->sessions++;
  uv_mutex_unlock(&a->users_lock);
  return ok;
}

void pz_auth_user_release(pz_auth_t *a, const pz_grant_t *g) {
  uv_mutex_lock(&a->users_lock);
  user_count_t *u;
  HASH_FIND(hh, a->users, g->sub, g->sub_len, u);
  if (u && --u->sessions == 0) {
    HASH_DEL(a->users, u);
    free(u);
  }
  uv_mutex_unlock(&a->users_lock);
}

/* ---- the admin token ------------------------------------------------------
 */

/* Equal without a timing difference, whatever the lengths: the digests of
 * both are compared in constant time. */
static bool token_equal(const char *got, size_t got_len, const char *want) {
  unsigned char dg[EVP_MAX_MD_SIZE], dw[EVP_MAX_MD_SIZE];
  unsigned int lg = 0, lw = 0;
  if (!EVP_Digest(got, got_len, dg, &lg, EVP_sha256(), NULL) ||
      !EVP_Digest(want, strlen(want), dw, &lw, EVP_sha256(), NULL))
    return false;
  return lg == lw && CRYPTO_memcmp(dg, dw, lg) == 0;
}

/* The failure record of ip, or the slot to reuse for it (admin_lock). */
static admin_failures_t *failures_of(pz_auth_t *a, const char *ip,
                                     bool create) {
  admin_failures_t *stalest = NULL;
  for (int i = 0; i < ADMIN_FAIL_SLOTS; i++) {
    admin_failures_t *f = &a->failures[i];
    if (f->ip[0] && strcmp(f->ip, ip) == 0)
      return f;
    if (!stalest || !f->ip[0] ||
        (stalest->ip[0] && f->since_ms < stalest->since_ms))
      stalest = f;
  }
  if (!create)
    return NULL;
  memset(stalest, 0, sizeof(*stalest));
  strncpy(stalest->ip, ip, sizeof(stalest->ip) - 1);
  return stalest;
}

int pz_auth_admin_check(pz_auth_t *a, const char *authorization, const char *ip,
                        uint64_t now_ms) {
  if (!a->cfg->admin_token[0])
    return 404;
  uv_mutex_lock(&a->admin_lock);
  admin_failures_t *f = failures_of(a, ip, false);
  if (f && now_ms - f->since_ms >= ADMIN_FAIL_WINDOW_MS)
    f->count = 0; /* the window has passed */
  if (f && f->count >= ADMIN_FAIL_LIMIT) {
    uv_mutex_unlock(&a->admin_lock);
    return 429;
  }
  const char *tok = "";
  if (strncasecmp(authorization, "Bearer ", 7) == 0) {
    tok = authorization + 7;
    while (*tok == ' ')
      tok++;
  }
  if (*tok && token_equal(tok, strlen(tok), a->cfg->admin_token)) {
    uv_mutex_unlock(&a->admin_lock);
    return 0;
  }
  f = failures_of(a, ip, true);
  if (f->count == 0)
    f->since_ms = now_ms;
  uint32_t n = ++f->count;
  uv_mutex_unlock(&a->admin_lock);
  pz_warn("admin: %s token from %s refused (%u failures within %d s)",
          *tok ? "wrong" : "no", ip, n, ADMIN_FAIL_WINDOW_MS / 1000);
  return 401;
}

/* ---- upgrades per client address ----------------------------------------- */

static uint32_t ip_hash(const pz_ip_t *ip) {
  uint32_t h = 2166136261u ^ ip->family;
  for (int i = 0; i < 16; i++)
    h = (h ^ ip->b[i]) * 16777619u;
  return h;
}

bool pz_auth_connect_allowed(pz_auth_t *a, const pz_ip_t *ip, uint64_t now_ms) {
  double rate = a->cfg->connect_rate, burst = a->cfg->connect_burst;
  if (!a->connects)
    return true;
  connect_slot_t *set =
      &a->connects[(ip_hash(ip) % (CONNECT_SLOTS / CONNECT_WAYS)) *
                   CONNECT_WAYS];
  uv_mutex_lock(&a->connect_lock);
  connect_slot_t *slot = NULL, *victim = NULL;
  for (int i = 0; i < CONNECT_WAYS; i++) {
    connect_slot_t *e = &set[i];
    if (e->ip.family && pz_ip_equal(&e->ip, ip)) {
      slot = e;
      break;
    }
    /* A free slot, else the one whose address came least recently. */
    if (!victim ||
        (victim->ip.family &&
         (!e->ip.family || e->bucket.last_ms < victim->bucket.last_ms)))
      victim = e;
  }
  if (!slot) {
    slot = victim;
    slot->ip = *ip;
    pz_bucket_init(&slot->bucket, burst, now_ms);
  }
  bool ok = pz_bucket_take(&slot->bucket, rate, burst, now_ms);
  uv_mutex_unlock(&a->connect_lock);
  return ok;
}
