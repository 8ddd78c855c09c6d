/* Claiming the node id (see node_claim.h). */
#include "node_claim.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define DRAWS 64

int pz_node_claim(const pz_redis_url_t *url, uint32_t want,
                  uint32_t (*draw)(void), const char *nonce, uint32_t ttl_ms,
                  uint32_t *node, char *why, size_t why_size) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
  if (!c || c->err) {
    snprintf(why, why_size, "cannot connect: %s",
             c ? c->errstr : "out of memory");
    redisFree(c);
    return PZ_EIO;
  }
  redisSetTimeout(c, tv);
  redisReply *r;
  if (url->has_password) {
    r = url->user[0] ? redisCommand(c, "AUTH %s %s", url->user, url->password)
                     : redisCommand(c, "AUTH %s", url->password);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (!ok) {
      snprintf(why, why_size, "AUTH refused");
      redisFree(c);
      return PZ_EIO;
    }
  }
  if (url->db) {
    r = redisCommand(c, "SELECT %d", url->db);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (!ok) {
      snprintf(why, why_size, "SELECT %d refused", url->db);
      redisFree(c);
      return PZ_EIO;
    }
  }
  int rc = PZ_EFULL;
  for (int i = 0; i < DRAWS; i++) {
    uint32_t id = want == UINT32_MAX ? draw() : want;
    r = redisCommand(c, "SET plaza:node:%u %s NX PX %u", id, nonce, ttl_ms);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      snprintf(why, why_size, "SET failed: %s",
               r ? r->str : (c->errstr[0] ? c->errstr : "no reply"));
      freeReplyObject(r);
      rc = PZ_EIO;
      break;
    }
    bool taken = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (taken) {
      *node = id;
      rc = 0;
      break;
    }
    if (want != UINT32_MAX) {
      snprintf(why, why_size, "node id %u is held by a live node", id);
      break;
    }
  }
  if (rc == PZ_EFULL && want == UINT32_MAX)
    snprintf(why, why_size, "no free node id after %d draws", DRAWS);
  redisFree(c);
  return rc;
}
