/*
 * Who may connect and who may administer, process-wide: the JWT key and
 * checks for HELLO, the count of sessions per user (--max-sessions-per-
 * user), the admin token with its per-address limit on failed
 * attempts, and the rate of upgrades per client address (--connect-rate).
 * Created by main before the workers start; the key and tokens are read-only
 * afterwards, the two tables are guarded by their own mutexes (HELLO and admin
 * requests only, never the per-message path).
 */
#ifndef PZ_AUTH_H
#define PZ_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "config.h"
#include "jwt.h"
#include "plaza/codec.h"

typedef struct pz_auth pz_auth_t;

/* From the configuration (borrowed for the auth's life); logs the
 * warnings an operator should see once (a short key, origins left open
 * while tokens are required). */
pz_auth_t *pz_auth_create(const pz_config_t *cfg);
void pz_auth_destroy(pz_auth_t *a);

/* True when HELLO must carry a JWT (--jwt-secret is set). */
bool pz_auth_required(const pz_auth_t *a);
/* Any worker: verifies HELLO's token now. PZ_JWT_OK and *grant (caller
 * owns it), or the reason (for a debug log only). */
int pz_auth_verify(const pz_auth_t *a, pz_str_t token, pz_grant_t **grant);

/* Any worker: counts one more session of g's user. False, and nothing
 * counted, when that would pass --max-sessions-per-user. */
bool pz_auth_user_acquire(pz_auth_t *a, const pz_grant_t *g);
/* Any worker: the session of g's user is gone. */
void pz_auth_user_release(pz_auth_t *a, const pz_grant_t *g);

/* Any worker: may the request with this Authorization header value from
 * the client address `ip` (text, no port: pz_conn_addr) use the admin
 * API? 0 yes; 404 when no admin token is configured; 401 wrong or missing
 * token; 429 when the address failed too often lately (then the token is
 * not even compared). Failures are logged with the address, never with
 * what was sent. */
int pz_auth_admin_check(pz_auth_t *a, const char *authorization, const char *ip,
                        uint64_t now_ms);

/* Any worker: one more WebSocket upgrade from client address ip. False
 * when it would pass --connect-rate (per second, --connect-burst at
 * once); always true without the limit. */
bool pz_auth_connect_allowed(pz_auth_t *a, const pz_ip_t *ip, uint64_t now_ms);

#endif
