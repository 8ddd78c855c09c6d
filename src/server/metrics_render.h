/* /metrics: the Prometheus text exposition of every worker's counters. */
#ifndef PZ_METRICS_RENDER_H
#define PZ_METRICS_RENDER_H

#include <stddef.h>

struct pz_server;
/* Any thread: renders into a malloc'd string (caller frees); *len gets its
 * length. Reads the workers' counters with relaxed loads. */
char *pz_metrics_render(struct pz_server *srv, size_t *len);

#endif
