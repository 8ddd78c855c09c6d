/*
 * The node's duties, on worker 0's link: every PZ_CLUSTER_HEARTBEAT_MS one
 * script renews plaza:node:<node> (PX PZ_CLUSTER_NODE_TTL_MS) and reaps,
 * a batch at a time, what dead nodes left: their members are parked for
 * the grace period (a resume anywhere takes them back; the others see no
 * LEFT meanwhile) and their session records cut to it; parked members
 * whose grace ended get LEFT. Every live node runs it; each step is
 * idempotent, so they share the work.
 *
 * A node whose key had expired (Redis paused past the TTL, a partition)
 * finds its members parked and its records cut: it takes the key again and
 * every worker tells Redis again who is here.
 */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "log.h"
#include "scripts.h"

static void on_heartbeat(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pd;
  redisReply *r = reply;
  if (!r || cw->closing)
    return;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
      r->element[0]->type != REDIS_REPLY_INTEGER) {
    pz_warn("redis: heartbeat failed: %s",
            r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return;
  }
  long long status = r->element[0]->integer;
  long long left =
      r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 0;
  long long parked =
      r->element[2]->type == REDIS_REPLY_INTEGER ? r->element[2]->integer : 0;
  if (status == 0) {
    pz_error("redis: node id %u is now held by another process: ids may "
             "collide; restart this node",
             cw->cl->node);
  } else if (status == 2) {
    pz_warn("redis: node id %u had expired (Redis paused or out of reach "
            "past %d ms): taken again; telling the cluster again who is here",
            cw->cl->node, PZ_CLUSTER_NODE_TTL_MS);
    atomic_fetch_add_explicit(&cw->cl->retake, 1, memory_order_release);
  }
  if (parked)
    pz_info("redis: %lld members of dead nodes parked for their grace period",
            parked);
  if (left)
    pz_info("redis: %lld parked members left (grace period over)", left);
}

void pz_heartbeat(pz_cwork_t *cw) {
  pz_cluster_t *cl = cw->cl;
  char node[16], ttl[16], grace[16], batch[16], rttl[16];
  const char *args[] = {node, cl->nonce, ttl, grace, batch, rttl};
  size_t lens[] = {
      (size_t)snprintf(node, sizeof(node), "%u", cl->node),
      strlen(cl->nonce),
      (size_t)snprintf(ttl, sizeof(ttl), "%u", PZ_CLUSTER_NODE_TTL_MS),
      (size_t)snprintf(grace, sizeof(grace), "%u", cl->grace_ms),
      (size_t)snprintf(batch, sizeof(batch), "%u", PZ_CLUSTER_REAP_BATCH),
      (size_t)snprintf(rttl, sizeof(rttl), "%u", cl->room_ttl_ms),
  };
  pz_cluster_eval(cw, on_heartbeat, cw, pz_script_heartbeat, 6, args, lens);
}

void pz_heartbeat_release(pz_cwork_t *cw) {
  char node[16];
  const char *args[] = {node, cw->cl->nonce};
  size_t lens[] = {(size_t)snprintf(node, sizeof(node), "%u", cw->cl->node),
                   strlen(cw->cl->nonce)};
  pz_cluster_eval(cw, NULL, NULL, pz_script_release, 2, args, lens);
}
