/*
 * HTTP endpoints on the WebSocket port: /healthz, /metrics, /rooms.
 * /rooms gathers every worker's rooms through their inboxes and answers
 * when the last part arrives.
 */
#ifndef PZ_ENDPOINTS_H
#define PZ_ENDPOINTS_H

struct pz_conn;
struct pz_worker;
struct pz_msg_gather;

/* Answers (now or after a gather) a request head already parsed. */
void pz_endpoints_handle(struct pz_conn *c, int method, const char *path);
/* Inbox: PZ_MSG_GATHER (report rooms) and PZ_MSG_GATHER_PART (collect). */
void pz_endpoints_on_gather(struct pz_worker *w, struct pz_msg_gather *m);
/* The connection waiting for a gather is gone. */
void pz_endpoints_conn_gone(struct pz_conn *c);

#endif
